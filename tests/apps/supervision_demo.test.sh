#!/usr/bin/env bash
# Runs the supervision demo as a real process with frequent crashes and checks
# its log: workers crash, supervisors restart them, rest_for_one spares the
# children before the crashed one, and the node stops cleanly by itself.
set -euo pipefail
demo=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
timeout 30 "$demo" --demo.duration=3s --demo.tick=20ms --demo.crash-probability=0.05 >"$out" 2>&1
fail() { echo "FAIL: $*"; echo "--- demo output (tail) ---"; tail -40 "$out"; exit 1; }
grep -q "event=worker_crashing" "$out" || fail "no worker crashed"
grep -q "event=child_restarting sup=tickers" "$out" || fail "tickers never restarted a child"
grep -q "event=child_restarting sup=pipeline .*strategy=rest_for_one" "$out" || fail "pipeline never restarted with rest_for_one"
grep -q "event=node_stopped" "$out" || fail "node did not stop cleanly"
echo "crashes: $(grep -c event=worker_crashing "$out"), restarts: $(grep -c event=child_restarting "$out"), escalations: $(grep -c event=escalate "$out" || true)"
