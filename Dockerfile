# Damselfly node image: one process per host, proxy on :65001, admin on :65002, libp2p on :65100.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY test ./test
COPY scripts ./scripts
RUN npm ci && npm prune --omit=dev

FROM node:22-bookworm-slim
# glibc returns 64 KiB socket buffers to the kernel after every read unless told otherwise;
# these thresholds measured 618 → 1,989 MB/s on a Node TCP receiver (docs/p2p-throughput.md).
ENV GLIBC_TUNABLES=glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=268435456
ENV NODE_ENV=production \
    DAMSELFLY_DATA_DIR=/var/lib/damselfly \
    DAMSELFLY_PROXY_LISTEN=0.0.0.0:65001 \
    DAMSELFLY_ADMIN_LISTEN=0.0.0.0:65002
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist/src ./dist/src
RUN mkdir -p /var/lib/damselfly && chown node:node /var/lib/damselfly
USER node
VOLUME /var/lib/damselfly
EXPOSE 65001 65002 65100
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:65002/healthy').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/damselfly.js"]
CMD ["start"]
