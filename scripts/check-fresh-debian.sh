#!/usr/bin/env bash
# Proves the README's two commands on a bare Debian 12: makes a minimal root
# (debootstrap --variant=minbase bookworm), installs only git and
# ca-certificates in it, as a user who clones would have, then, as root in a
# chroot and each from a fresh clone of this repository's HEAD:
#   1. bash scripts/demo.sh, until it prints the dashboards, whose pages must
#      answer; then SIGTERM (the demo's Ctrl-C handler; a background job
#      cannot be sent SIGINT) must stop it and its nodes within 30 s;
#   2. bash scripts/test.sh, which must exit 0.
# The demo runs first, so the test command finds the build tools already
# installed by the same install-deps.sh, but must install its own extras
# (chromium, iptables, Node.js/npm) on its own.
#
# Takes about 15-25 minutes; not part of .ci/run. Run it before closing any
# issue that changes dependencies or install steps (see CONTRIBUTING.md).
#
# Usage (as root): scripts/check-fresh-debian.sh [--keep]
#   --keep  leave the root in place (unmounted) to look around afterwards
# Environment: RINGVISOR_FRESH_CACHE (default /var/cache/ringvisor-fresh-debian)
#   holds downloaded .deb files between runs and each run's root and logs;
#   DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
keep=0
[ "${1:-}" = "--keep" ] && keep=1
[ "$(id -u)" -eq 0 ] || { echo "check-fresh-debian: must run as root (debootstrap, chroot, mounts)" >&2; exit 2; }

cache=${RINGVISOR_FRESH_CACHE:-/var/cache/ringvisor-fresh-debian}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
case "$cache/" in "$repo"/*) echo "check-fresh-debian: the cache must be outside the repository" >&2; exit 2 ;; esac
mkdir -p "$cache/debs" "$cache/apt-archives"
root="$cache/root-$(date +%Y%m%d-%H%M%S)"
log="$root.log"

command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}

mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -l "${mounts[$i]}" 2>/dev/null || true
  done
  if findmnt -rn -o TARGET | grep -q "^$root/"; then
    echo "check-fresh-debian: $root still has mounts; not removing it" >&2
  elif [ "$keep" = 0 ]; then
    rm -rf --one-file-system "$root"
  else
    echo "check-fresh-debian: kept $root"
  fi
}
trap cleanup EXIT
bind() { # bind <host path> <path in root>
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2"
  mounts+=("$root$2")
}
# A clean environment, but for where Node.js finds the system's certificate
# authorities, if the host says so (see the CA note below).
root_env=(HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
          LANG=C.UTF-8)
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && root_env+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
in_root() { chroot "$root" /usr/bin/env -i "${root_env[@]}" "$@"; }

echo "check-fresh-debian: root $root, log $log"
start=$SECONDS
debootstrap --variant=minbase --cache-dir="$cache/debs" bookworm "$root" "$mirror" >"$log" 2>&1 ||
  { echo "check-fresh-debian: debootstrap failed; see $log" >&2; exit 1; }
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
mount -t sysfs sys "$root/sys" && mounts+=("$root/sys")
bind /dev /dev
bind /dev/pts /dev/pts
mount -t tmpfs -o mode=1777 shm "$root/dev/shm" && mounts+=("$root/dev/shm")
bind "$cache/apt-archives" /var/cache/apt/archives
bind "$repo" /mnt/source
mount -o remount,bind,ro "$root/mnt/source"
echo "check-fresh-debian: base root ready after $((SECONDS - start)) s"

in_root apt-get update -qq >>"$log" 2>&1
in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git ca-certificates >>"$log" 2>&1
# The host's network, not its software: certificate authorities added
# locally (a TLS-inspecting proxy on the way to the npm registry) are
# trusted in the root too, as on any machine behind that proxy.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  in_root update-ca-certificates >>"$log" 2>&1
fi
head=$(git -C "$repo" rev-parse HEAD)
for dir in demo test; do
  in_root git clone -q /mnt/source "/root/$dir" >>"$log" 2>&1
  in_root git -C "/root/$dir" checkout -q "$head"
done
[ -z "$(git -C "$repo" status --porcelain)" ] ||
  echo "check-fresh-debian: note: uncommitted changes in $repo are not part of the check (HEAD $head)"

# 1. The demo, up to the printed dashboards, then its stop handler.
echo "check-fresh-debian: demo command (bash scripts/demo.sh) ..."
t=$SECONDS
demo_log="$root.demo.log"
setsid chroot "$root" /usr/bin/env -i "${root_env[@]}" \
  bash -c 'cd /root/demo && exec bash scripts/demo.sh' >"$demo_log" 2>&1 </dev/null &
demo=$!
demo_ok=0
for _ in $(seq 1800); do # the release build takes most of it
  grep -q 'node c: http://127.0.0.1:4902/' "$demo_log" && { demo_ok=1; break; }
  kill -0 "$demo" 2>/dev/null || break
  sleep 1
done
if [ "$demo_ok" = 1 ]; then
  token=$(sed -n 's/.*Token for changes.*: //p' "$demo_log" | tr -d ' ')
  for port in 4900 4901 4902; do
    in_root bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && printf 'GET /api/state HTTP/1.0\r\nAuthorization: Bearer $token\r\n\r\n' >&3 && head -1 <&3" |
      grep -q ' 200' || { demo_ok=0; echo "check-fresh-debian: dashboard :$port does not answer 200" >&2; }
  done
fi
kill -TERM "$demo" 2>/dev/null || true
for _ in $(seq 30); do kill -0 "$demo" 2>/dev/null || break; sleep 1; done
if kill -0 "$demo" 2>/dev/null; then
  echo "check-fresh-debian: the demo did not stop within 30 s of SIGTERM" >&2
  kill -KILL -- "-$demo" 2>/dev/null || true
  demo_ok=0
fi
wait "$demo" 2>/dev/null || true
if pgrep -f /root/demo/build/release/apps/dispatch/ringvisor-dispatch >/dev/null; then
  echo "check-fresh-debian: demo nodes still run after the demo stopped" >&2
  pkill -KILL -f /root/demo/build/release/apps/dispatch/ringvisor-dispatch || true
  demo_ok=0
fi
[ "$demo_ok" = 1 ] && demo_result="passed" || demo_result="FAILED (see $demo_log)"
echo "check-fresh-debian: demo: $demo_result after $((SECONDS - t)) s"

# 2. Every test.
echo "check-fresh-debian: test command (bash scripts/test.sh) ..."
t=$SECONDS
test_log="$root.test.log"
if in_root bash -c 'cd /root/test && exec bash scripts/test.sh' >"$test_log" 2>&1 </dev/null; then
  test_result="passed"
else
  test_result="FAILED (see $test_log)"
fi
echo "check-fresh-debian: tests: $test_result after $((SECONDS - t)) s"
grep -E 'tests passed|tests failed out of|^  (asan|dev):' "$test_log" | sed 's/^/  /' || true

# The logs outlive the root.
echo "check-fresh-debian: logs $log $demo_log $test_log; $((SECONDS - start)) s in all"
[ "$demo_result" = passed ] && [ "$test_result" = passed ]
