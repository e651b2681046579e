#!/usr/bin/env bash
# Runs both test presets N times in a row (default 10) while a parallel
# release build of the project, cleaned and started again and again, loads
# the machine: the suite must not depend on an idle machine. Prints one line
# per run and exits non-zero if any run failed; the output of each run is in
# $RINGVISOR_LOAD_LOGS (default build/under-load).
#   scripts/suite-under-load.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10}
logs=${RINGVISOR_LOAD_LOGS:-build/under-load}
mkdir -p "$logs"
for preset in asan dev; do
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(nproc)" >"$logs/build-$preset.log" 2>&1
done
load_dir=$(mktemp -d)
# The load: its own process group, stopped with everything in it.
setsid bash -c "while :; do rm -rf '$load_dir/b'; cmake -S . -B '$load_dir/b' \
  -DCMAKE_BUILD_TYPE=Release -DRINGVISOR_ENABLE_TESTS=OFF >/dev/null 2>&1; \
  cmake --build '$load_dir/b' -j $(nproc) >/dev/null 2>&1; done" &
load=$!
trap 'kill -- -$load 2>/dev/null; wait $load 2>/dev/null; rm -rf "$load_dir"' EXIT
failed=0
for i in $(seq 1 "$n"); do
  for preset in asan dev; do
    start=$SECONDS
    if ctest --preset "$preset" -j "$(nproc)" >"$logs/run-$i-$preset.log" 2>&1; then
      result=passed
    else
      result=FAILED
      failed=1
    fi
    echo "run $i $preset: $result in $((SECONDS - start)) s, load average" \
      "$(cut -d' ' -f1 /proc/loadavg): $(grep -E 'tests (passed|failed)' "$logs/run-$i-$preset.log")"
  done
done
exit "$failed"
