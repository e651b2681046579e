#!/usr/bin/env bash
# docs/ring-supervisor.md shows the marked region of tests/ring/ring_node.cpp
# verbatim (less its indentation); fail if they drift apart.
set -euo pipefail
root=$1
diff <(sed -n '/^<!-- example: tests\/ring\/ring_node.cpp -->$/,/^```$/p' "$root/docs/ring-supervisor.md" | sed '1,2d;$d') \
     <(sed -n '/\/\/ \[example\]/,/\/\/ \[example\]$/p' "$root/tests/ring/ring_node.cpp" | sed '1d;$d' | sed 's/^  //')
