FROM alpine:3.20
LABEL org.opencontainers.image.authors="someone@example.com"
USER 10001
CMD ["app"]
