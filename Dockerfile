# Damselfly node image: one process per host, proxy on :65001, admin on :65002, libp2p on :65100.
#
#   docker build -t damselfly .
#   docker run -v damselfly:/var/lib/damselfly -p 65001:65001 damselfly
#
# Node 24 is the active LTS (libp2p 3 is tested upstream on 22 and 24; the code also runs on
# Node 20, the project's minimum). bookworm-slim rather than alpine: glibc, whose malloc
# tunables below were measured, and the same libc the tests ran against.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, in their own layer: they change less often than the sources. No package
# needs an install script, so none is run.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
# tsconfig compiles the tests and scripts too; they are built here and left behind. The build
# ends with scripts/bundle.ts (esbuild, whose binary is the platform's optional package, so
# --ignore-scripts above loses nothing): dist/bundle/, which bin/damselfly.js runs.
COPY test ./test
COPY scripts ./scripts
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="damselfly" \
      org.opencontainers.image.description="Peer-to-peer download accelerator for Hugging Face Hub files" \
      org.opencontainers.image.licenses="Apache-2.0"
# Memory under many clients (src/cli/process-tuning.ts): large buffers mapped one by one so that
# freed ones leave the process, and a small young generation; the ENTRYPOINT's V8 flag keeps full
# collections rare while buffers stream. `npm start` and the tests start nodes the same way.
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 \
    NODE_OPTIONS=--max-semi-space-size=4
# In a container the proxy must be reachable from outside it, and a proxy beyond loopback must
# name its clients (the node refuses to start otherwise): private networks by default; narrow
# it to the cluster's pod and node ranges (see deploy/ and docs/security.md). The admin port
# beyond loopback needs a token likewise, which no image can ship: mount one and set
# DAMSELFLY_ADMIN_TOKEN_FILE to it, as deploy/ does.
ENV NODE_ENV=production \
    DAMSELFLY_DATA_DIR=/var/lib/damselfly \
    DAMSELFLY_PROXY_LISTEN=0.0.0.0:65001 \
    DAMSELFLY_ALLOWED_CLIENTS="10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fd00::/8" \
    DAMSELFLY_ADMIN_LISTEN=0.0.0.0:65002
WORKDIR /app
# Owned by root and not writable by the node: the code cannot be changed at run time.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/bundle ./dist/bundle
RUN mkdir -p /var/lib/damselfly && chown node:node /var/lib/damselfly
# The `node` user of the official image (uid 1000).
USER node
VOLUME /var/lib/damselfly
EXPOSE 65001/tcp 65002/tcp 65100/tcp 65101/tcp
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:65002/healthy').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--initial-old-space-size=64", "bin/damselfly.js"]
CMD ["start"]
