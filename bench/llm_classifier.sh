#!/usr/bin/env bash
# llm_classifier: one casebus-classifier process in settings.mode "llm" (capacity 256) against a
# fake Messages API that answers every call after 500 ms (bench/fake_model.cpp), through the broker
# (memory store). C = 256 cases in flight, each one model call. Reports completed tasks/s and the
# classifier's peak RSS. Env: REPS (3), DURATION (10), WARMUP (2), DELAY_MS (500), CAPACITY (256),
# BENCH_PORT (17131, +1 agents).
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
CAPACITY=${CAPACITY:-256}
DELAY_MS=${DELAY_MS:-500}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
PORT=${BENCH_PORT:-17131}
CLIENT_EP=tcp://127.0.0.1:$PORT
AGENT_EP=tcp://127.0.0.1:$((PORT + 1))
for p in "$PORT" $((PORT + 1)); do
  port_in_use "$p" && { log "port $p is in use; set BENCH_PORT"; exit 2; }
done
start_bg fake_model "$BUILD/bench/fake_model" --delay-ms "$DELAY_MS"
FAKE_PID=${PIDS[-1]}
wait_until 10 grep -q '^URL=' "$RUNDIR/fake_model.log" || { log "fake model did not start"; exit 3; }
URL=$(grep '^URL=' "$RUNDIR/fake_model.log" | head -1 | cut -d= -f2-)
start_bg broker "$BUILD/broker/casebus-broker" --client-endpoint "$CLIENT_EP" --agent-endpoint "$AGENT_EP" --storage memory --log-level warn
wait_until 10 port_in_use "$PORT" || { log "broker did not start"; exit 3; }
cat >"$RUNDIR/classifier.json" <<EOT
{"settings": {"mode": "llm", "prompt_file": "$BENCH_DIR/../agents/classifier/prompts/classify.v1.txt",
              "provider": {"provider": "anthropic", "base_url": "$URL", "model": "fake-model", "api_key_env": "CASEBUS_BENCH_LLM_KEY",
                           "max_idle_connections": 512}}}
EOT
CASEBUS_BENCH_LLM_KEY=bench-key-not-a-secret start_bg classifier "$BUILD/agents/classifier/casebus-classifier" \
  --config "$RUNDIR/classifier.json" --broker "$AGENT_EP" --capacity "$CAPACITY" --log-level warn
CLASSIFIER_PID=${PIDS[-1]}
workers_ready() { "$BUILD/tools/casebusctl/casebusctl" --broker "$CLIENT_EP" --json true --timeout-ms 1000 stats | grep -q '"workers":1'; }
wait_until 10 workers_ready || { log "classifier did not register"; cat "$RUNDIR"/*.log >&2; exit 3; }
log "llm_classifier: classifier (mode llm, capacity $CAPACITY) -> fake Messages API (${DELAY_MS} ms per call), reps=$REPS C=$CAPACITY window=${DURATION}s"
: >"$RUNDIR/runs.txt"
for rep in $(seq 1 "$REPS"); do
  "$BUILD/bench/bus_roundtrip" --name llm_classifier --broker "$CLIENT_EP" --envelope "$BENCH_DIR/llm_case.json" \
    --expect '"llm:fake-model/classify.v1.txt"' -c "$CAPACITY" --warmup "$WARMUP" --duration "$DURATION" --rep "$rep" | tee -a "$RUNDIR/runs.txt" >&2
done
RSS_MB=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$CLASSIFIER_PID/status")
summarize "llm_classifier delay_ms=$DELAY_MS" "$RUNDIR/runs.txt" | sed "s/\$/ classifier_rss_mb=$RSS_MB/"
