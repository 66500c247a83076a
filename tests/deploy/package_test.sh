#!/usr/bin/env bash
# Deploy.Package: builds the .deb from the build tree with cpack, installs it into THIS machine,
# checks what it installed, runs the installed programs, removes and purges it, and checks that
# nothing is left behind. Twice: once with a case database in /var/lib/casebus (purge keeps it),
# once without (purge removes the directory).
#
#   package_test.sh BUILD_DIR SOURCE_DIR VERSION
#
# Needs root (CI runs as root). Leaves the machine as it found it: the cleanup runs on success, on
# failure and when the checks overrun their time bound (they run under `timeout`, inside ctest's
# TIMEOUT), and removes the casebus user and group again if this test created them. It refuses to
# run when casebus is installed or has left files behind, so it never touches a real installation;
# a lock keeps two runs (two build trees) apart, and a marker in /run lets the next run finish the
# cleanup of one that was killed outright.
set -euo pipefail

readonly BODY_SECONDS=200  # ctest's TIMEOUT is 300: the cleanup always has time left
readonly LOCK=/run/lock/casebus-package-test.lock
readonly MARKER=/run/casebus-package-test.marker
readonly PROGRAMS=(casebus-broker casebus-edge casebus-ingest casebus-classifier casebus-fraud-reviewer casebus-response-drafter
                   casebus-escalation casebusctl)
readonly DAEMON_CONFIGS=(casebus-broker:broker casebus-edge:edge casebus-ingest:ingest casebus-classifier:classifier
                         casebus-fraud-reviewer:fraud-reviewer casebus-response-drafter:response-drafter
                         casebus-escalation:escalation)
readonly UNITS=(casebus-broker.service casebus-edge.service casebus-ingest.service casebus-classifier@.service casebus-fraud-reviewer@.service
                casebus-response-drafter@.service casebus-escalation@.service casebus.target)
readonly OUR_DIRS=(/etc/casebus /var/lib/casebus /usr/share/casebus /usr/share/doc/casebus)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "--- $*"; }

package_present() {
  local status
  status=$(dpkg-query -W -f='${Status}' casebus 2>/dev/null) || return 1
  [[ $status != *not-installed* ]]
}

