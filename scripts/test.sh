#!/usr/bin/env bash
# Installs what is missing, builds ringvisor, and runs every test:
#   0. the format of the C++ lines changed since .clang-format came in;
#   1. the sanitizer build (ASan + UBSan) of the unit tests;
#   2. the regular build: unit and integration tests, including a consumer
#      project built against the installed package;
#   3. clang-tidy on the C++ lines changed since scripts/lint-base (with
#      the regular build's compile commands).
# All run even when one fails; the summary names each, and the exit
# code is non-zero if either failed.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --tests
jobs=$(nproc)

# Configures, builds and tests one preset; returns non-zero on the first step that fails.
run_preset() {
  local preset=$1
  cmake --preset "$preset" >/dev/null &&
    cmake --build --preset "$preset" -j "$jobs" &&
    ctest --preset "$preset" -j "$jobs"
}

summary=()
failed=0
echo "== format =="
if scripts/check-format.sh; then
  summary+=("format: passed")
else
  summary+=("format: FAILED (the lines to fix are above)")
  failed=1
fi
for preset in asan dev; do
  echo "== preset $preset =="
  start=$SECONDS
  if run_preset "$preset"; then
    summary+=("$preset: passed ($((SECONDS - start)) s)")
  else
    summary+=("$preset: FAILED ($((SECONDS - start)) s; its output is above)")
    failed=1
  fi
done

echo "== lint =="
if [ -f build/dev/compile_commands.json ] && scripts/check-tidy.sh build/dev; then
  summary+=("lint: passed")
else
  summary+=("lint: FAILED (the lines to fix are above)")
  failed=1
fi

echo "== summary =="
printf '  %s\n' "${summary[@]}"
exit "$failed"
