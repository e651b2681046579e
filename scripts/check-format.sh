#!/usr/bin/env bash
# Checks that the C++ lines changed since .clang-format was committed follow
# it. Only changed lines (git clang-format): the code base is not
# reformatted wholesale. Prints the diff that would fix them, and how.
set -euo pipefail
cd "$(dirname "$0")/.."

base=$(git log --format=%H --diff-filter=A -- .clang-format | tail -1)
if [ -z "$base" ]; then
  echo "check-format: .clang-format is not committed" >&2
  exit 1
fi
out=$(git clang-format --diff --extensions cpp,hpp,h "$base" 2>&1) || true
case "$out" in
  "" | "no modified files to format" | "clang-format did not modify any files")
    echo "check-format: the lines changed since ${base:0:12} follow .clang-format"
    exit 0
    ;;
esac
echo "$out"
echo "check-format: the lines above do not follow .clang-format; fix them with" >&2
echo "  git clang-format $base" >&2
exit 1
