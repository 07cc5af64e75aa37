#!/usr/bin/env bash
# The offline stand-in for the Dockerfile's build stage image (oven/bun:1.4.5, which is Debian
# bookworm with Bun at /usr/local/bin/bun): a Debian bookworm root filesystem made by debootstrap
# from the configured Debian mirror, with Bun's Linux x64 executable from the npm registry (the
# package @oven/bun-linux-x64, which is what the `bun` npm package installs), imported into local
# podman storage as localhost/dataflow-standin/bun:1.4.5.
#
# Reused while its recipe label matches this script; the downloaded .debs and the npm tarball are
# kept in the cache, so a rebuild needs no network. Run by build.sh (under its lock) as root.
# Env: DEBIAN_MIRROR (default: the first Debian mirror of /etc/apt/sources.list*, else deb.debian.org)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

recipe=$(recipe_hash "$0" "$IMAGE_DIR/lib.sh" -- "$BUN_VERSION" "$DEBIAN_SUITE")
if [ "$(image_label "$STANDIN_BUILD_IMAGE" "$RECIPE_LABEL")" = "$recipe" ]; then
  log "build stage stand-in $STANDIN_BUILD_IMAGE is up to date"
  exit 0
fi

[ "$(id -u)" = 0 ] || die "building the stand-in bases needs root (debootstrap, chroot); run as root"
need debootstrap "apt-get install debootstrap"
need npm "install Node.js with npm (Bun's executable comes from the npm registry)"

# The Debian archive apt already uses here (deb822 `URIs:` or one-line `deb` entries), not security.
mirror=${DEBIAN_MIRROR:-$(
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(^URIs:[[:space:]]*|^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)[a-z]+://[^[:space:]]+' |
    grep -oE '[a-z]+://[^[:space:]]+' | grep -E '/debian/?$' | head -1 || true
)}
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$IMAGE_CACHE/debs" "$IMAGE_CACHE/npm"
work=$(mktemp -d "$IMAGE_CACHE/tmp.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

log "build stage stand-in: step 1/3: debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (about a minute)"
# ca-certificates: the upstream image has them (bun install verifies the npm registry's TLS).
debootstrap --variant=minbase --include=ca-certificates --cache-dir="$IMAGE_CACHE/debs" \
  "$DEBIAN_SUITE" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above); is $mirror reachable?"; }

log "build stage stand-in: step 2/3: Bun $BUN_VERSION's executable from the npm registry"
tarball="$IMAGE_CACHE/npm/oven-bun-linux-x64-$BUN_VERSION.tgz"
if [ ! -s "$tarball" ]; then
  # npm pack checks the tarball against the registry's integrity hash.
  (cd "$work" && npm pack --silent "@oven/bun-linux-x64@$BUN_VERSION" >/dev/null) ||
    die "npm pack @oven/bun-linux-x64@$BUN_VERSION failed; is the npm registry reachable?"
  mv "$work/oven-bun-linux-x64-$BUN_VERSION.tgz" "$tarball"
fi
tar -xzf "$tarball" -C "$work" package/bin/bun
install -m 0755 "$work/package/bin/bun" "$work/rootfs/usr/local/bin/bun"
ln -s bun "$work/rootfs/usr/local/bin/bunx"
# As in the upstream image: a `bun` user (1000) and its app directory; builds run as root anyway.
chroot "$work/rootfs" sh -c 'groupadd -g 1000 bun && useradd -u 1000 -g bun -m -s /bin/sh bun' ||
  die "creating the bun user in the stand-in failed"
mkdir -p "$work/rootfs/home/bun/app"
# Package lists and downloaded .debs are not part of an image (the upstream one has none either).
rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/archives/"*.deb

log "build stage stand-in: step 3/3: podman import as $STANDIN_BUILD_IMAGE"
tar --numeric-owner --sort=name -C "$work/rootfs" -cf "$work/rootfs.tar" .
pm import --quiet \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV BUN_RUNTIME_TRANSPILER_CACHE_PATH=0" \
  --change "ENV BUN_INSTALL_BIN=/usr/local/bin" \
  --change "WORKDIR /home/bun/app" \
  --change 'CMD ["/usr/local/bin/bun"]' \
  --change "LABEL $RECIPE_LABEL=$recipe" \
  --message "stand-in for oven/bun:$BUN_VERSION: debootstrap $DEBIAN_SUITE minbase + @oven/bun-linux-x64@$BUN_VERSION" \
  "$work/rootfs.tar" "$STANDIN_BUILD_IMAGE" >/dev/null
# A stand-in that fails this check is removed, so the next run builds it again.
got=$(pm run --rm --network none "${PODMAN_LIMITS[@]}" "$STANDIN_BUILD_IMAGE" bun --version) || got="(no answer)"
if [ "$got" != "$BUN_VERSION" ]; then
  pm rmi -f "$STANDIN_BUILD_IMAGE" >/dev/null 2>&1 || true
  die "the imported stand-in's bun --version says $got, expected $BUN_VERSION"
fi
log "build stage stand-in $STANDIN_BUILD_IMAGE ready (bun $got)"
