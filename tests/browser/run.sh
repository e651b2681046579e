#!/usr/bin/env bash
# Runs the dashboard browser test: installs playwright-core (pinned in
# package.json) into tests/browser/.npm once, then drives /usr/bin/chromium.
# Usage: run.sh <ringvisor-dispatch binary> <output folder for screenshots>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"
out="$2"
mkdir -p "$out"

command -v node >/dev/null || { echo "run.sh: node is missing: run scripts/install-deps.sh" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "run.sh: /usr/bin/chromium is missing: run scripts/install-deps.sh" >&2; exit 1; }

npm_dir="$here/.npm"
if ! cmp -s "$here/package.json" "$npm_dir/package.json" \
   || [ ! -d "$npm_dir/node_modules/playwright-core" ]; then
  mkdir -p "$npm_dir"
  cp "$here/package.json" "$npm_dir/package.json"
  (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error)
fi

export PLAYWRIGHT_CORE="$npm_dir/node_modules/playwright-core"
exec node "$here/dashboard.test.cjs" "$bin" "$out"
