# syntax=docker/dockerfile:1
#
# edge-imprint: Node 22 LTS on Debian bookworm, ffmpeg, and the Coral Edge TPU runtime.
#
#   docker build -t edge-imprint .                          # libedgetpu1-std
#   docker build -t edge-imprint --build-arg LIBEDGETPU=max .  # full clock (runs hot)
#
# Stages: build (compilers for the native addons + TypeScript), models (downloads Coral's
# model files and checks their sha256), runtime (no compiler, non-root). docs/deploy.md
# explains the volumes, devices and environment.

ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
# tfjs-tflite-node and better-sqlite3 compile native addons (node-gyp needs python3, make, g++).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Use the image's own Node headers instead of downloading them for node-gyp. onnxruntime-node's
# install script would fetch CUDA parts from outside the npm registry: its CPU build ships in
# the package, and skip leaves it at that.
ENV npm_config_nodedir=/usr/local \
    ONNXRUNTIME_NODE_INSTALL=skip
# The sources come before `npm ci`: package.json's `prepare` script compiles them.
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# The model manifest (official URLs and sha256 sums) is read at run time from models/.
COPY models/manifest.json ./models/manifest.json
# The derived mean embeddings (centring) ship with the code, not with the downloaded models.
COPY models/mobilenet_v1_1.0_224_quant_embedding_extractor.mean.json ./models/
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 \
      ! -path "*/linux/$(node -p process.arch)" -exec rm -rf {} +

# ---------------------------------------------------------------------------- models
FROM build AS models
# Coral's official files, verified against the sha256 sums of the manifest; the build
# fails here (not at run time) when a download is missing or corrupt.
RUN node dist/cli/main.js models --model-dir /models

# ---------------------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
# std: the Edge TPU at its reduced clock; max: full clock (faster, hotter). Both come from
# Coral's apt repository.
ARG LIBEDGETPU=std
RUN set -eu; \
    case "${LIBEDGETPU}" in std|max) ;; *) echo "LIBEDGETPU must be std or max, not ${LIBEDGETPU}" >&2; exit 1;; esac; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl gnupg ffmpeg tini; \
    export GNUPGHOME="$(mktemp -d)"; \
    curl -fsSL https://packages.cloud.google.com/apt/doc/apt-key.gpg | gpg --batch --import; \
    gpg --batch --export > /usr/share/keyrings/coral-edgetpu.gpg; \
    rm -rf "${GNUPGHOME}"; \
    echo "deb [signed-by=/usr/share/keyrings/coral-edgetpu.gpg] https://packages.cloud.google.com/apt coral-edgetpu-stable main" \
      > /etc/apt/sources.list.d/coral-edgetpu.list; \
    echo "libedgetpu1-max libedgetpu/accepted-eula boolean true" | debconf-set-selections; \
    echo "libedgetpu1-max libedgetpu/install-confirm-max boolean true" | debconf-set-selections; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "libedgetpu1-${LIBEDGETPU}"; \
    apt-get purge -y --auto-remove curl gnupg; \
    rm -rf /var/lib/apt/lists/*

# A user of its own; plugdev gives access to the Coral USB device (Coral's udev rule
# makes it group plugdev). For the PCIe /dev/apex_0 add the host's apex group in compose.
RUN useradd --system --uid 10001 --user-group --groups plugdev,video \
      --home-dir /app --no-create-home --shell /usr/sbin/nologin edge-imprint \
 && mkdir -p /config /data /models \
 && chown edge-imprint:edge-imprint /data /models

WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/models/manifest.json ./models/manifest.json
COPY --from=build /app/models/*.mean.json ./models/
COPY --from=models --chown=edge-imprint:edge-imprint /models /models
COPY config/config.example.yaml /app/config.example.yaml
# The CLI reads config/config.yaml (relative to the working folder) when present.
RUN ln -s /config /app/config

ENV NODE_ENV=production \
    EDGE_IMPRINT_DATA_DIR=/data \
    EDGE_IMPRINT_MODEL_DIR=/models \
    EDGE_IMPRINT_HTTP_HOST=0.0.0.0 \
    EDGE_IMPRINT_HTTP_PORT=8089

VOLUME ["/config", "/data"]
EXPOSE 8089
USER edge-imprint

# fetch() is built into Node: no curl in the runtime image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.EDGE_IMPRINT_HTTP_PORT || 8089) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# tini reaps ffmpeg's orphans and forwards SIGTERM, so the agent publishes `offline`.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/dist/cli/main.js"]
CMD ["run"]