# The cleanup, in the parent process: whatever the checks did, the machine ends as it started.
cleanup() {
  # shellcheck disable=SC2320  # the status the script is exiting with
  local rc=$?
  set +e
  if [ -f "$MARKER" ]; then
    # shellcheck disable=SC1090
    . "$MARKER"
    if package_present; then
      echo "cleanup: purging casebus"
      timeout 60 dpkg --purge casebus >/dev/null 2>&1 || echo "cleanup: dpkg --purge failed" >&2
    fi
    # A broker the checks started and could not stop.
    if [ -n "${WORK:-}" ] && [ -f "$WORK/broker.pid" ]; then kill -KILL "$(cat "$WORK/broker.pid")" 2>/dev/null; fi
    rm -rf "${OUR_DIRS[@]}"
    dpkg-statoverride --remove /etc/casebus/edge.json >/dev/null 2>&1
    rm -f /etc/systemd/system/*.wants/casebus.target /etc/systemd/system/*.wants/casebus-*.service
    rmdir /etc/systemd/system/casebus.target.wants 2>/dev/null
    if [ "${HAD_USER:-yes}" = no ] && getent passwd casebus >/dev/null; then userdel casebus; fi
    if [ "${HAD_GROUP:-yes}" = no ] && getent group casebus >/dev/null; then groupdel casebus; fi
    rm -f "$MARKER"
  fi
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  exit $rc
}

# ------------------------------------------------------------------------------------------------
# The checks (run as a child, under `timeout`).
body() {
  local build=$1 source=$2 version=$3 arch deb start t0
  arch=$(dpkg --print-architecture)
  start=$(date +%s%N)

  step "building the package (cpack)"
  t0=$(date +%s%N)
  # cpack packages what is built (it runs the install step only; ctest runs after the build).
  if ! cpack --config "$build/CPackConfig.cmake" -B "$WORK/pkg" >"$WORK/cpack.log" 2>&1; then
    cat "$WORK/cpack.log" >&2
    fail "cpack failed"
  fi
  deb="$WORK/pkg/casebus_${version}_${arch}.deb"
  [ -f "$deb" ] || { ls -l "$WORK/pkg" >&2; fail "cpack did not write $(basename "$deb")"; }
  echo "$(basename "$deb"): $(($(stat -c %s "$deb") / 1024)) KiB in $((($(date +%s%N) - t0) / 1000000)) ms"

  step "package metadata"
  local depends conffiles expected_conffiles
  depends=$(dpkg-deb -f "$deb" Depends)
  echo "Depends: $depends"
  for dep in libzmq5 libsystemd0 libsqlite3-0 libssl3 libboost-program-options1.81.0 systemd; do
    grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || fail "Depends lacks $dep (dpkg-shlibdeps?)"
  done
  conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles | sort)
  expected_conffiles=$(for c in "${DAEMON_CONFIGS[@]}"; do echo "/etc/casebus/${c#*:}.json"; done | sort)
  [ "$conffiles" = "$expected_conffiles" ] || fail "conffiles: got [$conffiles], want [$expected_conffiles]"

  install_and_check "$deb" "$source" "$version"

  step "a broker run as casebus creates its store in /var/lib/casebus"
  run_broker_once

  step "enabling units (as an operator would) before removal"
  systemctl enable casebus.target casebus-classifier@2.service >/dev/null 2>&1 || fail "systemctl enable failed"
  [ -L /etc/systemd/system/multi-user.target.wants/casebus.target ] || fail "systemctl enable casebus.target made no link"
  [ -L /etc/systemd/system/casebus.target.wants/casebus-classifier@2.service ] ||
    fail "systemctl enable casebus-classifier@2 made no link in casebus.target.wants"

  dpkg-query -L casebus >"$WORK/files"

  step "dpkg -r: programs go, configuration and the case database stay"
  timeout 60 dpkg -r casebus >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log" >&2; fail "dpkg -r failed"; }
  for p in "${PROGRAMS[@]}"; do [ ! -e "/usr/bin/$p" ] || fail "/usr/bin/$p is still there after dpkg -r"; done
  [ -f /etc/casebus/broker.json ] || fail "dpkg -r removed /etc/casebus/broker.json (a conffile)"
  [ -f /var/lib/casebus/broker.db ] || fail "dpkg -r removed the case database"

  step "dpkg --purge: everything goes but the case database"
  timeout 60 dpkg --purge casebus >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; fail "dpkg --purge failed"; }
  grep -q "kept the case database in /var/lib/casebus" "$WORK/purge.log" || { cat "$WORK/purge.log" >&2; fail "purge did not say it kept the database"; }
  [ -f /var/lib/casebus/broker.db ] || fail "purge deleted the case database"
  check_nothing_left "$WORK/files" /var/lib/casebus
  getent passwd casebus >/dev/null || fail "purge removed the user casebus (it keeps it: the kept database is casebus's)"
  rm -rf /var/lib/casebus

  step "again: install, then purge with an empty state directory"
  install_and_check "$deb" "$source" "$version" >/dev/null
  dpkg-query -L casebus >"$WORK/files"
  timeout 60 dpkg --purge casebus >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; fail "dpkg --purge failed"; }
  ! grep -q "kept the case database" "$WORK/purge.log" || fail "purge kept an empty /var/lib/casebus"
  check_nothing_left "$WORK/files"

  echo "Deploy.Package: passed in $((($(date +%s%N) - start) / 1000000)) ms"
}

install_and_check() {
  local deb=$1 source=$2 version=$3 out
  step "dpkg -i"
  timeout 60 dpkg -i "$deb" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; fail "dpkg -i failed"; }
  grep -q "nothing was started" "$WORK/install.log" || { cat "$WORK/install.log" >&2; fail "postinst did not run to its end"; }

  step "files"
  for p in "${PROGRAMS[@]}"; do
    [ -x "/usr/bin/$p" ] || fail "/usr/bin/$p missing or not executable"
    ! readelf -S "/usr/bin/$p" | grep -q '\.debug_info' || fail "/usr/bin/$p is not stripped"
  done
  for u in "${UNITS[@]}"; do
    cmp -s "/lib/systemd/system/$u" "$source/deploy/systemd/$u" || fail "/lib/systemd/system/$u missing or not the source's"
  done
  for f in /usr/lib/sysusers.d/casebus.conf /usr/lib/tmpfiles.d/casebus.conf /usr/share/doc/casebus/operations.md \
           /usr/share/doc/casebus/README.md; do
    [ -f "$f" ] || fail "$f missing"
  done
  local dpkg_conffiles
  dpkg_conffiles=$(dpkg-query -W -f='${Conffiles}\n' casebus)
  for c in "${DAEMON_CONFIGS[@]}"; do
    local f="/etc/casebus/${c#*:}.json"
    [ -f "$f" ] || fail "$f missing"
    grep -q "^ $f " <<<"$dpkg_conffiles" || fail "$f is not a conffile for dpkg"
  done
  # Every path a packaged config names is installed (templates_dir, prompt_file).
  local path
  while IFS= read -r path; do
    [[ $path == /usr/share/casebus/* ]] || fail "a packaged config names $path, not a path under /usr/share/casebus"
    [ -e "$path" ] || fail "a packaged config names $path, which the package did not install"
  done < <(grep -ohE '"(templates_dir|prompt_file)" *: *"[^"]*"' /etc/casebus/*.json | sed -E 's/.*"([^"]*)"$/\1/')
  ls /usr/share/casebus/templates/reply/*.txt /usr/share/casebus/templates/escalation/*.txt >/dev/null || fail "templates missing"
  for kind in classifier fraud_reviewer response_drafter escalation; do
    ls /usr/share/casebus/prompts/$kind/*.txt >/dev/null || fail "prompts of $kind missing"
  done
  ! grep -q '"secrets"' /etc/casebus/edge.json || fail "the packaged edge.json holds secrets"

  step "user, group, directories, modes"
  local pw
  pw=$(getent passwd casebus) || fail "no user casebus"
  getent group casebus >/dev/null || fail "no group casebus"
  IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
  [ "$uid" -lt 1000 ] || fail "casebus is not a system user (uid $uid)"
  [ "$home" = /var/lib/casebus ] || fail "casebus's home is $home"
  [[ $shell == */nologin ]] || fail "casebus's shell is $shell"
  expect_stat /var/lib/casebus "casebus casebus 750"
  expect_stat /etc/casebus/keys "root casebus 750"
  expect_stat /etc/casebus/edge.json "root casebus 640"
  expect_stat /etc/casebus/broker.json "root root 644"
  dpkg-statoverride --list /etc/casebus/edge.json >/dev/null || fail "no stat override for edge.json"

  step "--version"
  for p in "${PROGRAMS[@]}"; do
    out=$("/usr/bin/$p" --version) || fail "$p --version failed"
    [ "$out" = "$p $version" ] || fail "$p --version printed \"$out\", want \"$p $version\""
  done

  step "--check-config of each daemon, as user casebus"
  for c in "${DAEMON_CONFIGS[@]}"; do
    local prog=${c%%:*} cfg="/etc/casebus/${c#*:}.json"
    if ! out=$(cd / && runuser -u casebus -- "/usr/bin/$prog" --check-config --config "$cfg" 2>&1); then
      echo "$out" >&2
      fail "$prog --check-config --config $cfg failed"
    fi
  done
  # edge.json is for the services' group only.
  out=$(cd / && runuser -u nobody -- /usr/bin/casebus-edge --check-config --config /etc/casebus/edge.json 2>&1) &&
    fail "user nobody can read /etc/casebus/edge.json"
  grep -q "cannot read config file" <<<"$out" || { echo "$out" >&2; fail "casebus-edge as nobody failed, but not for want of edge.json"; }

  step "systemd-analyze verify of the installed units"
  local name vout rc
  for u in "${UNITS[@]}"; do
    name=$u
    [[ $name == *@.service ]] && name=${name%@.service}@1.service
    rc=0
    vout=$(cd / && timeout 30 systemd-analyze verify --man=no "$name" 2>&1) || rc=$?
    if [ $rc -ne 0 ] || grep -q casebus <<<"$vout"; then
      echo "$vout" >&2
      fail "systemd-analyze verify $name (exit $rc)"
    fi
    echo "ok   $name"
  done
}

