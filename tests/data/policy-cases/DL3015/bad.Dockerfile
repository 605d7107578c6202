FROM debian:12
RUN apt-get update && apt-get install -y curl=7.88.1-10 && rm -rf /var/lib/apt/lists/*
USER 10001
CMD ["app"]
