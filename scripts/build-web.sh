#!/usr/bin/env bash
# Builds the web console once per checkout: installs web/node_modules from the committed
# lockfile when it is missing or older than the lockfile (`npm ci`), then bundles web/src with
# esbuild into web/dist (index.html, app.js, app.css), which the gateway build embeds.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node_modules/.bin/tsc --noEmit -p .
node build.mjs
