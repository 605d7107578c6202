FROM debian:12
RUN echo sudo is a word here
USER 10001
CMD ["app"]
