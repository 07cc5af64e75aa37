# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this file
# Shared by the image scripts (sourced, not run): where the cache lives, how progress and failures
# are reported, and the podman command line this kind of machine needs.

# Outside the repository, beside the test control plane's cache.
IMAGE_CACHE=${DATAFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dataflow-operator}/image
# The Bun the project builds and tests with (tests/run.ts pins the same).
BUN_VERSION=1.4.5
# The stand-ins for the Dockerfile's two bases, in local podman storage only.
STANDIN_BUILD_IMAGE=localhost/dataflow-standin/bun:$BUN_VERSION
STANDIN_BASE_IMAGE=localhost/dataflow-standin/base-nossl-debian12:nonroot
# The Debian release both stand-ins come from: distroless debian12 and oven/bun's image are bookworm.
DEBIAN_SUITE=bookworm
# The label that records what an image was made from, so a stale one is rebuilt, never reused.
RECIPE_LABEL=io.dataflow.image.recipe-sha256

IMAGE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '[image] %s\n' "$*" >&2; }
die() {
  printf '[image] error: %s\n' "$*" >&2
  exit 1
}
# need COMMAND FIX: fail naming the fix when COMMAND is missing.
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }

# This machine's podman settings (see podman-flags.sh): flags before the subcommand, and the
# --ulimit flags every `podman run` and `podman build` needs.
mapfile -t PODMAN_GLOBAL < <(bash "$IMAGE_DIR/podman-flags.sh" global)
mapfile -t PODMAN_LIMITS < <(bash "$IMAGE_DIR/podman-flags.sh" limits)
# podman with those settings, e.g. `pm build ...`.
pm() { podman "${PODMAN_GLOBAL[@]}" "$@"; }

# The label value of a local image, empty when the image or the label is absent.
image_label() {
  pm image inspect --format "{{index .Labels \"$2\"}}" "$1" 2>/dev/null | sed 's/^<no value>$//' || true
}

# recipe_hash FILE... -- WORD...: sha256 over the files' contents and repository-relative names and
# the extra words, for recipe labels (the same however a script was invoked).
recipe_hash() {
  local f top
  top=$(cd "$IMAGE_DIR/../.." && pwd)
  {
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      f=$(realpath --relative-to="$top" "$1")
      printf '%s %s\n' "$(sha256sum <"$1" | cut -d' ' -f1)" "$f"
      shift
    done
    [ $# -eq 0 ] || shift
    printf '%s\n' "$@"
  } | sha256sum | cut -d' ' -f1
}

# Waits for the lock file $1 on fd 9, saying so while another run holds it.
take_lock() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  if ! flock -n 9; then
    log "another image build holds $1; waiting for it"
    until flock -w 15 9; do log "still waiting for $1"; done
  fi
}
