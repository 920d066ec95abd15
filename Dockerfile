# syntax=docker/dockerfile:1
# idp-egress container image. Build: docker build -t idp-egress .
# Run:   docker run -p 3128:3128 -p 9090:9090 -v idp-egress-certs:/app/certs idp-egress

# Build stage: compile the TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# Runtime stage: production dependencies, the compiled code and the policy packs only.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY policies ./policies
COPY deploy/idp-egress.yaml /etc/idp-egress/idp-egress.yaml
# The CA is created on first start: keep it on a volume (or mount it from a Secret) so that every
# restart and replica presents the CA the Atlassian servers trust.
RUN mkdir -p /app/certs /app/logs && chown node:node /app/certs /app/logs
USER node
VOLUME ["/app/certs", "/app/logs"]
EXPOSE 3128 9090
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains in-flight requests (limits.shutdownGrace), flushes the audit log and exits 0.
STOPSIGNAL SIGTERM
# The node options every shipped start passes, and why: src/core/gc-tuning.ts (GATEWAY_NODE_OPTIONS).
ENTRYPOINT ["node", "--max-semi-space-size=32", "--min-semi-space-size=32", "--initial-old-space-size=64", "dist/src/cli/main.js"]
CMD ["serve", "--config", "/etc/idp-egress/idp-egress.yaml"]
