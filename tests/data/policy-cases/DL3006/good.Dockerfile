FROM debian:12 AS base
FROM base
USER 10001
CMD ["app"]
