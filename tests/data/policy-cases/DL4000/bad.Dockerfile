FROM alpine:3.20
MAINTAINER someone@example.com
USER 10001
CMD ["app"]
