# Shared shell helpers for bench/*.sh. Source it. Every process started with start_bg is stopped
# (SIGTERM, then SIGKILL) when the script exits; a watchdog bounds the whole script.
set -u
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RUNDIR=$(mktemp -d /tmp/casebus-bench.XXXXXX)
PIDS=()
LIMIT_S=${LIMIT_S:-300}
REPS=${REPS:-3}
CONCS=${CONCS:-"1 64"}
WARMUP=${WARMUP:-1}
DURATION=${DURATION:-5}
# The broker's case store: sqlite (durable, as deployed; in this run's directory) or memory.
STORAGE=${STORAGE:-sqlite}

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

start_bg() {
  local name=$1; shift
  "$@" >"$RUNDIR/$name.log" 2>&1 &
  PIDS+=($!)
}

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "${WATCHDOG:-}" ] && kill "$WATCHDOG" 2>/dev/null
  stop_all
  if [ "${KEEP_RUNDIR:-0}" = 1 ]; then log "kept $RUNDIR"; else rm -rf "$RUNDIR"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The watchdog must not hold the script's stdout/stderr open (a pipe reader would wait for it).
exec 9>&2
(
  trap 'kill "$sp" 2>/dev/null; exit 0' TERM
  sleep "$LIMIT_S" 9>&- & sp=$!
  wait "$sp"
  echo "bench: watchdog: over ${LIMIT_S}s, stopping" >&9
  kill -TERM $$
) >/dev/null 2>&1 &
WATCHDOG=$!

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_until TIMEOUT_S CMD...: polls CMD until it succeeds (bounded).
wait_until() {
  local t=$1; shift
  for _ in $(seq 1 $((t * 20))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}

# start_banking_agents BUILD AGENT_EP CAPACITY: one process of each agent kind, with its shipped
# config (deploy/config/<kind>.json when there is one), started in the background with start_bg.
start_banking_agents() {
  local build=$1 agent_ep=$2 capacity=$3 kind config
  local dir=$BENCH_DIR/../deploy/config
  for kind in classifier fraud-reviewer response-drafter escalation; do
    config=()
    [ -f "$dir/$kind.json" ] && config=(--config "$dir/$kind.json")
    start_bg "$kind" "$build/agents/${kind//-/_}/casebus-$kind" "${config[@]}" --broker "$agent_ep" --capacity "$capacity" \
      --log-level warn
  done
}

# banking_agents_ready BUILD CLIENT_EP: the broker lists one worker of each of the four kinds.
banking_agents_ready() {
  "$1/tools/casebusctl/casebusctl" --broker "$2" --json true --timeout-ms 1000 stats |
    grep -q '"workers":1.*"workers":1.*"workers":1.*"workers":1'
}

# summarize NAME FILE: RUN lines -> one RESULT line per C, medians of rps, p50 and p99 separately.
summarize() {
  local name=$1 file=$2 c
  for c in $(grep -o ' C=[0-9]*' "$file" | sort -u -t= -k2 -n | cut -d= -f2); do
    awk -v name="$name" -v c="$c" '
      function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                                         return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      $0 ~ " C=" c " " {
        for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        n++; rps[n] = v["rps"]; p50[n] = v["p50_ms"]; p99[n] = v["p99_ms"]; runs = runs (n > 1 ? "/" : "") v["rps"]; errs += v["errors"]
      }
      END { if (n) printf "RESULT name=%s C=%s rps=%.0f p50_ms=%.3f p99_ms=%.3f reps=%d errors=%d rps_runs=%s\n", name, c, median(rps, n), median(p50, n), median(p99, n), n, errs, runs }
    ' "$file"
  done
}
