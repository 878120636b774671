#!/usr/bin/env bash
# The external coordinator is killed for good in the middle of a run. The trainer
# says so at once, keeps training, keeps the checkpoints it could not hand over under
# <checkpoint.dir>/<run>/unsent/, and exits 1 naming them; it never claims a best.pt.
source "$(dirname "$0")/lib.sh"
make_synth_shards 3000
start_coordinator 0 -1 --checkpoints runs
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=6 --set checkpoint.dir=runs --run gone \
  --set coordinator.address="127.0.0.1:$PORT" --set coordinator.flush_timeout_seconds=30 \
  --set coordinator.connect_timeout_seconds=5 >train.log 2>&1 &
job=$!
for _ in $(seq 1 600); do
  [ -f runs/gone/manifest.json ] && [ -n "$(json_get runs/gone/manifest.json "m['checkpoints'] or ''")" ] && break
  sleep 0.2
done
kill -9 "$coordinator_pid"
killed_at=$(now)
wait "$coordinator_pid" 2>/dev/null || true
coordinator_pid=""
stored=$(json_get runs/gone/manifest.json "len(m['checkpoints'])")
echo "killed fer-coordinator for good after $stored stored checkpoint(s)"
for _ in $(seq 1 300); do grep -q "lost the connection to the coordinator" train.log && break; sleep 0.1; done
grep -q "lost the connection to the coordinator" train.log || { cat train.log; fail "no warning after the coordinator died"; }
echo "figure: warning $(seconds_since "$killed_at") s after the kill"
rc=0
timeout 600 tail --pid="$job" -f /dev/null || fail "training did not end"
wait "$job" || rc=$?
echo "figure: training ended $(seconds_since "$killed_at") s after the kill, exit code $rc"
[ "$rc" = 1 ] || { cat train.log; fail "exit code $rc with the coordinator gone, expected 1"; }
grep -q "were not stored by the coordinator; those never sent are kept in runs/gone/unsent" train.log || { cat train.log; fail "the final error does not name what was lost and where it is"; }
grep -q "best checkpoint: not known" train.log || { cat train.log; fail "the summary claims a best checkpoint"; }
ls runs/gone/unsent/epoch-0006.pt >/dev/null || { ls -la runs/gone runs/gone/unsent; fail "the last checkpoint was not kept locally"; }
kept=$(ls runs/gone/unsent | wc -l)
echo "kept locally: $kept checkpoint(s): $(ls runs/gone/unsent | tr '\n' ' ')"
check_run_consistent runs/gone
# A kept checkpoint is a whole checkpoint: fer-eval scores it.
"$FER_BIN/fer-eval" --checkpoint runs/gone/unsent/epoch-0006.pt --shards shards/synth --split val >eval.log 2>&1 || { cat eval.log; fail "the kept checkpoint does not evaluate"; }
echo "faults coordinator_gone: ok"
