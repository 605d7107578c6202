FROM alpine:3.20
ADD app.py /app/
USER 10001
CMD ["app"]
