# One image for both apps (and the CLI); APP picks which one runs.
# Node 24 (LTS): the version CI's node-lts leg tests (.ci/run, NODE_LTS).
FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY nest-cli.json tsconfig.json ./
COPY scripts scripts
COPY apps apps
COPY libs libs
RUN npm run build && npm prune --omit=dev

FROM node:24-trixie-slim
ENV NODE_ENV=production APP=gateway
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
USER node
EXPOSE 3000 3001
# exec: the app gets SIGTERM itself and drains before exiting 0
CMD ["sh", "-c", "exec node dist/apps/$APP/main.js"]
