# syntax=docker/dockerfile:1
#
# The DataFlow operator image: one Bun-compiled executable on distroless, non-root.
#
#   deno task image        # = deploy/image/build.sh: localhost/dataflow-operator:<version> with podman
#   docker build --build-arg VERSION=0.1.0 -t dataflow-operator:0.1.0 .    # online, the real bases
#
# Both base images are build arguments whose defaults are the real ones. This image is built and
# run here: with no container registry reachable, `deno task image` passes stand-ins assembled
# offline (deploy/image/: a debootstrapped Debian bookworm with Bun 1.4.5's executable from the npm
# registry for the build stage; for the runtime base, exactly the libraries the binary links — ldd:
# libc, libpthread, libdl, libm and the loader, from Debian's libc6 —, /etc/passwd and /etc/group
# with nonroot 65532, CA certificates, no shell, no package manager). tests/image/pod.test.ts runs
# the result as a kubelet would and CI runs that test. With the upstream bases in local storage
# (or IMAGE_BASES=upstream, which pulls them) the same script builds on those instead.
#
# The runtime base follows from the binary's linkage: distroless base-nossl (glibc, no OpenSSL; the
# binary has its own TLS), not static (no glibc) and not cc (which only adds libgcc_s).
#
# Runtime expectations (deploy/operator.yaml and the Helm chart set them):
#   - runs as uid/gid 65532 (the distroless `nonroot` user), runAsNonRoot: true;
#   - readOnlyRootFilesystem: true; the binary writes nothing, an emptyDir at /tmp is mounted
#     anyway so TMPDIR stays usable;
#   - no shell in the image: exec-form ENTRYPOINT, probes are HTTP (/healthz, /readyz on :9091);
#   - PID 1 is the operator itself, which handles SIGTERM (drain, flush events, release the Lease).

ARG BUILD_IMAGE=oven/bun:1.4.5
ARG BASE_IMAGE=gcr.io/distroless/base-nossl-debian12:nonroot

# ---- stage 1: compile ---------------------------------------------------------------------------
# The glibc (Debian) Bun image: its `--compile` output links against glibc, which distroless has.
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# Dependencies first, for layer caching; exactly the versions of bun.lock, no install scripts.
COPY package.json bun.lock ./
# The secret `extra-ca`, when given, is a CA bundle Bun trusts besides its own roots: what a
# TLS-inspecting proxy between the build and the npm registry needs (deno task image passes the
# build machine's bundle). A secret mount never ends up in a layer.
RUN --mount=type=secret,id=extra-ca \
    if [ -s /run/secrets/extra-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra-ca; fi \
 && bun install --frozen-lockfile --production --ignore-scripts
# Only what the binary is built from: the entry point and the library.
COPY mod.ts ./
COPY lib/ ./lib/
# --no-compile-autoload-*: a compiled Bun executable would otherwise load a stray .env or
# bunfig.toml from its working directory at start-up. --bytecode, --splitting and
# --compile-jit-policy: a faster and smaller start (bench/lib/operator.ts, BUN_BUILD_FLAGS).
RUN bun build --compile --minify --sourcemap \
      --bytecode --format=esm --splitting --compile-jit-policy=100 \
      --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
      --outfile /out/dataflow-operator mod.ts \
 && /out/dataflow-operator version

# ---- stage 2: run -------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
COPY --from=build --chown=0:0 --chmod=0555 /out/dataflow-operator /dataflow-operator
USER 65532:65532
# metrics, health probes
EXPOSE 9090 9091
ENTRYPOINT ["/dataflow-operator"]
CMD ["run"]
# Labels last, so a new version reuses every layer above. SOURCE and LICENSES: this repository
# declares neither a public address nor a licence yet; NOASSERTION is SPDX's word for that. podman
# 4.3's layer cache ignores ARG values in LABEL, so deploy/image/build.sh passes its varying ones as
# --label too (the recipe label, io.dataflow.image.recipe-sha256, only that way).
ARG VERSION=0.1.0
ARG SOURCE=NOASSERTION
ARG LICENSES=NOASSERTION
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="dataflow-operator" \
      org.opencontainers.image.description="The DataFlow operator (dataflow.dataflow.io/v1), one Bun-compiled executable" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
