#!/usr/bin/env bash
# Prints, one per line, the podman flags this kind of machine needs (used by the image scripts
# and by tests/image/, so the two never drift apart):
#   podman-flags.sh global   flags before the subcommand: runc (crun refuses hybrid cgroups),
#                            cgroupfs (no systemd), file events (no journald)
#   podman-flags.sh limits   --ulimit flags for run/build: podman's defaults exceed what podman
#                            itself may hand on here and runc refuses to start the container
#                            ("error setting rlimit"), so ask for at most that: this shell's hard
#                            limit of open files (podman's wish, 1048576, is refused above it) and
#                            of processes, capped at the 32768 podman lowers its own to
# Override the runtime with PODMAN_RUNTIME (e.g. crun where it works).
set -euo pipefail

# limit ULIMIT-FLAG CAP: the hard limit, at most CAP.
limit() {
  local v
  v=$(ulimit -H "$1")
  if [ "$v" = unlimited ] || [ "$v" -gt "$2" ]; then v=$2; fi
  printf '%s' "$v"
}

case "${1:-}" in
  global)
    printf '%s\n' --runtime "${PODMAN_RUNTIME:-runc}" --cgroup-manager cgroupfs --events-backend file
    ;;
  limits)
    n=$(limit -n 1048576) u=$(limit -u 32768)
    printf '%s\n' --ulimit "nofile=$n:$n" --ulimit "nproc=$u:$u"
    ;;
  *)
    echo "usage: $0 global|limits" >&2
    exit 2
    ;;
esac
