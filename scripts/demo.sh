#!/usr/bin/env bash
# The superhero dispatch demo: installs what is missing, builds, starts a
# 3-node cluster on loopback (dashboards on ports 4900-4902, cluster ports
# 4910-4912), creates a few heroes and prints the dashboards' addresses and
# the token. Ctrl-C stops every node in order. See docs/demo.md.
#
# Environment: RINGVISOR_TOKEN (default: a random one), RINGVISOR_TICK
# (how often heroes act, default 1s).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target ringvisor-dispatch ringvisor-ctl

bin=build/release/apps/dispatch/ringvisor-dispatch
ctl=build/release/apps/ctl/ringvisor-ctl
run=build/release/demo
mkdir -p "$run"
token=${RINGVISOR_TOKEN:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
# The cluster secret: every node and ringvisor-ctl prove it to each other.
secret=$PWD/$run/secret
[ -s "$secret" ] || (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$secret")
chmod 600 "$secret"
tick=${RINGVISOR_TICK:-1s}
names=(a b c)
heroes='["Batman","Wonder Woman","Storm","Black Panther","Captain Marvel","Spider-Man","Rogue","Thor"]'

for port in 4900 4901 4902 4910 4911 4912; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: port $port is taken; stop what listens there (ss -ltnp 'sport = :$port')" >&2
    exit 1
  fi
done

# Every node process, also one started again by restart-<name>.sh, writes
# its pid to <name>.pid: Ctrl-C stops them all.
pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "demo: stopping the nodes"
  local f pid alive=()
  for f in "$run"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f") && kill -TERM "$pid" 2>/dev/null && alive+=("$pid")
    rm -f "$f"
  done
  for _ in $(seq 100); do # 10 s to leave in order, then kill -9
    local left=()
    for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && return
    alive=("${left[@]}")
    sleep 0.1
  done
  echo "demo: nodes ${alive[*]} did not stop within 10 s; killing them" >&2
  kill -KILL "${alive[@]}" 2>/dev/null || true
}
trap stop_all INT TERM EXIT
rm -f "$run"/*.pid

# Each node knows the other two as seeds; restart-<name>.sh starts it again.
for i in 0 1 2; do
  name=${names[$i]}
  seeds=()
  for j in 0 1 2; do [ "$j" != "$i" ] && seeds+=("\"127.0.0.1:$((4910 + j))\""); done
  args=(--ringvisor.name="$name" --ringvisor.port=$((4910 + i)) --ringvisor.secret-file="$secret"
        "--ringvisor.seeds=[$(IFS=,; echo "${seeds[*]}")]" --ringvisor.data-dir="$PWD/$run/$name.data"
        --dispatch.http-port=$((4900 + i)) --dispatch.token="$token" --dispatch.tick="$tick")
  [ "$i" = 0 ] && args+=("--dispatch.heroes=$heroes")
  printf '#!/bin/sh\n# Starts node %s of the demo again (after a kill -9 or a stop from the page).\necho $$ > %q\nexec %q' \
    "$name" "$PWD/$run/$name.pid" "$PWD/$bin" > "$run/restart-$name.sh"
  printf ' %q' "${args[@]}" >> "$run/restart-$name.sh"
  printf ' >> %q 2>&1\n' "$PWD/$run/$name.log" >> "$run/restart-$name.sh"
  chmod +x "$run/restart-$name.sh"
  "$PWD/$bin" "${args[@]}" > "$run/$name.log" 2>&1 &
  pids+=($!)
  echo $! > "$run/$name.pid"
done

for i in 0 1 2; do
  for _ in $(seq 100); do
    grep -q '^dashboard ' "$run/${names[$i]}.log" && break
    kill -0 "${pids[$i]}" 2>/dev/null || { echo "demo: node ${names[$i]} failed:" >&2; tail -5 "$run/${names[$i]}.log" >&2; exit 1; }
    sleep 0.1
  done
done

cat <<EOF

  ringvisor dispatch: 3 nodes on loopback, heroes fighting crime.

  Dashboards (the token is in the link; the page keeps it):
    node a: http://127.0.0.1:4900/?token=$token
    node b: http://127.0.0.1:4901/?token=$token
    node c: http://127.0.0.1:4902/?token=$token

  Token for changes (curl -H 'Authorization: Bearer ...'): $token

  Try:
    stop a node from its card in the page; its heroes move with their records
    kill -9 a node:          kill -9 \$(cat $run/b.pid)
    hang it, then resume:    kill -STOP \$(cat $run/b.pid); kill -CONT \$(cat $run/b.pid)
    start it again:          $run/restart-b.sh &
    ask the cluster:         export RINGVISOR_SECRET=\$(cat $run/secret)
                             $ctl which-children heroes
                             $ctl call heroes batman get
    metrics:                 curl -s http://127.0.0.1:4900/metrics
  Logs: $run/{a,b,c}.log   Ctrl-C stops all nodes.

EOF
while :; do sleep 1 & wait $!; done # until Ctrl-C
