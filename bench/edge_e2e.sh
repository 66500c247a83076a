#!/usr/bin/env bash
# edge_e2e: HTTP POST /v1/cases with Prefer: wait=10 through casebus-edge -> broker -> classifier ->
# fraud_reviewer -> response_drafter -> resolved, driven by wrk (Debian's package) with C
# connections, keep-alive, one wrk thread. Every response must be 200 with a resolved case (the
# Lua script checks; wrk counts non-2xx). Env: REPS (3), CONCS ("1 64"), WARMUP (1), DURATION (5),
# BENCH_PORT (17121: broker +1 agents, +2 HTTP), BUSY_POLL_US (the broker's busy_poll_us), STORAGE
# (sqlite: the durable store, as deployed; or memory).
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
PORT=${BENCH_PORT:-17121}
CLIENT_EP=tcp://127.0.0.1:$PORT
AGENT_EP=tcp://127.0.0.1:$((PORT + 1))
HTTP=127.0.0.1:$((PORT + 2))
CONFIG_DIR=$BENCH_DIR/../deploy/config
command -v wrk >/dev/null || { log "wrk is not installed (tools/install-deps.sh installs it)"; exit 2; }
for p in "$PORT" $((PORT + 1)) $((PORT + 2)); do
  port_in_use "$p" && { log "port $p is in use; set BENCH_PORT"; exit 2; }
done

TOKEN=bench-token-not-for-production
SHA=$(printf '%s' "$TOKEN" | sha256sum | cut -d' ' -f1)
cat >"$RUNDIR/edge.json" <<EOT
{"listen": "$HTTP", "broker_endpoint": "$CLIENT_EP", "max_connections": 4096,
 "tenants": {"bench": {"bearer_sha256": ["$SHA"], "rate_per_s": 1000000, "burst": 1000000,
                       "customer_rate_per_s": 100, "customer_burst": 100, "max_in_flight": 100000}},
 "log": {"level": "warn"}}
EOT
BROKER_ARGS=(--storage "$STORAGE" --state-dir "$RUNDIR/state")
[ -n "${BUSY_POLL_US:-}" ] && BROKER_ARGS+=(--busy-poll-us "$BUSY_POLL_US")
start_bg broker "$BUILD/broker/casebus-broker" --config "$CONFIG_DIR/broker.json" --client-endpoint "$CLIENT_EP" \
  --agent-endpoint "$AGENT_EP" --log-level warn "${BROKER_ARGS[@]}"
wait_until 10 port_in_use "$PORT" || { log "broker did not start"; cat "$RUNDIR/broker.log" >&2; exit 3; }
start_banking_agents "$BUILD" "$AGENT_EP" 64
start_bg edge "$BUILD/edge/http/casebus-edge" --config "$RUNDIR/edge.json"
ready() { curl -sf "http://$HTTP/readyz" >/dev/null; }
wait_until 10 ready || { log "edge not ready"; cat "$RUNDIR"/*.log >&2; exit 3; }
log "edge_e2e: edge + broker + classifier, fraud_reviewer, response_drafter, escalation; wrk -t1; reps=$REPS concs=[$CONCS] window=${DURATION}s"

: >"$RUNDIR/runs.txt"
for rep in $(seq 1 "$REPS"); do
  for c in $CONCS; do
    REP="w$rep" C=$c EDGE_TOKEN=$TOKEN wrk -t1 -c"$c" -d"${WARMUP}s" -s "$BENCH_DIR/edge_e2e.lua" "http://$HTTP" >/dev/null
    REP="$rep" C=$c EDGE_TOKEN=$TOKEN wrk -t1 -c"$c" -d"${DURATION}s" --timeout 20s -s "$BENCH_DIR/edge_e2e.lua" "http://$HTTP" \
      | grep '^RUN ' | tee -a "$RUNDIR/runs.txt" >&2
  done
done
summarize "edge_e2e storage=$STORAGE" "$RUNDIR/runs.txt"
