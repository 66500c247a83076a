#!/usr/bin/env bash
# agents_micro: each agent's logic per task (classify + result JSON), Google Benchmark medians.
set -euo pipefail
BUILD=${1:-build}
"$BUILD/bench/agents_micro" --benchmark_min_time=0.5 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_format=csv 2>/dev/null | awk -F, '/_median"?,/ { gsub(/"/, "", $1); sub(/_median$/, "", $1); printf "RESULT name=agents_micro agent=%s us=%.1f\n", $1, $3 / 1000 }'
