FROM node:20-slim
RUN npm install -g typescript@5.5.4 && npm ci
USER 10001
CMD ["app"]
