FROM alpine:3.20
# shiplane ignore=DL9999 typo
RUN apk add --no-cache curl=8.9.1-r0
USER 10001
CMD ["app"]