expect_stat() {
  local got
  got=$(stat -c '%U %G %a' "$1") || fail "$1 missing"
  [ "$got" = "$2" ] || fail "$1 is $got, want $2"
}

# The installed broker, as its unit runs it (user casebus, umask 0077, the packaged config), on
# ephemeral loopback ports: it must create and lock its store in /var/lib/casebus.
run_broker_once() {
  local pid i
  # setpriv execs (runuser would fork), so $! is the broker itself.
  (cd / && umask 0077 && exec setpriv --reuid=casebus --regid=casebus --init-groups -- /usr/bin/casebus-broker \
     --config /etc/casebus/broker.json --client-endpoint 'tcp://127.0.0.1:*' --agent-endpoint 'tcp://127.0.0.1:*') \
    >"$WORK/broker.log" 2>&1 &
  pid=$!
  echo $pid >"$WORK/broker.pid"
  for ((i = 0; i < 100; i++)); do
    grep -q "store opened" "$WORK/broker.log" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  grep -q "store opened" "$WORK/broker.log" || { cat "$WORK/broker.log" >&2; kill -KILL $pid 2>/dev/null; fail "the broker did not open its store in 10 s"; }
  kill -TERM $pid
  wait $pid || { cat "$WORK/broker.log" >&2; fail "the broker did not exit 0 on SIGTERM"; }
  rm -f "$WORK/broker.pid"
  expect_stat /var/lib/casebus/broker.db "casebus casebus 600"
}

