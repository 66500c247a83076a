#!/usr/bin/env bash
# ingest: casebus-ingest draining a burst from Kafka (docs/event-bus.md). A Kafka cluster on
# loopback (casebus-kafka-mock: librdkafka's mock cluster), the broker with the shipped banking
# workflow and its outbox on (deploy/config/broker.json + "outbox": {"enabled": true}, durable
# store in the run directory), one process of each agent with its shipped config (embedded, no
# model). EVENTS support messages (several customers and texts, so cases take different routes)
# are produced to core.messages with kcat BEFORE casebus-ingest starts; then bench/ingest_watch
# takes t0, the ingest starts, and the watcher samples the broker's counters, the group's committed
# offsets and the outcomes topic's end offsets until every event is a completed case, committed,
# with its outcome on Kafka. One RESULT line: eps (events / time to the last completed case),
# first_case_ms, drain_s (committed lag 0), max_lag and lag at 1, 5 and 10 s, outbox_s (all
# outcomes on the outcomes topic). A fresh stack per rep.
# Env: EVENTS (100000), REPS (1), PARTITIONS (4), CAPACITY (64 per agent), SAMPLE_MS (250),
# WAIT_S (200: per rep, after the ingest starts), LIMIT_S (watchdog, 300 per rep), STORAGE
# (sqlite), BENCH_PORT (17141, +1 agents).
REPS=${REPS:-1}
LIMIT_S=${LIMIT_S:-$((300 * REPS))}
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
EVENTS=${EVENTS:-100000}
PARTITIONS=${PARTITIONS:-4}
CAPACITY=${CAPACITY:-64}
SAMPLE_MS=${SAMPLE_MS:-250}
WAIT_S=${WAIT_S:-200}
PORT=${BENCH_PORT:-17141}
CLIENT_EP=tcp://127.0.0.1:$PORT
AGENT_EP=tcp://127.0.0.1:$((PORT + 1))
CONFIG_DIR=$BENCH_DIR/../deploy/config
TOPIC=core.messages
GROUP=casebus-ingest-bench
for p in "$PORT" $((PORT + 1)); do
  port_in_use "$p" && { log "port $p is in use; set BENCH_PORT"; exit 2; }
done
for bin in broker/casebus-broker agents/classifier/casebus-classifier agents/fraud_reviewer/casebus-fraud-reviewer \
  agents/response_drafter/casebus-response-drafter agents/escalation/casebus-escalation edge/kafka/casebus-ingest \
  tests/casebus-kafka-mock tools/casebusctl/casebusctl bench/ingest_watch; do
  [ -x "$BUILD/$bin" ] || { log "missing $BUILD/$bin: build it first (make build)"; exit 2; }
done
command -v kcat >/dev/null || { log "kcat is not installed (Debian package kcat; tools/install-deps.sh)"; exit 2; }

fail() { log "ingest: $*"; exit 3; }
show_logs() { for f in "$@"; do [ -f "$RUNDIR/$f.log" ] && { echo "--- $f.log (tail)" >&2; tail -20 "$RUNDIR/$f.log" >&2; }; done; }
alive() { kill -0 "$1" 2>/dev/null; }

# The events: key (the customer, so a customer's events stay in order on one partition), a tab,
# the event. 25,000 customers (each comes back every 25,000 events: the fraud reviewer's repeat
# window sees returning customers) and six texts, four routes: balance (classifier -> response
# drafter: resolved), charged twice and a declined card (classifier -> fraud reviewer -> response
# drafter: resolved), an unrecognised merchant and a refund (classifier -> fraud reviewer ->
# escalation: escalated), a vague question (classifier -> escalation: escalated).
awk -v n="$EVENTS" 'BEGIN {
  t[0] = "What is my current balance?"
  t[1] = "I was charged twice on my debit card yesterday."
  t[2] = "I see a card charge from a merchant I do not recognize."
  t[3] = "Customer says their card was declined at checkout."
  t[4] = "Refund $42.50 USD for invoice INV-1042 because duplicate charge was detected."
  t[5] = "Hello, I have a question about my account."
  for (i = 0; i < n; i++) printf "cust-b%d\t{\"tenant\":\"acme\",\"customer\":\"cust-b%d\",\"text\":\"%s\"}\n", i % 25000, i % 25000, t[i % 6]
}' >"$RUNDIR/events.txt"
jq '. + {"outbox": {"enabled": true}}' "$CONFIG_DIR/broker.json" >"$RUNDIR/broker.json" || fail "cannot write the broker's config"

