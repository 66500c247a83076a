#!/usr/bin/env bash
# bus_roundtrip: client -> broker -> 2 echo agents -> back, 1 KB envelope (bench/envelope.json),
# C = 1 and C = 64 cases in flight; the workload of ../shared/peers. Env: REPS (3), CONCS ("1 64"),
# WARMUP (1), DURATION (5), M (2 agents), CAPACITY (32 per agent), BENCH_PORT (17101, +1 agents),
# STORAGE (sqlite: the durable store, as deployed; or memory), CURVE (1: every link encrypted and
# authenticated with keys made by casebusctl keygen, docs/security.md).
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
CTL=("$BUILD/tools/casebusctl/casebusctl")
AGENT_ARGS=()
CLIENT_ARGS=()
MODE=plain
if [ "${CURVE:-0}" = 1 ]; then
  MODE=curve
  mkdir -p "$RUNDIR/keys"
  for k in broker agent client; do "${CTL[@]}" keygen "$k" --out "$RUNDIR/keys" >/dev/null; done
  printf 'agent %s\nclient %s\n' "$(cat "$RUNDIR/keys/agent.pub")" "$(cat "$RUNDIR/keys/client.pub")" >"$RUNDIR/keys/authorized_keys"
  SERVER_KEY=$(cat "$RUNDIR/keys/broker.pub")
  printf '{"curve":{"key_file":"%s","authorized_keys":"%s"}}' "$RUNDIR/keys/broker.key" "$RUNDIR/keys/authorized_keys" >"$RUNDIR/broker.json"
  printf '{"curve":{"server_public_key":"%s","key_file":"%s"}}' "$SERVER_KEY" "$RUNDIR/keys/agent.key" >"$RUNDIR/agent.json"
  BROKER_ARGS+=(--config "$RUNDIR/broker.json")
  AGENT_ARGS=(--config "$RUNDIR/agent.json")
  CLIENT_ARGS=(--curve-server-key "$SERVER_KEY" --key-file "$RUNDIR/keys/client.key")
  CTL+=("${CLIENT_ARGS[@]}")
fi
[ -n "${BUSY_POLL_US:-}" ] && BROKER_ARGS+=(--busy-poll-us "$BUSY_POLL_US")
start_bg broker "$BUILD/broker/casebus-broker" --client-endpoint "$CLIENT_EP" --agent-endpoint "$AGENT_EP" --log-level warn "${BROKER_ARGS[@]}"
wait_until 10 port_in_use "$PORT" || { log "broker did not start"; cat "$RUNDIR/broker.log" >&2; exit 3; }
for i in $(seq 1 "$M"); do
  start_bg "echo$i" "$BUILD/agents/echo/casebus-echo" --broker "$AGENT_EP" --worker "echo$i" --capacity "$CAPACITY" --log-level warn "${AGENT_ARGS[@]}"
done
workers_ready() { "${CTL[@]}" --broker "$CLIENT_EP" --json true --timeout-ms 1000 stats | grep -q "\"workers\":$M"; }
wait_until 10 workers_ready || { log "agents did not register"; exit 3; }
log "bus_roundtrip: broker + $M echo agents (capacity $CAPACITY), reps=$REPS concs=[$CONCS] window=${DURATION}s"

: >"$RUNDIR/runs.txt"
for rep in $(seq 1 "$REPS"); do
  for c in $CONCS; do
    "$BUILD/bench/bus_roundtrip" --broker "$CLIENT_EP" --envelope "$BENCH_DIR/envelope.json" -c "$c" \
      --warmup "$WARMUP" --duration "$DURATION" --rep "$rep" "${CLIENT_ARGS[@]}" | tee -a "$RUNDIR/runs.txt" >&2
  done
done
summarize "bus_roundtrip storage=$STORAGE links=$MODE" "$RUNDIR/runs.txt"
