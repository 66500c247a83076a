#!/usr/bin/env bash
# pipeline: the banking workflow end to end, classifier -> fraud_reviewer -> response_drafter ->
# resolved (the seed's "charged twice" message, a new customer per case), through the broker with
# the shipped routing table and policy and one process of each agent with its shipped config.
# C = 1 and C = 64 cases in flight, once per broker store: memory, then sqlite (durable: WAL,
# synchronous=FULL, one commit per loop turn), each with a fresh stack, back to back.
# Env: REPS (3), CONCS ("1 64"), WARMUP (1), DURATION (5), CAPACITY (64 per agent),
# STORAGES ("memory sqlite"), BENCH_PORT (17111, +1 agents).
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
CAPACITY=${CAPACITY:-64}
PORT=${BENCH_PORT:-17111}
CLIENT_EP=tcp://127.0.0.1:$PORT
AGENT_EP=tcp://127.0.0.1:$((PORT + 1))
CONFIG_DIR=$BENCH_DIR/../deploy/config
for p in "$PORT" $((PORT + 1)); do
  port_in_use "$p" && { log "port $p is in use; set BENCH_PORT"; exit 2; }
done

measure() {
  local storage=$1
  start_bg broker "$BUILD/broker/casebus-broker" --config "$CONFIG_DIR/broker.json" --client-endpoint "$CLIENT_EP" \
    --agent-endpoint "$AGENT_EP" --storage "$storage" --state-dir "$RUNDIR/state-$storage" --log-level warn
  wait_until 10 port_in_use "$PORT" || { log "broker did not start"; cat "$RUNDIR/broker.log" >&2; exit 3; }
  start_banking_agents "$BUILD" "$AGENT_EP" "$CAPACITY"
  wait_until 10 banking_agents_ready "$BUILD" "$CLIENT_EP" || { log "agents did not register"; cat "$RUNDIR"/*.log >&2; exit 3; }
  log "pipeline: broker (storage $storage) + classifier, fraud_reviewer, response_drafter, escalation (capacity $CAPACITY), reps=$REPS concs=[$CONCS] window=${DURATION}s"
  : >"$RUNDIR/runs-$storage.txt"
  for rep in $(seq 1 "$REPS"); do
    for c in $CONCS; do
      "$BUILD/bench/bus_roundtrip" --name pipeline --broker "$CLIENT_EP" --envelope "$BENCH_DIR/pipeline_case.json" \
        --expect '"status":"resolved"' -c "$c" --warmup "$WARMUP" --duration "$DURATION" --rep "$rep" | tee -a "$RUNDIR/runs-$storage.txt" >&2
    done
  done
  stop_all
}

for storage in ${STORAGES:-memory sqlite}; do measure "$storage"; done
for storage in ${STORAGES:-memory sqlite}; do summarize "pipeline storage=$storage" "$RUNDIR/runs-$storage.txt"; done
