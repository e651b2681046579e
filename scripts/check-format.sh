#!/usr/bin/env bash
# Checks that the C++ lines changed since .clang-format was committed follow
# it. Only changed lines: the code base is not reformatted wholesale, and a
# file that moved counts only the lines that changed with it (git diff -M).
# Prints the diff that would fix them, and how. With --fix, fixes them.
set -euo pipefail
cd "$(dirname "$0")/.."

base=$(git log --format=%H --diff-filter=A -- .clang-format | tail -1)
if [ -z "$base" ]; then
  echo "check-format: .clang-format is not committed" >&2
  exit 1
fi
changed() {
  git diff -M -U0 --no-color "$base" -- '*.cpp' '*.hpp' '*.h'
}
if [ "${1:-}" = --fix ]; then
  changed | clang-format-diff-14 -p1 -i
  exit 0
fi
out=$(changed | clang-format-diff-14 -p1)
if [ -z "$out" ]; then
  echo "check-format: the lines changed since ${base:0:12} follow .clang-format"
  exit 0
fi
echo "$out"
echo "check-format: the lines above do not follow .clang-format; fix them with" >&2
echo "  scripts/check-format.sh --fix" >&2
exit 1
