#!/usr/bin/env bash
# Installs the Debian 12 packages ringvisor needs, skipping those already
# installed. Needs root (or sudo) only when something is missing.
#   install-deps.sh          what the build and the demo need
#   install-deps.sh --tests  also what the tests need: iptables (partitions),
#                            chromium and npm (the browser test; npm fetches
#                            the Node.js runtime that the test runs on), git,
#                            clang-format and clang-tidy (format and lint)
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libcaf-dev libfmt-dev libspdlog-dev doctest-dev libxxhash-dev libsqlite3-dev libssl-dev
  libcpp-httplib-dev nlohmann-json3-dev prometheus-cpp-dev
  sqlite3 # the job-runner example's table, from the shell
)
if [ "${1:-}" = "--tests" ]; then
  packages+=(iptables chromium git clang-format clang-tidy)
  # Any Node.js and npm will do to run npm once (Debian's 18 does): the browser
  # test brings its own Node.js LTS from the npm registry.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
