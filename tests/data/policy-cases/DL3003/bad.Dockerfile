FROM alpine:3.20
RUN cd /app && make
USER 10001
CMD ["app"]
