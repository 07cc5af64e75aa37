#!/usr/bin/env bash
# Builds the operator image localhost/dataflow-operator:<package.json version> from the top-level
# Dockerfile with podman (`deno task image`). Prints progress on stderr and the image reference on
# its last stdout line.
#
# Bases (the Dockerfile's BUILD_IMAGE and BASE_IMAGE), chosen by IMAGE_BASES:
#   auto (default)  the upstream ones if both are in local podman storage, else the stand-ins
#   upstream        the upstream ones, pulled when missing (needs their registries)
#   standin         the offline stand-ins (standin-build.sh, standin-base.sh), built once and cached
# An image whose recipe label matches the current inputs (the files the Dockerfile COPYs, the
# Dockerfile, the bases' image IDs and the build arguments) is reused as it is; anything else is
# rebuilt (podman's layer cache keeps an unchanged step fast). Two runs never collide: a lock
# makes the second wait. Needs podman and runc (apt-get install podman runc); the stand-ins also
# debootstrap and npm, and root.
#
# Usage: deploy/image/build.sh            build (or reuse) and print the image reference
#        deploy/image/build.sh --recipe   print the recipe hash of the current inputs only
# Env:   IMAGE_BASES, IMAGE_NAME (default localhost/dataflow-operator), DATAFLOW_CACHE,
#        IMAGE_EXTRA_CA (a CA bundle for bun install; default NODE_EXTRA_CA_CERTS, else the system's)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
root=$(cd "$IMAGE_DIR/../.." && pwd)
cd "$root"

version=$(sed -n 's/^  "version": "\([^"]*\)",\{0,1\}$/\1/p' package.json | head -1)
[ -n "$version" ] || die "no version in package.json"
image=${IMAGE_NAME:-localhost/dataflow-operator}:$version
# The Dockerfile's defaults are the upstream bases; it stays their one source of truth.
dockerfile_arg() { sed -n "s/^ARG $1=//p" Dockerfile | head -1; }
upstream_build=$(dockerfile_arg BUILD_IMAGE)
upstream_base=$(dockerfile_arg BASE_IMAGE)

# Hash of everything the image is made from: the build context as .dockerignore lets it through,
# the Dockerfile, the bases' IDs, the build arguments and this script.
recipe() {
  local -a files
  mapfile -t files < <(find package.json bun.lock mod.ts lib -type f ! -name '*.md' | LC_ALL=C sort)
  recipe_hash Dockerfile .dockerignore "$0" "${files[@]}" -- "$version" "$@"
}

bases_ids() { pm image inspect --format '{{.Id}}' "$1" "$2" 2>/dev/null | paste -sd' '; }

step() { log "step $1/4: $2"; }

step 1 "prerequisites"
need podman "apt-get install podman runc (podman runs containers here with runc)"
need "${PODMAN_RUNTIME:-runc}" "apt-get install runc"
need flock "apt-get install util-linux"
take_lock "$IMAGE_CACHE/build.lock"

step 2 "base images (IMAGE_BASES=${IMAGE_BASES:-auto})"
mode=${IMAGE_BASES:-auto}
case $mode in
  auto)
    if pm image exists "$upstream_build" && pm image exists "$upstream_base"; then mode=upstream; else mode=standin; fi
    ;;
  upstream | standin) ;;
  *) die "IMAGE_BASES=$mode: expected auto, upstream or standin" ;;
esac
if [ "$mode" = upstream ]; then
  for b in "$upstream_build" "$upstream_base"; do
    # A short name (oven/bun) is Docker Hub's; podman pulls only fully qualified names here.
    case ${b%%/*} in *.* | *:* | localhost) q=$b ;; *) q=docker.io/$b ;; esac
    pm image exists "$b" || pm pull "$q" >&2 ||
      die "cannot pull $b (no registry reachable?); IMAGE_BASES=standin builds offline stand-ins instead"
  done
  build_image=$upstream_build base_image=$upstream_base
  log "using the upstream bases $build_image and $base_image"
else
  log "using the offline stand-ins for $upstream_build and $upstream_base" \
    "(IMAGE_BASES=upstream pulls and uses the real ones)"
  bash "$IMAGE_DIR/standin-build.sh"
  bash "$IMAGE_DIR/standin-base.sh"
  build_image=$STANDIN_BUILD_IMAGE base_image=$STANDIN_BASE_IMAGE
fi
ids=$(bases_ids "$build_image" "$base_image")

want=$(recipe "$ids")
if [ "${1:-}" = --recipe ]; then
  echo "$want"
  exit 0
fi

step 3 "podman build $image"
started=$(date +%s)
if [ "$(image_label "$image" "$RECIPE_LABEL")" = "$want" ]; then
  log "$image is up to date (recipe $want)"
else
  # Labels whose value varies are given as --label as well: podman's layer cache would otherwise
  # reuse a LABEL step built with other ARG values.
  args=(--build-arg "VERSION=$version" --label "org.opencontainers.image.version=$version"
    --label "org.opencontainers.image.base.name=$base_image" --label "$RECIPE_LABEL=$want")
  # This machine's CA bundle, for a TLS-inspecting proxy on the way to the npm registry.
  ca=${IMAGE_EXTRA_CA:-${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}}
  [ ! -s "$ca" ] || args+=(--secret "id=extra-ca,src=$ca")
  [ "$mode" = upstream ] || args+=(--build-arg "BUILD_IMAGE=$build_image" --build-arg "BASE_IMAGE=$base_image")
  # Host network: `bun install` fetches the locked packages from the npm registry. --pull=never:
  # the bases are local by now, and nothing else may be fetched from a container registry.
  pm build --network host --pull=never --layers "${PODMAN_LIMITS[@]}" "${args[@]}" \
    -f Dockerfile -t "$image" . >&2 || die "podman build failed (output above)"
  # Untagged leftovers of earlier builds of ours (every image here inherits the recipe label from
  # a stand-in or sets it), so repeated builds do not fill the disk. Younger ones are this build's
  # layer cache and stay.
  pm image prune -f --filter "label=$RECIPE_LABEL" --filter "until=$started" >/dev/null ||
    log "warning: podman image prune failed; old layers stay in storage"
fi

step 4 "smoke test: \`$image version\` as 65532 on a read-only root"
got=$(pm run --rm --network none "${PODMAN_LIMITS[@]}" --user 65532:65532 --read-only "$image" version 2>&1) ||
  die "the image does not run: $got"
[ "$got" = "dataflow-operator $version" ] || die "the image says \"$got\", expected dataflow-operator $version"
log "$image: $(pm image inspect --format '{{.Size}}' "$image") bytes, bases $build_image + $base_image"
echo "$image"
