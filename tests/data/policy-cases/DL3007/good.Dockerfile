FROM debian:12@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc
USER 10001
CMD ["app"]
