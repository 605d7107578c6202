FROM debian
USER 10001
CMD ["app"]
