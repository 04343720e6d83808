# Packyard production image. Build: docker build -t packyard .
# Run:   docker run -d -p 8080:8080 -v packyard-data:/app/storage packyard
# Admin: docker exec <container> packyard account create alice

# Node.js 24 (LTS), the same major the tests and CI run on, and the dependencies exactly as
# package-lock.json records them (`npm ci`): the image ships what was tested. better-sqlite3 13
# ships prebuilt N-API addons for linux x64/arm64 (glibc and musl), so no compiler is needed.
ARG NODE_MAJOR=24

# --- build: install dependencies, compile TypeScript, then drop dev dependencies
FROM node:${NODE_MAJOR}-bookworm-slim AS build
# tini is only fetched here; the runtime stage copies its static binary and needs no apt.
# No compiler: better-sqlite3 13 ships prebuilt N-API addons for linux x64/arm64 (glibc, musl)
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` build needs the sources, copied below; no dependency has an
# install step (better-sqlite3 13 loads its prebuilt addon from prebuilds/)
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force
# keep only the prebuilt addon better-sqlite3 loads on this platform, not SQLite's sources or
# the other platforms' addons (~25 MB); fails the build if there is none, then opens a database
RUN set -e; cd node_modules/better-sqlite3; \
    addon=$(node -p "require('./lib/binding.js').getPrebuildPath() || ''"); \
    if [ -z "$addon" ]; then echo "better-sqlite3 has no prebuilt addon for $(uname -m)" >&2; exit 1; fi; \
    mv "$addon" /tmp/; \
    rm -rf build deps src binding.gyp prebuilds; \
    mkdir prebuilds; \
    mv "/tmp/$(basename "$addon")" prebuilds/; \
    cd /app; \
    node -e "const D = require('better-sqlite3'); const db = new D(':memory:'); \
      console.log('Node', process.version, 'better-sqlite3', require('better-sqlite3/package.json').version, \
        'SQLite', db.prepare('select sqlite_version() v').get().v); db.close()"

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
