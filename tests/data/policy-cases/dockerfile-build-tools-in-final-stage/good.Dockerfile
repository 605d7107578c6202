FROM python:3.12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc=4:12.2.0-3 libpq-dev=15.8-0
RUN pip wheel --no-cache-dir -w /wheels psycopg==3.2.1
FROM python:3.12-slim
COPY --from=build /wheels /wheels
USER 10001
CMD ["app"]
