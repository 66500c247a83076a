#!/usr/bin/env bash
# Installs the Debian 12 packages casebus needs to build, test and run. Idempotent: packages that
# are already installed are skipped, and apt is not touched at all when nothing is missing.
# Everything comes from Debian's archive, except workerd (Cloudflare's Workers runtime, for the
# Worker's tests), which comes from the npm registry (install-worker-deps.sh). Nothing is vendored.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build ccache make pkg-config
  libboost1.81-dev libboost-program-options1.81-dev libboost-system1.81-dev
  libzmq3-dev cppzmq-dev
  nlohmann-json3-dev libsimdjson-dev
  libspdlog-dev libfmt-dev
  libsystemd-dev libssl-dev libsqlite3-dev libsqlitecpp-dev librdkafka-dev kcat
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk curl jq
  dpkg-dev file systemd
)

# node and npm for the Cloudflare Worker's tests (deploy/cloudflare): the machine's own when it has
# them, else Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# workerd, Cloudflare's runtime, for the Worker's end-to-end test: from the npm registry.
"$(dirname "$0")/install-worker-deps.sh"
