FROM node:20-slim
RUN npm install -g typescript
USER 10001
CMD ["app"]
