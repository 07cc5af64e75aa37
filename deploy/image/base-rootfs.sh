#!/usr/bin/env bash
# Runs inside the build stage stand-in (Debian bookworm with Bun), started by standin-base.sh:
# assembles the root filesystem of the runtime base stand-in, distroless base-nossl-debian12:nonroot's
# equivalent, from Debian packages, and writes it as a tar. What it holds:
#   - exactly the shared libraries Bun's executable links, found with ldd, and the dynamic loader;
#     `bun build --compile` output is that same executable with the application appended, so the
#     operator binary links the same (build.sh runs the binary in the finished image to prove it);
#     each comes from its Debian package (apt-get download of the installed version, dpkg-deb -x);
#   - /etc/passwd and /etc/group with root, nobody and nonroot (65532), /home/nonroot, /tmp (1777);
#   - /etc/ssl/certs/ca-certificates.crt (the bundle Debian's ca-certificates package generates);
#   - /etc/nsswitch.conf as distroless has it, and the packages' copyright files;
#   - no shell and no package manager (checked at the end).
# Usage: base-rootfs.sh OUT_DIR DEB_CACHE   (writes OUT_DIR/rootfs.tar, OUT_DIR/libs, OUT_DIR/bun)
set -euo pipefail
out=$1 debs=$2
bun=/usr/local/bin/bun
root=/tmp/rootfs pkgroot=/tmp/pkgroot
say() { printf '[image]   %s\n' "$*" >&2; }
fail() {
  printf '[image] error: %s\n' "$*" >&2
  exit 1
}

# The libraries the executable links: "name => /path (addr)" lines, and the loader's own line.
mapfile -t libs < <(ldd "$bun" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
[ ${#libs[@]} -gt 0 ] || fail "ldd $bun found no libraries"
say "ldd $bun: ${libs[*]}"
mapfile -t pkgs < <(for l in "${libs[@]}"; do dpkg -S "$l" 2>/dev/null || dpkg -S "$(readlink -f "$l")"; done |
  cut -d: -f1 | sort -u)
[ ${#pkgs[@]} -gt 0 ] || fail "dpkg -S found no package for ${libs[*]}"

# The .debs of exactly the installed versions, downloaded once into the cache.
mkdir -p "$pkgroot" "$root"
updated=
for p in "${pkgs[@]}"; do
  version=$(dpkg-query -W -f '${Version}' "$p")
  deb=$(printf '%s/%s_%s_amd64.deb' "$debs" "$p" "${version//:/%3a}")
  if [ ! -s "$deb" ]; then
    [ -n "$updated" ] || { apt-get -o APT::Sandbox::User=root update -qq >&2 || fail "apt-get update failed"; updated=1; }
    (cd "$debs" && apt-get -o APT::Sandbox::User=root download -qq "$p=$version" >&2) || fail "apt-get download $p=$version failed"
  fi
  say "package $p $version"
  dpkg-deb -x "$deb" "$pkgroot"
  if [ -e "$pkgroot/usr/share/doc/$p/copyright" ]; then
    install -D -m 0644 "$pkgroot/usr/share/doc/$p/copyright" "$root/usr/share/doc/$p/copyright"
  fi
done

# Copies a path from the extracted packages, and every symlink hop to its target (the loader at
# /lib64 is a link into /lib/x86_64-linux-gnu).
copy_path() {
  local p=$1 t
  # Usr-merged packages ship /lib/... as /usr/lib/...
  [ -e "$pkgroot$p" ] || [ -L "$pkgroot$p" ] || p=/usr$p
  while :; do
    [ -e "$pkgroot$p" ] || [ -L "$pkgroot$p" ] || fail "$p is in none of ${pkgs[*]}"
    mkdir -p "$root$(dirname "$p")"
    cp -a "$pkgroot$p" "$root$p"
    [ -L "$pkgroot$p" ] || break
    t=$(readlink "$pkgroot$p")
    case $t in /*) p=$t ;; *) p=$(dirname "$p")/$t ;; esac
  done
}
for l in "${libs[@]}"; do copy_path "$l"; done

# Users and groups as distroless has them; no login shell exists, nor is one named.
mkdir -p "$root/etc/ssl/certs"
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
GROUP
# Without this file glibc would ask DNS before /etc/hosts.
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n' \
  >"$root/etc/nsswitch.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
install -D -m 0644 /usr/share/doc/ca-certificates/copyright "$root/usr/share/doc/ca-certificates/copyright"
install -d -m 0700 "$root/root"
install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot"
install -d -m 1777 "$root/tmp"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"

# The promise of distroless: nothing to run but the application.
found=$(find "$root" \( -name sh -o -name bash -o -name dash -o -name busybox -o -name 'apt*' -o -name 'dpkg*' \) -print)
[ -z "$found" ] || fail "the base must hold no shell and no package manager, found: $found"

# Reproducible: sorted, numeric owners, every time stamp at 0 (as distroless).
tar --numeric-owner --sort=name --mtime=@0 -C "$root" -cf "$out/rootfs.tar" .
printf '%s\n' "${libs[@]}" >"$out/libs"
cp "$bun" "$out/bun"
say "root filesystem: $(du -sh --apparent-size "$root" | cut -f1), $(find "$root" -type f | wc -l) files"
