#!/usr/bin/env bash
# recovery: a broker's start with N unfinished cases in its store (bench/recovery.cpp): open the
# database, read every active case back, queue it. Env: CASES (100000), REPS (3).
source "$(dirname "$0")/lib.sh"
BUILD=${1:-build}
log "recovery: ${CASES:-100000} unfinished banking cases in a sqlite store under $RUNDIR, reps=$REPS"
"$BUILD/bench/recovery" --cases "${CASES:-100000}" --reps "$REPS" --dir "$RUNDIR/state"
