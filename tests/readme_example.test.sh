#!/usr/bin/env bash
# The README shows apps/quickstart/main.cpp verbatim; fail if they drift apart.
set -euo pipefail
root=$1
diff <(sed -n '/^```cpp$/,/^```$/p' "$root/README.md" | sed '1d;$d') "$root/apps/quickstart/main.cpp"
