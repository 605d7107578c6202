FROM python:3.12-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 libpq-dev=15.8-0 && rm -rf /var/lib/apt/lists/*
USER 10001
CMD ["app"]