# check_nothing_left FILES [KEPT_DIR]: no file the package listed, and none of its directories,
# remains (KEPT_DIR aside); no stat override, no unit links.
check_nothing_left() {
  local list=$1 kept=${2:-} left=()
  while IFS= read -r f; do
    [ -n "$kept" ] && [[ $f == "$kept" || $f == "$kept"/* ]] && continue
    if [ -e "$f" ] && [ ! -d "$f" ]; then left+=("$f"); fi
  done <"$list"
  for d in "${OUR_DIRS[@]}"; do
    [ "$d" = "$kept" ] && continue
    [ ! -e "$d" ] || left+=("$d")
  done
  local links
  mapfile -t links < <(find /etc/systemd/system -name 'casebus*' 2>/dev/null)
  left+=("${links[@]}")
  ! dpkg-statoverride --list /etc/casebus/edge.json >/dev/null 2>&1 || left+=("stat override of /etc/casebus/edge.json")
  package_present && left+=("the package itself (dpkg status)")
  [ ${#left[@]} -eq 0 ] || fail "left behind: ${left[*]}"
}

# ------------------------------------------------------------------------------------------------
if [ "${1:-}" = --body ]; then
  shift
  WORK=$1
  shift
  body "$@"
  exit 0
fi

[ $# -eq 3 ] || { echo "usage: package_test.sh BUILD_DIR SOURCE_DIR VERSION" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then
  fail "Deploy.Package installs the .deb into this machine and needs root (CI runs as root): sudo ctest -R Deploy.Package"
fi
for tool in dpkg dpkg-deb dpkg-query dpkg-statoverride dpkg-shlibdeps file cpack systemd-analyze systemctl runuser setpriv flock \
            readelf getent userdel groupdel timeout; do
  command -v "$tool" >/dev/null || fail "$tool not found (Debian packages: dpkg-dev, file, systemd, binutils, util-linux)"
done

exec 9>"$LOCK"
flock -w 120 9 || fail "another package test has held $LOCK for 120 s"

# A run killed outright (SIGKILL) left its marker: finish its cleanup first.
if [ -f "$MARKER" ]; then
  echo "an earlier run of this test did not finish; cleaning up after it"
  (cleanup)
fi
if package_present; then
  fail "a casebus package is installed (or its configuration remains) on this machine; this test installs and purges its own and will not touch it"
fi
for d in "${OUR_DIRS[@]}"; do
  [ ! -e "$d" ] || fail "$d exists (left by an earlier installation?); this test would remove it: move it away first"
done

HAD_USER=no HAD_GROUP=no
getent passwd casebus >/dev/null && HAD_USER=yes
getent group casebus >/dev/null && HAD_GROUP=yes
WORK=$(mktemp -d /tmp/casebus-package-test.XXXXXX)
printf 'HAD_USER=%s\nHAD_GROUP=%s\nWORK=%s\n' "$HAD_USER" "$HAD_GROUP" "$WORK" >"$MARKER"
trap cleanup EXIT
trap 'exit 130' INT TERM

rc=0
timeout -k 10 "$BODY_SECONDS" "$0" --body "$WORK" "$@" || rc=$?
[ $rc -ne 124 ] && [ $rc -ne 137 ] || echo "FAIL: the checks took longer than $BODY_SECONDS s" >&2
exit $rc
