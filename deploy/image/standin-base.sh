#!/usr/bin/env bash
# The offline stand-in for the Dockerfile's runtime base (gcr.io/distroless/base-nossl-debian12:nonroot):
# a root filesystem assembled from Debian packages by base-rootfs.sh inside the build stage
# stand-in, imported into local podman storage as
# localhost/dataflow-standin/base-nossl-debian12:nonroot with distroless's user, working directory
# and environment. Checked by running Bun's executable in it as 65532 on a read-only root.
#
# Reused while its recipe label matches (these scripts and the build stage stand-in it was derived
# from); the .debs are kept in the cache. Run by build.sh under its lock, after standin-build.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build_id=$(pm image inspect --format '{{.Id}}' "$STANDIN_BUILD_IMAGE" 2>/dev/null) ||
  die "$STANDIN_BUILD_IMAGE is missing; run standin-build.sh first"
recipe=$(recipe_hash "$0" "$IMAGE_DIR/base-rootfs.sh" "$IMAGE_DIR/lib.sh" -- "$build_id")
if [ "$(image_label "$STANDIN_BASE_IMAGE" "$RECIPE_LABEL")" = "$recipe" ]; then
  log "runtime base stand-in $STANDIN_BASE_IMAGE is up to date"
  exit 0
fi

mkdir -p "$IMAGE_CACHE/base-debs"
work=$(mktemp -d "$IMAGE_CACHE/tmp.base.XXXXXX")
trap 'rm -rf "$work"' EXIT

log "runtime base stand-in: step 1/3: the libraries Bun links (ldd), from their Debian packages"
# Host network: apt-get reaches the Debian mirror (only when the .debs are not cached yet).
pm run --rm --network host "${PODMAN_LIMITS[@]}" \
  -v "$IMAGE_DIR/base-rootfs.sh:/base-rootfs.sh:ro" -v "$work:/out" -v "$IMAGE_CACHE/base-debs:/debs" \
  "$STANDIN_BUILD_IMAGE" bash /base-rootfs.sh /out /debs ||
  die "assembling the runtime base's root filesystem failed (see above)"

log "runtime base stand-in: step 2/3: podman import as $STANDIN_BASE_IMAGE"
pm import --quiet \
  --change "USER 65532" \
  --change "WORKDIR /home/nonroot" \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
  --change "LABEL $RECIPE_LABEL=$recipe" \
  --change "LABEL io.dataflow.image.libraries=$(paste -sd, "$work/libs")" \
  --message "stand-in for gcr.io/distroless/base-nossl-debian12:nonroot, from Debian $DEBIAN_SUITE packages" \
  "$work/rootfs.tar" "$STANDIN_BASE_IMAGE" >/dev/null

log "runtime base stand-in: step 3/3: Bun's executable runs in it as 65532 on a read-only root"
got=$(pm run --rm --network none "${PODMAN_LIMITS[@]}" --user 65532:65532 --read-only \
  -v "$work/bun:/bun:ro" --entrypoint /bun "$STANDIN_BASE_IMAGE" --version 2>&1) || true
if [ "$got" != "$BUN_VERSION" ]; then
  # Removed, so the next run builds it again instead of reusing a broken base.
  pm rmi -f "$STANDIN_BASE_IMAGE" >/dev/null 2>&1 || true
  die "bun --version in the runtime base said: $got"
fi
log "runtime base stand-in $STANDIN_BASE_IMAGE ready ($(pm image inspect --format '{{.Size}}' "$STANDIN_BASE_IMAGE") bytes)"
