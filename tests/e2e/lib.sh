# Helpers for the end-to-end scripts. Each script runs the real executables from
# $FER_BIN on real files in a temporary directory that is removed on exit.
# shellcheck shell=bash
set -euo pipefail
: "${FER_BIN:?set FER_BIN to the bin directory of the build (CTest does)}"
: "${FER_ROOT:?set FER_ROOT to the repository root (CTest does)}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fer-e2e-XXXXXX")"
coordinator_pid=""  # a fer-coordinator started by start_coordinator, stopped on exit
trap '[ -z "$coordinator_pid" ] || kill -9 "$coordinator_pid" 2>/dev/null || true; rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_exit CODE CMD... : runs CMD, requires exit code CODE; output in $WORK/out.txt
expect_exit() {
  local want=$1
  shift
  local got=0
  "$@" >"$WORK/out.txt" 2>&1 || got=$?
  if [ "$got" != "$want" ]; then
    cat "$WORK/out.txt" >&2
    fail "'$*' exited $got, expected $want"
  fi
}

# assert_output_contains TEXT : the output of the last expect_exit contains TEXT
assert_output_contains() {
  if ! grep -qF -- "$1" "$WORK/out.txt"; then
    cat "$WORK/out.txt" >&2
    fail "output lacks: $1"
  fi
}

# json_get FILE EXPR : evaluates a Python expression on the parsed JSON document `m`
json_get() {
  python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# extract_real_fer2013 : unpacks the real FER2013 (folder edition, train + PublicTest)
# from ../shared/datasets/fer2013 into $WORK and sets REAL_FER2013 to the folder that
# holds train/ and test/; skips the test (exit 77) when the data is absent, as it is on
# a user's machine.
extract_real_fer2013() {
  local archive="$FER_ROOT/../shared/datasets/fer2013/fer2013-train-publictest.tar.gz"
  if [ ! -f "$archive" ]; then
    echo "SKIP: real FER2013 not found at $archive"
    exit 77
  fi
  # Its own folder: outputs the test writes into $WORK stay out of the input tree.
  mkdir -p "$WORK/fer2013-input"
  tar -xzf "$archive" -C "$WORK/fer2013-input"
  REAL_FER2013=$(dirname "$(find "$WORK/fer2013-input" -maxdepth 3 -type d -name train | head -1)")
}

# start_coordinator PORT HTTP_PORT [fer-coordinator options...] : starts fer-coordinator
# in the background (log in coordinator.log) and waits until it serves; sets
# coordinator_pid, PORT and HTTP (the ports it chose when given 0).
start_coordinator() {
  local port=$1 http=$2
  shift 2
  : >coordinator.log
  "$FER_BIN/fer-coordinator" --port "$port" --http-port "$http" "$@" >coordinator.log 2>&1 &
  coordinator_pid=$!
  local line
  for _ in $(seq 1 100); do
    if line=$(grep " on 127\.0\.0\.1:" coordinator.log | grep serving | tail -1) && [ -n "$line" ] &&
      kill -0 "$coordinator_pid"; then
      PORT=$(sed -E 's/.* on 127\.0\.0\.1:([0-9]+).*/\1/' <<<"$line")
      HTTP=$(sed -nE 's/.*http:\/\/127\.0\.0\.1:([0-9]+)\/.*/\1/p' <<<"$line")
      return 0
    fi
    sleep 0.1
  done
  cat coordinator.log
  fail "fer-coordinator did not start"
}

# lines_of FILE : the non-empty lines of a JSON-lines file
lines_of() { python3 -c 'import json,sys; print(len([l for l in open(sys.argv[1]) if l.strip()]))' "$1"; }
