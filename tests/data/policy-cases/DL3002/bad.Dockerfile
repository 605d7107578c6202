FROM alpine:3.20
USER 10001
RUN echo hi
USER root
CMD ["app"]
