#!/usr/bin/env bash
# bus_roundtrip: client -> broker -> 2 echo agents -> back, 1 KB envelope (bench/envelope.json),
# C = 1 and C = 64 cases in flight; the workload of ../shared/peers. Env: REPS (3), CONCS ("1 64"),
# WARMUP (1), DURATION (5), M (2 agents), CAPACITY (32 per agent), BENCH_PORT (17101, +1 agents),
# STORAGE (sqlite: the durable store, as deployed; or memory).
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
M=${M:-2}
CAPACITY=${CAPACITY:-32}
PORT=${BENCH_PORT:-17101}
CLIENT_EP=tcp://127.0.0.1:$PORT
AGENT_EP=tcp://127.0.0.1:$((PORT + 1))
for p in "$PORT" $((PORT + 1)); do
  port_in_use "$p" && { log "port $p is in use; set BENCH_PORT"; exit 2; }
done

BROKER_ARGS=(--storage "$STORAGE" --state-dir "$RUNDIR/state")
[ -n "${BUSY_POLL_US:-}" ] && BROKER_ARGS+=(--busy-poll-us "$BUSY_POLL_US")
start_bg broker "$BUILD/broker/casebus-broker" --client-endpoint "$CLIENT_EP" --agent-endpoint "$AGENT_EP" --log-level warn "${BROKER_ARGS[@]}"
wait_until 10 port_in_use "$PORT" || { log "broker did not start"; cat "$RUNDIR/broker.log" >&2; exit 3; }
for i in $(seq 1 "$M"); do
  start_bg "echo$i" "$BUILD/agents/echo/casebus-echo" --broker "$AGENT_EP" --worker "echo$i" --capacity "$CAPACITY" --log-level warn
done
workers_ready() { "$BUILD/tools/casebusctl/casebusctl" --broker "$CLIENT_EP" --json true --timeout-ms 1000 stats | grep -q "\"workers\":$M"; }
wait_until 10 workers_ready || { log "agents did not register"; exit 3; }
log "bus_roundtrip: broker + $M echo agents (capacity $CAPACITY), reps=$REPS concs=[$CONCS] window=${DURATION}s"

: >"$RUNDIR/runs.txt"
for rep in $(seq 1 "$REPS"); do
  for c in $CONCS; do
    "$BUILD/bench/bus_roundtrip" --broker "$CLIENT_EP" --envelope "$BENCH_DIR/envelope.json" -c "$c" \
      --warmup "$WARMUP" --duration "$DURATION" --rep "$rep" | tee -a "$RUNDIR/runs.txt" >&2
  done
done
summarize "bus_roundtrip storage=$STORAGE" "$RUNDIR/runs.txt"
