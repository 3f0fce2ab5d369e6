# syntax=docker/dockerfile:1
# One image for every process of the platform, chosen by its command:
#   docker run ... kaas                              the API (the CMD below, port 8080)
#   docker run ... kaas node --max-semi-space-size=4 --heap-growing-percent=50 dist/src/worker.js
#                                                    a worker (its /metrics on 9464)
#   docker run ... kaas node dist/src/prepare.js     the migration step: run it once before the others
#   docker run ... kaas node bin/kaasctl.js ...      kaasctl
# Settings come from the environment (README.md, "Configuration"; docs/install.md). The Node.js
# version is the one scripts/node-env.sh pins for development and CI.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# TypeScript and the libvirt binding, compiled against this Node's headers and Debian's libvirt-dev.
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ pkg-config libvirt-dev \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /src
ENV SCARF_ANALYTICS=false
COPY package.json package-lock.json ./
COPY native/libvirt native/libvirt
# Runs the package's install script: node-gyp builds native/libvirt (no header download).
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY migrations migrations
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# The etcd control-plane bundle's artifacts, from Debian's packages (scripts/bundles.sh).
FROM ${NODE_IMAGE} AS bundles
WORKDIR /src
COPY scripts/bundles.sh scripts/bundles.sh
COPY bundles bundles
RUN scripts/bundles.sh && rm -rf .data

# Runtime: Node, libvirt's client library, ssh for qemu+ssh:// host URIs; no compiler, no sources.
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends libvirt0 openssh-client \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --system --gid 10001 kaas \
  && useradd --system --uid 10001 --gid kaas --home-dir /var/lib/kaas-server --shell /usr/sbin/nologin kaas \
  && install -d -o kaas -g kaas -m 0700 /var/lib/kaas-server
WORKDIR /opt/kaas
# KAAS_HOST: a container is reached through its own interface; put a TLS proxy in front of it.
ENV NODE_ENV=production \
  KAAS_DATA_DIR=/var/lib/kaas-server \
  KAAS_HOST=0.0.0.0 \
  UV_THREADPOOL_SIZE=16
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/native/libvirt/binding.gyp native/libvirt/binding.gyp
COPY --from=build /src/native/libvirt/build/Release/kaas_libvirt.node native/libvirt/build/Release/kaas_libvirt.node
COPY --from=bundles /src/bundles bundles
COPY web web
COPY bin bin
# The code stays root's and read-only; the process runs as kaas.
USER kaas
EXPOSE 8080 9464
# The flags of deploy/node-flags (memory; scripts/check-dockerfile.mjs checks they are the same).
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=50", "dist/src/main.js"]
