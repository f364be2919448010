#!/usr/bin/env bash
# Installs the Debian 12 packages Sallyport builds and tests with, only those missing.
# Usage: scripts/install-deps.sh [build|test]   (test adds the tools the test suite drives)
set -euo pipefail
mode="${1:-build}"

build_packages=(build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libboost1.81-dev libboost-json1.81-dev libssl-dev libsodium-dev libsqlite3-dev libpq-dev
  libcurl4-openssl-dev libcli11-dev libspdlog-dev libtomlplusplus-dev nlohmann-json3-dev
  libgtest-dev openssl libzstd-dev)
test_packages=(clang libclang-rt-14-dev openssh-client openssh-server socat procps python3 chromium
  asciinema rsyslog s3cmd rsync postgresql)

packages=("${build_packages[@]}")
# The web console is bundled with npm (from web/package-lock.json); any Node.js >= 18 will do,
# so Debian's is installed only when the machine has none.
command -v npm >/dev/null || packages+=(nodejs npm)
[ "$mode" = test ] && packages+=("${test_packages[@]}")

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The recording tests' S3-compatible server (npm package s3rver, pinned by its lockfile).
s3rver_dir="$(dirname "$0")/../tests/e2e/s3rver"
if [ "$mode" = test ] && [ ! -x "$s3rver_dir/node_modules/.bin/s3rver" ]; then
  echo "Installing s3rver (npm ci in tests/e2e/s3rver)"
  npm ci --prefix "$s3rver_dir" --no-audit --no-fund --loglevel=error
fi
