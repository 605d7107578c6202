FROM python:3.12-slim
RUN pip install -r requirements.txt
USER 10001
CMD ["app"]
