#!/usr/bin/env bash
# Checks the systemd units in deploy/systemd/ (docs/operations.md):
#
#   verify_units.sh verify    UNIT_DIR PROGRAM=PATH...   systemd-analyze verify, plus references
#   verify_units.sh security  UNIT_DIR PROGRAM=PATH...   systemd-analyze security exposure <= 1.2
#   verify_units.sh self-test UNIT_DIR PROGRAM=PATH...   each of a list of broken copies must fail
#
# systemd-analyze verify checks that ExecStart= names an executable, so the units are copied to a
# temporary directory with ExecStart=/usr/bin/<program> pointing at the build tree's <program>
# (PROGRAM=PATH arguments) and everything else unchanged. Template units are checked through
# instance 1. A unit fails on a non-zero exit or on any message that names it: systemd-analyze
# reports unknown keys and unparsable values on stderr and still exits 0. References between
# casebus units (Wants=, After=, PartOf=) must name units that exist: systemd ignores those that
# do not.
set -euo pipefail

mode=${1:?usage: verify_units.sh verify|security|self-test UNIT_DIR PROGRAM=PATH...}
unit_dir=${2:?unit directory}
shift 2

# The worst overall exposure `systemd-analyze security` may give a unit, in tenths (1.2 today).
readonly MAX_EXPOSURE=12

command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (Debian package systemd)" >&2; exit 1; }

work=$(mktemp -d /tmp/casebus-units.XXXXXX)
trap 'rm -rf "$work"' EXIT

# copy_units DEST: the units with ExecStart= rewritten to the build tree.
copy_units() {
  local dest=$1 arg program path
  mkdir -p "$dest"
  cp "$unit_dir"/*.service "$unit_dir"/*.target "$dest"/
  for arg in "${programs[@]}"; do
    program=${arg%%=*}
    path=${arg#*=}
    sed -i "s#^ExecStart=/usr/bin/$program\\( \\|\$\\)#ExecStart=$path\\1#" "$dest"/*
  done
  if grep -n '^ExecStart=/usr/bin/' "$dest"/* >&2; then
    echo "no build-tree program given for the ExecStart= above" >&2
    return 1
  fi
}

# unit_names DIR: what to check, templates as instance 1.
unit_names() {
  local f name
  for f in "$1"/*.service "$1"/*.target; do
    name=$(basename "$f")
    [[ $name == *@.service ]] && name=${name%@.service}@1.service
    echo "$name"
  done
}

# check_references DIR: every casebus unit a unit names exists (a template for an instance).
check_references() {
  local dir=$1 bad=0 line ref file
  while IFS= read -r line; do
    file=${line%%:*}
    while IFS= read -r ref; do
      local want=$ref
      [[ $ref == *@?*.service ]] && want=${ref%%@*}@.service
      if [ ! -f "$dir/$want" ]; then
        echo "$(basename "$file"): names $ref, which does not exist" >&2
        bad=1
      fi
    done < <(grep -oE 'casebus[-a-z_]*(@[^ .]*)?\.(service|target)' <<<"${line#*:}")
  done < <(grep -HE '^(Wants|Requires|After|Before|PartOf|BindsTo|Requisite|WantedBy|RequiredBy|Also)=' "$dir"/*)
  return $bad
}

# verify_dir DIR: 0 when every unit passes. One systemd-analyze run: verifying a unit loads the
# units it names (casebus.target names them all), so per-unit runs would repeat every message.
verify_dir() {
  local dir=$1 failed=0 out rc=0 ours names
  mapfile -t names < <(unit_names "$dir")
  out=$(cd / && systemd-analyze verify --man=no "${names[@]/#/$dir/}" 2>&1) || rc=$?
  # Only messages about our units count: a host's own units may have warnings of their own.
  ours=$(grep -E "casebus|$dir" <<<"$out" || true)
  if [ $rc -ne 0 ] || [ -n "$ours" ]; then
    echo "FAIL systemd-analyze verify (exit $rc):" >&2
    [ -n "$out" ] && sed 's/^/    /' <<<"$out" >&2
    failed=1
  else
    echo "ok   systemd-analyze verify ${names[*]}"
  fi
  check_references "$dir" || failed=1
  return $failed
}

programs=("$@")
[ ${#programs[@]} -gt 0 ] || { echo "no PROGRAM=PATH arguments" >&2; exit 1; }

case $mode in
verify)
  copy_units "$work/units"
  verify_dir "$work/units"
  ;;

security)
  copy_units "$work/units"
  failed=0
  for name in $(unit_names "$work/units"); do
    [[ $name == *.service ]] || continue
    rc=0
    out=$(cd / && systemd-analyze security --offline=true --threshold=$MAX_EXPOSURE "$work/units/$name" 2>&1) || rc=$?
    summary=$(grep 'Overall exposure level' <<<"$out" || true)
    if [ $rc -ne 0 ] || [ -z "$summary" ]; then
      echo "FAIL $name: exposure above $((MAX_EXPOSURE / 10)).$((MAX_EXPOSURE % 10)) (or no result)" >&2
      grep '✗' <<<"$out" >&2 || sed 's/^/    /' <<<"$out" >&2
      failed=1
    else
      echo "ok   ${summary#→ }"
    fi
  done
  exit $failed
  ;;

self-test)
  # Each breakage is applied to a fresh copy; the check must reject every one of them.
  breakages=(
    "casebus-broker.service%s/^Restart=on-failure/Restrat=on-failure/%an unknown key"
    "casebus-broker.service%s#^ExecStart=[^ ]*#ExecStart=/nonexistent/casebus-broker#%a missing executable"
    "casebus-edge.service%s/^Type=notify/Type=notfy/%an unparsable value"
    "casebus-classifier@.service%s/^StartLimitIntervalSec=0/[Service]\nStartLimitIntervalSec=0/%a key in the wrong section"
    "casebus.target%s/casebus-escalation@1.service/casebus-escalaton@1.service/%a reference to a unit that does not exist"
    "casebus-edge.service%s/^After=.*/After=casebus-brokr.service/%an ordering on a unit that does not exist"
  )
  failed=0
  i=0
  for b in "${breakages[@]}"; do
    IFS='%' read -r unit expr what <<<"$b"
    i=$((i + 1))
    dir="$work/broken-$i"
    copy_units "$dir"
    before=$(md5sum "$dir/$unit")
    sed -i "$expr" "$dir/$unit"
    if [ "$(md5sum "$dir/$unit")" = "$before" ]; then
      echo "FAIL self-test $i: the breakage ($what) did not apply to $unit; update this list" >&2
      failed=1
      continue
    fi
    if verify_dir "$dir" >/dev/null 2>&1; then
      echo "FAIL self-test $i: $unit with $what passed the check" >&2
      failed=1
    else
      echo "ok   self-test $i: $unit with $what is rejected"
    fi
  done
  exit $failed
  ;;

*)
  echo "unknown mode $mode" >&2
  exit 2
  ;;
esac
