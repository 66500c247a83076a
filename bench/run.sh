#!/usr/bin/env bash
# make bench [BENCH=<name>]: runs bench/<name>.sh (all of them when no name is given). Each ends
# with one RESULT line per measured configuration.
set -euo pipefail
BUILD=${1:-build}
NAME=${2:-}
DIR=$(cd "$(dirname "$0")" && pwd)
if [ -n "$NAME" ]; then
  [ -x "$DIR/$NAME.sh" ] || { echo "bench: no benchmark named $NAME (have: $(cd "$DIR" && ls *.sh | grep -v '^run.sh$\|^lib.sh$' | sed 's/\.sh$//' | tr '\n' ' '))" >&2; exit 2; }
  exec "$DIR/$NAME.sh" "$BUILD"
fi
for script in "$DIR"/*.sh; do
  case "$(basename "$script")" in run.sh|lib.sh) continue ;; esac
  "$script" "$BUILD"
done
