#!/usr/bin/env bash
# Builds Helm v3 from its Go module (helm.sh/helm/v3/cmd/helm) through the Go module proxy into a
# cache directory outside the repository, keyed by version, and prints the helm binary path on its
# last line. The chart tests (tests/e2e/helm.test.ts) and CI call it; a second concurrent run waits
# for the first (flock) and then reuses its result.
#
# Usage: tests/e2e/build-helm.sh           prints the path of the helm binary on its last line
# Env:   HELM_VERSION (default v3.22.0, the latest v3 on the module proxy when this was written),
#        DATAFLOW_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/dataflow-operator)
set -euo pipefail

HELM_VERSION=${HELM_VERSION:-v3.22.0}
CACHE=${DATAFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dataflow-operator}
OUT="$CACHE/tools/helm-${HELM_VERSION}"
BIN="$OUT/helm"

log() { printf '[helm-build] %s\n' "$*" >&2; }

if [ -x "$BIN" ] && [ -f "$OUT/.complete" ]; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { log "error: no Go toolchain on PATH; Helm ${HELM_VERSION} needs Go to build"; exit 1; }
command -v flock >/dev/null || { log "error: flock (util-linux) is required"; exit 1; }

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
if ! flock -n 9; then
  log "another build of helm ${HELM_VERSION} is running; waiting for its lock"
  flock 9
fi
if [ -x "$BIN" ] && [ -f "$OUT/.complete" ]; then echo "$BIN"; exit 0; fi

# GOTOOLCHAIN=local: fail fast with a clear message instead of fetching another Go toolchain when
# Helm's go.mod asks for a newer one than the installed Go.
export GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$OUT"
start=$(date +%s)
log "building helm ${HELM_VERSION} with $(go version | cut -d' ' -f3) (go install, first build downloads ~200 modules)"
# The same -X flags as Helm's Makefile: without them `helm template`/`helm lint` assume Kubernetes
# v1.20 (their compiled-in default), which fails charts that declare a kubeVersion. Helm v3.22 is
# built against the k8s.io v0.37 modules, so its defaults are 1.37.
K8S_MINOR=${HELM_K8S_MINOR:-37}
LDFLAGS="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
for pkg in pkg/lint/rules pkg/chartutil; do
  LDFLAGS="$LDFLAGS -X helm.sh/helm/v3/${pkg}.k8sVersionMajor=1 -X helm.sh/helm/v3/${pkg}.k8sVersionMinor=${K8S_MINOR}"
done
go install -trimpath -ldflags "$LDFLAGS" "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
"$BIN" version --short >&2
touch "$OUT/.complete"
log "built in $(( $(date +%s) - start )) s: $BIN"
echo "$BIN"
