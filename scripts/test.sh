#!/usr/bin/env bash
# Installs what is missing, builds ringvisor, and runs every test:
#   1. the sanitizer build (ASan + UBSan) of the unit tests;
#   2. the regular build: unit and integration tests, including a consumer
#      project built against the installed package.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --tests
jobs=$(nproc)

echo "== sanitizer build (asan) =="
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$jobs"
ctest --preset asan -j "$jobs"

echo "== regular build (dev) =="
cmake --preset dev >/dev/null
cmake --build --preset dev -j "$jobs"
ctest --preset dev -j "$jobs"
