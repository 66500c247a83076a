#!/usr/bin/env bash
# redact_micro: redact() on a ~300-byte customer message with a card and an e-mail, and on one
# without PII, Google Benchmark medians.
set -euo pipefail
BUILD=${1:-build}
"$BUILD/bench/redact_micro" --benchmark_min_time=0.5 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=csv 2>/dev/null | awk -F, '/_median"?,/ { gsub(/"/, "", $1); sub(/_median$/, "", $1); printf "RESULT name=redact_micro case=%s us=%.3f\n", $1, $3 / 1000 }'
