FROM alpine:3.20
# shiplane ignore=DL3018
RUN apk add --no-cache curl
USER 10001
CMD ["app"]
