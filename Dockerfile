# Packyard production image. Build: docker build -t packyard .
# Run:   docker run -d -p 8080:8080 -v packyard-data:/app/storage packyard
# Admin: docker exec <container> packyard account create alice

# Node.js 22 (LTS), not 24: better-sqlite3 12 (the newest line that still runs on the Node 20
# this project supports) aborts on Node >= 24.19 when the GC finalizes a statement outside a
# JavaScript context ("Assertion failed: (env) != nullptr" in RemoveEnvironmentCleanupHook,
# WiseLibs/better-sqlite3#1515); here `packyard serve` died at start-up on 24.21. Node 24
# needs better-sqlite3 13, which needs Node >= 22 everywhere.
ARG NODE_MAJOR=22

# --- build: compile TypeScript and the better-sqlite3 native addon, then drop dev dependencies
FROM node:${NODE_MAJOR}-bookworm-slim AS build
# tini is only fetched here; the runtime stage copies its static binary and needs no apt
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force
# keep only the compiled addon of better-sqlite3, not its sources and object files (~25 MB)
RUN cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

# --- runtime: Node.js, production dependencies, compiled code and migrations; nothing else
FROM node:${NODE_MAJOR}-bookworm-slim
# tini is PID 1: it forwards SIGTERM/SIGINT to Node and reaps zombies (what docker run --init does)
COPY --from=build /usr/bin/tini-static /usr/bin/tini
ENV NODE_ENV=production \
    PACKYARD_DATA_DIR=/app/storage \
    PACKYARD_HOST=0.0.0.0 \
    PACKYARD_PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY bin ./bin
# `packyard …` on PATH, for `docker exec <container> packyard …`; /app/backups is where
# `packyard backup` writes when a volume is mounted there (owned by node, like /app/storage)
RUN chmod 0755 bin/packyard.js \
 && ln -s /app/bin/packyard.js /usr/local/bin/packyard \
 && mkdir -p /app/storage /app/backups \
 && chown node:node /app/storage /app/backups
USER node
# SQLite database and archives; a new named volume inherits the node user's ownership
VOLUME ["/app/storage"]
EXPOSE 8080
# needs nothing but Node itself (no curl/wget in the image)
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PACKYARD_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "packyard"]
CMD ["serve"]
