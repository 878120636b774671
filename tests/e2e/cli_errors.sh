#!/usr/bin/env bash
# Every tool follows the README's exit-code rule on its command line: a bad option or
# value is one line `TOOL: error: …` on stderr and exit code 2 (never CLI11's own 104,
# 105, …); --help is exit 0. Values outside a range say what was expected in plain
# numbers (no 309-digit DBL_MAX).
source "$(dirname "$0")/lib.sh"
check() {  # check TOOL ARGS... : rc 2, one prefixed line
  local tool=$1
  shift
  expect_exit 2 "$FER_BIN/$tool" "$@"
  assert_output_contains "$tool: error: "
  [ "$(wc -l <"$WORK/out.txt")" = 1 ] || { cat "$WORK/out.txt"; fail "$tool $*: more than one line"; }
  ! grep -q "179769" "$WORK/out.txt" || fail "$tool $*: prints DBL_MAX"
}
for tool in fer-shard fer-synth fer-train fer-coordinator fer-eval fer-predict fer-serve; do
  check "$tool" --no-such-option
  expect_exit 0 "$FER_BIN/$tool" --help
done
check fer-synth -n -5
assert_output_contains "expected a number in [1, 1e+07], got -5"
check fer-eval --batch 0
assert_output_contains "--batch: expected a number > 0, got 0"
check fer-predict --every 0 x.png
check fer-coordinator --keep-last 0
check fer-serve --max-batch 0
assert_output_contains "--max-batch: expected a number > 0, got 0"
check fer-train --stop-after-epoch -1
check fer-shard --images-per-shard x in.csv
echo "e2e cli_errors: ok"
