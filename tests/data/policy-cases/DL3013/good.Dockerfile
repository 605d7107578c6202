FROM python:3.12-slim
RUN pip install --no-cache-dir flask==3.0.3 && pip install --no-cache-dir -r requirements.txt
USER 10001
CMD ["app"]
