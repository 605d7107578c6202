FROM alpine:3.20
ENV TOKEN_FILE=/run/secrets/token LOG_LEVEL=info
RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null
USER 10001
CMD ["app"]
