FROM alpine:3.20
# shiplane ignore=DL3018 tracks the distro's security fixes on purpose
RUN apk add --no-cache curl
USER 10001
CMD ["app"]
