# syntax=docker/dockerfile:1
#
# The DataFlow operator image: one Bun-compiled executable on distroless, non-root.
#
#   docker build -t dataflow-operator:0.1.0 .
#
# HONESTY NOTE: this image has NOT been built. The machine it was written on has no Docker (or other
# container) engine and cannot reach a container registry, so neither FROM image was ever pulled
# and neither stage ever ran as such. What was run, outside Docker, is stage 1's commands in a copy
# of exactly the files it COPYs (package.json, mod.ts, lib/) with Bun 1.4.5: `bun install
# --production --ignore-scripts` (4 packages) and the `bun build --compile` line below (a 105 MiB
# binary; `version` and `crd` work under `env -i`, i.e. with no HOME and no other environment).
# The same compile of mod.ts is what CI runs the end-to-end suite against (tests/e2e/ with
# DATAFLOW_OPERATOR_CMD=dist/dataflow-operator-bun). The base image follows from the binary's
# linkage (ldd: libc, libpthread, libdl, libm only; no libgcc_s, no OpenSSL), which is why it is
# distroless base-nossl (not static/scratch, which lack glibc; not cc, which only adds libgcc_s).
#
# Runtime expectations (deploy/operator.yaml and the Helm chart set them):
#   - runs as uid/gid 65532 (the distroless `nonroot` user), runAsNonRoot: true;
#   - readOnlyRootFilesystem: true; the Bun binary writes nothing, an emptyDir at /tmp is mounted
#     anyway so TMPDIR stays usable;
#   - no shell in the image: exec-form ENTRYPOINT, probes are HTTP (/healthz, /readyz on :9091);
#   - PID 1 is the operator itself, which handles SIGTERM (drain, flush events, release the Lease).

# ---- stage 1: compile ---------------------------------------------------------------------------
# The glibc (Debian) Bun image: its `--compile` output links against glibc, which distroless has.
FROM oven/bun:1.4.5 AS build
WORKDIR /src
# Dependencies first, for layer caching. package.json pins exact versions (there is no bun.lock).
COPY package.json ./
RUN bun install --production --ignore-scripts
# Only what the binary is built from: the entry point and the library.
COPY mod.ts ./
COPY lib/ ./lib/
# --no-compile-autoload-*: a compiled Bun executable would otherwise load a stray .env or
# bunfig.toml from its working directory at start-up.
RUN bun build --compile --minify --sourcemap \
      --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
      --outfile /out/dataflow-operator mod.ts \
 && /out/dataflow-operator version

# ---- stage 2: run -------------------------------------------------------------------------------
FROM gcr.io/distroless/base-nossl-debian12:nonroot
COPY --from=build --chown=0:0 --chmod=0555 /out/dataflow-operator /dataflow-operator
USER 65532:65532
# metrics, health probes
EXPOSE 9090 9091
ENTRYPOINT ["/dataflow-operator"]
CMD ["run"]
