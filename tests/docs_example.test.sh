#!/usr/bin/env bash
# A doc shows the region of a source file between two `// [example]` lines
# verbatim (less the markers' indentation), in the code block after
# `<!-- example: SOURCE -->`; fail if they drift apart.
# Usage: docs_example.test.sh ROOT DOC SOURCE
set -euo pipefail
root=$1 doc=$2 src=$3
region=$(sed -n '/\/\/ \[example\]/,/\/\/ \[example\]$/p' "$root/$src")
[ -n "$region" ] || { echo "FAIL: no // [example] region in $src"; exit 1; }
indent=$(head -1 <<< "$region" | sed 's|//.*||')
shown=$(awk -v m="<!-- example: $src -->" '$0 == m {on = 1; next} on && /^```/ {n++; if (n == 2) exit; next} on && n == 1' "$root/$doc")
[ -n "$shown" ] || { echo "FAIL: $doc shows no example of $src"; exit 1; }
diff <(echo "$shown") <(sed '1d;$d' <<< "$region" | sed "s|^$indent||")