rep_once() {
  local rep=$1
  # Kafka: the input topic, the dead-letter topic and the outbox's topics.
  start_bg kafka "$BUILD/tests/casebus-kafka-mock" "$TOPIC:$PARTITIONS" casebus.dead-letter:1 casebus.outcomes:"$PARTITIONS" casebus.actions:1
  # It prints the bootstrap servers (host:port,...) on its first line of stdout once it serves.
  local servers='^[0-9A-Za-z.-]+:[0-9]+(,[0-9A-Za-z.-]+:[0-9]+)*$' kafka
  wait_until 10 grep -qE "$servers" "$RUNDIR/kafka.log" || { show_logs kafka; fail "the Kafka mock cluster did not start"; }
  kafka=$(grep -m1 -E "$servers" "$RUNDIR/kafka.log")

  start_bg broker "$BUILD/broker/casebus-broker" --config "$RUNDIR/broker.json" --client-endpoint "$CLIENT_EP" \
    --agent-endpoint "$AGENT_EP" --storage "$STORAGE" --state-dir "$RUNDIR/state-$rep" --log-level warn
  local broker_pid=${PIDS[-1]}
  wait_until 10 port_in_use "$PORT" || { show_logs broker; fail "the broker did not start"; }
  start_banking_agents "$BUILD" "$AGENT_EP" "$CAPACITY"
  wait_until 10 banking_agents_ready "$BUILD" "$CLIENT_EP" || { show_logs broker classifier fraud-reviewer response-drafter escalation; fail "the agents did not register"; }

  # The burst, all on Kafka before the ingest exists.
  local t
  t=$(date +%s%N)
  kcat -P -q -b "$kafka" -t "$TOPIC" -K $'\t' -X linger.ms=20 -X queue.buffering.max.messages=1000000 \
    -l "$RUNDIR/events.txt" 2>"$RUNDIR/kcat.log" || { show_logs kcat; fail "kcat could not produce the events"; }
  log "ingest: rep $rep: $EVENTS events produced to $TOPIC ($PARTITIONS partitions) in $(( ($(date +%s%N) - t) / 1000000 )) ms"

  cat >"$RUNDIR/ingest.json" <<EOT
{"brokers": "$kafka", "broker_endpoint": "$CLIENT_EP", "group_id": "$GROUP", "instance": "bench-ingest",
 "dead_letter_topic": "casebus.dead-letter",
 "topics": [{"name": "$TOPIC", "mapping": {
   "tenant": "/tenant",
   "payload": {"kind": {"const": "support_message"}, "channel": {"const": "phone"}, "customer_ref": "/customer", "message": "/text"}}}],
 "outbox": {"outcome_topic": "casebus.outcomes", "action_topic": "casebus.actions"},
 "log": {"level": "warn"}}
EOT
  # The watcher checks the topic holds EVENTS records, connects, and waits for the start signal.
  start_bg watch "$BUILD/bench/ingest_watch" --kafka "$kafka" --group "$GROUP" --topic "$TOPIC" --outcomes casebus.outcomes \
    --dead-letter casebus.dead-letter --broker "$CLIENT_EP" --events "$EVENTS" --interval-ms "$SAMPLE_MS" --timeout-s "$WAIT_S" \
    --rep "$rep"
  local watch=${PIDS[-1]}
  wait_until 30 grep -q '^ready' "$RUNDIR/watch.log" || { show_logs watch; fail "ingest_watch did not get ready"; }
  kill -USR1 "$watch"
  start_bg ingest "$BUILD/edge/kafka/casebus-ingest" --config "$RUNDIR/ingest.json"
  local ingest=${PIDS[-1]}
  log "ingest: rep $rep: casebus-ingest started, sampling every ${SAMPLE_MS} ms (up to ${WAIT_S} s)"
  while alive "$watch"; do
    alive "$ingest" || { show_logs ingest; fail "casebus-ingest exited during the run"; }
    alive "$broker_pid" || { show_logs broker; fail "the broker exited during the run"; }
    sleep 0.2
  done
  local rc=0
  wait "$watch" || rc=$?
  grep '^SAMPLE' "$RUNDIR/watch.log" >&2 || true
  [ "$rc" = 0 ] || { show_logs watch ingest broker; fail "rep $rep did not finish (ingest_watch exit $rc)"; }
  grep '^RUN' "$RUNDIR/watch.log" | tee -a "$RUNDIR/runs.txt" >&2
  # The ingest first, while Kafka and the broker are still there to take its last commit.
  kill -TERM "$ingest" 2>/dev/null || true
  for _ in $(seq 1 300); do alive "$ingest" || break; sleep 0.05; done
  stop_all
}

log "ingest: $EVENTS events, reps=$REPS, storage=$STORAGE, $PARTITIONS partitions, agents capacity $CAPACITY"
: >"$RUNDIR/runs.txt"
for rep in $(seq 1 "$REPS"); do rep_once "$rep"; done
# One RESULT line: the median of each figure over the reps.
awk -v storage="$STORAGE" '
  function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                     return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  /^RUN / {
    n++
    for (i = 2; i <= NF; i++) {
      split($i, kv, "=")
      if (n == 1 && kv[1] != "rep" && kv[1] != "samples") { keys[++nk] = kv[1]; decimals[kv[1]] = index(kv[2], ".") > 0 }
      v[kv[1], n] = kv[2]
    }
    runs = runs (n > 1 ? "/" : "") v["eps", n]
  }
  END {
    if (!n) exit 1
    line = "RESULT name=ingest storage=" storage
    for (k = 1; k <= nk; k++) {
      for (i = 1; i <= n; i++) a[i] = v[keys[k], i] + 0
      m = median(a, n)
      line = line " " keys[k] "=" sprintf(decimals[keys[k]] ? "%.3f" : "%.0f", m)
    }
    print line " reps=" n " eps_runs=" runs
  }' "$RUNDIR/runs.txt"
