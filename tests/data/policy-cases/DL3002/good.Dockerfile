FROM alpine:3.20
USER root
RUN echo hi
USER 10001
CMD ["app"]
