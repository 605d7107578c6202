FROM alpine:3.20
WORKDIR /app
RUN echo built
USER 10001
CMD ["app"]
