#!/usr/bin/env bash
# Runs the dashboard browser test: installs playwright-core (pinned in
# package.json) into tests/browser/.npm once, then drives /usr/bin/chromium.
# Usage: run.sh <ringvisor-dispatch binary> <output folder for screenshots>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"
out="$2"
mkdir -p "$out"

# Without the tools the test cannot run: ctest reports it skipped (77).
command -v node >/dev/null || { echo "SKIPPED: node is missing: run scripts/install-deps.sh --tests"; exit 77; }
command -v npm >/dev/null || { echo "SKIPPED: npm is missing: run scripts/install-deps.sh --tests"; exit 77; }
[ -x /usr/bin/chromium ] || { echo "SKIPPED: /usr/bin/chromium is missing: run scripts/install-deps.sh --tests"; exit 77; }

npm_dir="$here/.npm"
if ! cmp -s "$here/package.json" "$npm_dir/package.json" \
   || [ ! -d "$npm_dir/node_modules/playwright-core" ]; then
  mkdir -p "$npm_dir"
  cp "$here/package.json" "$npm_dir/package.json"
  (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error)
fi

export PLAYWRIGHT_CORE="$npm_dir/node_modules/playwright-core"
exec node "$here/dashboard.test.cjs" "$bin" "$out"
