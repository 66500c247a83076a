#!/usr/bin/env bash
# `make run`: the whole local stack in the foreground on loopback with the embedded defaults.
# Starts the broker and one process of each agent kind, prints how to submit a case, and on
# Ctrl-C (or SIGTERM) stops every child cleanly: SIGTERM, a bounded wait, then SIGKILL.
set -euo pipefail

BUILD=${1:-build}
CLIENT_PORT=${CASEBUS_CLIENT_PORT:-7101}
HTTP_PORT=${CASEBUS_HTTP_PORT:-8080}
AGENT_PORT=${CASEBUS_AGENT_PORT:-7102}
CLIENT_EP=tcp://127.0.0.1:$CLIENT_PORT
AGENT_EP=tcp://127.0.0.1:$AGENT_PORT

BROKER=$BUILD/broker/casebus-broker
CTL=$BUILD/tools/casebusctl/casebusctl
# Every agent kind that exists in this build, one process each.
AGENTS=()
for bin in "$BUILD"/agents/*/casebus-*; do
  [ -x "$bin" ] && AGENTS+=("$bin")
done

pids=()
names=()
stopping=0

stop_all() {
  stopping=1
  trap - INT TERM
  echo
  echo "run-local: stopping ${#pids[@]} processes"
  local i
  for (( i=${#pids[@]}-1; i>=0; i-- )); do kill -TERM "${pids[$i]}" 2>/dev/null || true; done
  for (( i=${#pids[@]}-1; i>=0; i-- )); do
    local waited=0
    while kill -0 "${pids[$i]}" 2>/dev/null && [ $waited -lt 150 ]; do sleep 0.1; waited=$((waited + 1)); done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "run-local: ${names[$i]} did not stop in 15 s, killing it"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    wait "${pids[$i]}" 2>/dev/null || true
  done
  echo "run-local: all stopped"
}
trap 'stop_all; exit 0' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for port in "$CLIENT_PORT" "$AGENT_PORT" "$HTTP_PORT"; do
  if port_in_use "$port"; then
    echo "run-local: port $port on 127.0.0.1 is in use (another casebus?). Set CASEBUS_CLIENT_PORT / CASEBUS_AGENT_PORT / CASEBUS_HTTP_PORT." >&2
    exit 1
  fi
done

start() {
  local name=$1; shift
  "$@" &
  pids+=($!)
  names+=("$name")
}

# The shipped configs (deploy/config/): the broker's banking workflow and policy, the agents' rules,
# templates and thresholds. Endpoints come from the flags, which override the files.
CONFIG_DIR=${CASEBUS_CONFIG_DIR:-deploy/config}
# Durable, as deployed: the case store lives in $BUILD/state (cases survive a restart of make run).
start broker "$BROKER" --config "$CONFIG_DIR/broker.json" --client-endpoint "$CLIENT_EP" --agent-endpoint "$AGENT_EP" \
  --state-dir "$BUILD/state"
for i in $(seq 1 50); do port_in_use "$CLIENT_PORT" && break; sleep 0.1; done
port_in_use "$CLIENT_PORT" || { echo "run-local: the broker did not start" >&2; stop_all; exit 1; }
for bin in "${AGENTS[@]}"; do
  config="$CONFIG_DIR/$(basename "$bin" | sed 's/^casebus-//').json"
  if [ -f "$config" ]; then
    start "$(basename "$bin")" "$bin" --config "$config" --broker "$AGENT_EP"
  else
    start "$(basename "$bin")" "$bin" --broker "$AGENT_EP"
  fi
done

EDGE=$BUILD/edge/http/casebus-edge
start casebus-edge "$EDGE" --config "$CONFIG_DIR/edge.json" --broker "$CLIENT_EP" --listen "127.0.0.1:$HTTP_PORT"
for i in $(seq 1 50); do port_in_use "$HTTP_PORT" && break; sleep 0.1; done

cat <<EOT

casebus is running: HTTP on http://127.0.0.1:$HTTP_PORT (casebus-edge, development tenant "dev"),
broker on $CLIENT_EP (clients) and $AGENT_EP (agents),
agents: $(for b in "${AGENTS[@]}"; do printf '%s ' "$(basename "$b")"; done)

Submit a case over HTTP from another terminal (the development tenant's bearer token):
  curl -s -H 'Authorization: Bearer dev-token-not-for-production' -H 'Prefer: wait=5' \\
    -d '{"kind":"support_message","channel":"web","customer_ref":"cust-10492","message":"I was charged twice on my debit card yesterday."}' \\
    http://127.0.0.1:$HTTP_PORT/v1/cases

or straight onto the bus:
  $CTL submit examples/charged-twice.json        # classifier -> fraud_reviewer -> response_drafter: resolved
  $CTL submit examples/unrecognised-merchant.json # high fraud risk: card frozen, escalated to a person
  $CTL submit examples/refund-request.json       # the refund waits for human approval
  $CTL submit examples/loan-application.json     # pre-screened for an underwriter
  $CTL submit examples/hello.json                # a plain echo through the bus
  $CTL stats

Press Ctrl-C to stop everything.

EOT

# Stay in the foreground until a signal, or until a child dies on its own.
while true; do
  wait -n || true
  [ $stopping = 1 ] && break
  for i in "${!pids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "run-local: ${names[$i]} exited; stopping the rest" >&2
      stop_all
      exit 1
    fi
  done
done
