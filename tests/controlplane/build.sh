#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the official Go modules (through the Go module
# proxy) into a cache directory outside the repository, keyed by version. Safe to run
# concurrently: a lock makes a second run wait for the first, then reuse its result.
#
# Usage: tests/controlplane/build.sh        prints the bin directory on its last line
# Env:   K8S_VERSION (default v1.36.3), ETCD_VERSION (default v3.6.16),
#        DATAFLOW_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/dataflow-operator),
#        BUILD_LOCK_REPORT_SECONDS (default 15: how often a run waiting for another's lock says so)
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
CACHE=${DATAFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dataflow-operator}
KEY="k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}"
OUT="$CACHE/controlplane/$KEY"
BIN="$OUT/bin"

log() { printf '[controlplane-build] %s\n' "$*" >&2; }

have_all() {
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kubectl" ] && [ -x "$BIN/etcd" ] && [ -f "$OUT/.complete" ]
}

if have_all; then echo "$BIN"; exit 0; fi

command -v go >/dev/null || { log "error: no Go toolchain on PATH; install Go >= 1.26 to build the test control plane"; exit 1; }
command -v flock >/dev/null || { log "error: flock (util-linux) is required"; exit 1; }

mkdir -p "$OUT"
exec 9>"$OUT/.lock"
if ! flock -n 9; then
  # Another process (a parallel test run, the demo) is building: wait for it, saying how long.
  log "another build of $KEY is running; waiting for its lock"
  waited=0 every=${BUILD_LOCK_REPORT_SECONDS:-15}
  until flock -w "$every" 9; do
    waited=$((waited + every))
    log "still waiting for the other build of $KEY (${waited} s)"
  done
fi
if have_all; then echo "$BIN"; exit 0; fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$BIN"
start=$(date +%s)

# --- etcd: a wrapper module that requires the server module at the pinned version -------------
if [ ! -x "$BIN/etcd" ]; then
  log "building etcd $ETCD_VERSION (step 1/3)"
  src="$OUT/src-etcd"; rm -rf "$src"; mkdir -p "$src"
  cat >"$src/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$src" && go mod init dataflow.local/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" \
    && go mod tidy \
    && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd.tmp" . \
    && mv "$BIN/etcd.tmp" "$BIN/etcd")
  log "etcd built after $(( $(date +%s) - start )) s"
fi

# --- kube-apiserver and kubectl: a wrapper module replacing every staging module ---------------
if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kubectl" ]; then
  src="$OUT/src-k8s"; rm -rf "$src"; mkdir -p "$src"
  cd "$src"
  go mod init dataflow.local/k8s >/dev/null 2>&1
  go mod edit -go=1.26.0
  log "resolving k8s.io/kubernetes $K8S_VERSION and its staging modules"
  gomod=$(go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { log "error: could not download k8s.io/kubernetes@${K8S_VERSION}"; exit 1; }
  staging_ver="v0.${K8S_VERSION#v1.}"
  for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\1#p' "$gomod"); do
    go mod edit -replace "$m=$m@$staging_ver"
  done
  go get "k8s.io/kubernetes/cmd/kube-apiserver@${K8S_VERSION}" "k8s.io/kubernetes/cmd/kubectl@${K8S_VERSION}"
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=${K8S_VERSION} -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor} -X $pkg.gitTreeState=clean"
  done
  log "building kube-apiserver $K8S_VERSION (step 2/3; a cold build of all three takes about 6 minutes on 2 cores)"
  go build -trimpath -ldflags "$ldflags" -o "$BIN/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
  log "kube-apiserver built after $(( $(date +%s) - start )) s"
  log "building kubectl $K8S_VERSION (step 3/3)"
  go build -trimpath -ldflags "$ldflags" -o "$BIN/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
  mv "$BIN/kubectl.tmp" "$BIN/kubectl"
  log "kubectl built after $(( $(date +%s) - start )) s"
  cd "$OUT"; rm -rf "$src"
fi
rm -rf "$OUT/src-etcd"

# No pipe here: `etcd --version | head -1` under pipefail failed with SIGPIPE (141) whenever head
# exited before etcd had written its remaining lines.
"$BIN/kube-apiserver" --version >&2
etcd_version=$("$BIN/etcd" --version)
log "${etcd_version%%$'\n'*}"
touch "$OUT/.complete"
log "control plane ready in $BIN ($(( $(date +%s) - start )) s)"
echo "$BIN"
