#!/usr/bin/env bash
# Installs what is missing, builds ringvisor, and runs the demo: a supervision
# tree whose workers crash on purpose and are restarted. Ctrl-C stops it.
# Extra arguments go to the demo, e.g. --demo.crash-probability=0.2
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target ringvisor-supervision-demo
exec build/release/apps/supervision-demo/ringvisor-supervision-demo "$@"
