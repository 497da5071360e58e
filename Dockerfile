# One production image for the API and the workers; the command picks the role:
#   node src/main.ts     the API (with WORKER_IN_PROCESS=false beside `worker` services)
#   node src/worker.ts   a worker process
# Node runs the TypeScript sources itself (type stripping): no compiler in the image.

# ── build: every dependency, because the install generates the Prisma client, makes the embedded
# ledger's template and builds the dashboard; then only the production dependencies are kept.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY src ./src
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund

# ── runtime: production dependencies, the sources, the built dashboard; a user without rights.
FROM node:24-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/tsconfig.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/src ./src
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma ./prisma
COPY bin ./bin
# The embedded ledger (no DATABASE_URL) lives here: mount a volume to keep it.
RUN mkdir -p /app/.jobgraph && chown node:node /app/.jobgraph
USER node
# With API_TOKENS the API listens on every interface (HOST unset); without them on the
# container's loopback only, out of reach of a published port (see README, HOST).
EXPOSE 4000
# /ready: the ledger answers and a queue takes jobs (the worker image has no listener: override).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT ?? 4000}/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini is PID 1: it hands SIGTERM to Node (whose handler hands jobs back, then exits) and reaps
# the processes `npm start`-style supervision leaves.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "src/main.ts"]
