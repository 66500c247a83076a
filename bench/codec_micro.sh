#!/usr/bin/env bash
# codec_micro: envelope decode/encode against nlohmann parse/dump on the 1 KB bench envelope.
set -euo pipefail
BUILD=${1:-build}
"$BUILD/bench/codec_micro" --benchmark_min_time=0.5 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=csv 2>/dev/null | awk -F, '/_median"?,/ { gsub(/"/, "", $1); sub(/_median$/, "", $1); printf "RESULT name=codec_micro op=%s ns=%.0f\n", $1, $3 }'
