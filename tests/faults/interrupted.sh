#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM (Slurm's warning before the time limit, mpirun's
# forwarding) stop a 2-rank run between steps: exit code non-zero, the run marked
# aborted with the reason (not "running"), its directory consistent, and --resume auto
# continues it. SIGKILL cannot be handled: such a run reads as aborted because no
# process holds its lock (tests/runs/test_run_store.cpp and the coordinator tests).
source "$(dirname "$0")/lib.sh"
make_synth_shards 3000
for signal in TERM INT; do
  run="sig$signal"
  mpiexec -np 2 "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=30 --set checkpoint.dir=runs --run "$run" \
    >"$run.log" 2>&1 &
  job=$!
  for _ in $(seq 1 600); do
    [ -f "runs/$run/manifest.json" ] && [ -n "$(json_get "runs/$run/manifest.json" "m['checkpoints'] or ''")" ] && break
    sleep 0.2
  done
  sent=$(now)
  # The signal goes to the ranks, as Slurm delivers it (the time-limit warning, scancel
  # --signal) and as mpirun forwards a Ctrl-C. Not to mpiexec itself: Open MPI 5's
  # (Debian 13), when signalled, stops forwarding the ranks' output before they have
  # written their last line (the run's state on disk still says why it stopped).
  ranks=()
  for pid in $(pgrep -f "fer-train.*--run $run"); do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = fer-train ] && ranks+=("$pid")
  done
  [ ${#ranks[@]} = 2 ] || fail "expected 2 fer-train ranks to signal, found ${#ranks[@]}"
  kill -"$signal" "${ranks[@]}"
  rc=0
  timeout 120 tail --pid="$job" -f /dev/null || fail "the run did not stop within 120 s of SIG$signal"
  wait "$job" || rc=$?
  echo "figure: SIG$signal -> exit $rc after $(seconds_since "$sent") s"
  [ "$rc" != 0 ] || { cat "$run.log"; fail "exit code 0 after SIG$signal"; }
  grep -q "stopped: interrupted by SIG$signal at epoch" "$run.log" || { cat "$run.log"; fail "no message naming the signal and the step"; }
  state=$(json_get "runs/$run/coordinator.json" "m['state'] + ': ' + m['abort_reason']")
  echo "coordinator.json: $state"
  case "$state" in "aborted: rank "*"interrupted by SIG$signal"*) ;; *) fail "the run is '$state'";; esac
  check_run_consistent "runs/$run"
done
done_before=$(json_get runs/sigTERM/manifest.json "m['checkpoints'][-1]['epoch']")
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=$((done_before + 1)) --set checkpoint.dir=runs --run sigTERM --resume auto -q \
  >resume.log 2>&1 || { cat resume.log; fail "--resume auto after SIGTERM failed"; }
[ "$(json_get runs/sigTERM/coordinator.json "m['state']")" = finished ] || fail "the resumed run did not finish"
echo "faults interrupted: ok"
