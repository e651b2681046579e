#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) on the C++ lines changed since the commit in
# scripts/lint-base (lines before it passed when they landed), with the
# compile commands of a build (default: build/dev, which
# CMAKE_EXPORT_COMPILE_COMMANDS gives one). Only changed lines, as the
# format check: the code base is not linted wholesale. Usage:
#   check-tidy.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

build=${1:-build/dev}
if [ ! -f "$build/compile_commands.json" ]; then
  echo "check-tidy: no $build/compile_commands.json; configure the dev preset first" >&2
  exit 1
fi
base=$(grep -v '^#' scripts/lint-base)
if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
  echo "check-tidy: scripts/lint-base names no commit of this repository: $base" >&2
  exit 1
fi
# Sources the build compiles (tests/consumer is a project of its own, built
# against the installed package), and every header.
files=()
while IFS= read -r f; do
  if [[ $f == *.hpp ]] || grep -qF "\"file\": \"$PWD/$f\"" "$build/compile_commands.json"; then
    files+=("$f")
  fi
done < <(git diff -M --name-only --diff-filter=d "$base" -- '*.cpp' '*.hpp')
if [ ${#files[@]} -eq 0 ]; then
  echo "check-tidy: no C++ lines changed since ${base:0:12}"
  exit 0
fi
# clang-tidy-diff prints what clang-tidy found and exits 0 either way.
out=$(git diff -M -U0 --no-color "$base" -- "${files[@]}" |
  clang-tidy-diff-14.py -p1 -path "$build" -j "$(nproc)" -quiet 2>&1)
if grep -qE '^[^ ]+:[0-9]+:[0-9]+: (error|warning): ' <<< "$out"; then
  echo "$out"
  echo "check-tidy: clang-tidy found the problems above in lines changed since ${base:0:12}" >&2
  exit 1
fi
echo "check-tidy: the lines changed since ${base:0:12} pass .clang-tidy"
