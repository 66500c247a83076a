#!/usr/bin/env bash
# Installs workerd, Cloudflare's Workers runtime, for the Cloudflare Worker's end-to-end test
# (tests/process/worker_test.cpp): `npm ci` in deploy/cloudflare, at exactly the versions its
# package-lock.json pins, from the npm registry (the package brings the binary through its
# platform package, @cloudflare/workerd-linux-64). Idempotent: nothing runs when that version is
# already in deploy/cloudflare/node_modules. Called by tools/install-deps.sh; needs node and npm.
set -euo pipefail

dir="$(cd "$(dirname "$0")/../deploy/cloudflare" && pwd)"

installed_version() {
  [ -x "$dir/node_modules/.bin/workerd" ] || return 0
  # The platform package holds the binary the test runs.
  compgen -G "$dir/node_modules/@cloudflare/workerd-*/bin/workerd" >/dev/null || return 0
  node -e 'try { console.log(require(process.argv[1]).version) } catch { }' "$dir/node_modules/workerd/package.json"
}
locked_version() {
  node -e 'console.log(require(process.argv[1]).packages["node_modules/workerd"].version)' "$dir/package-lock.json"
}

if [ "$(installed_version)" = "$(locked_version)" ]; then
  exit 0
fi
echo "install-deps: npm ci in deploy/cloudflare (workerd $(locked_version))" >&2
npm ci --prefix "$dir" --no-audit --no-fund
