#!/usr/bin/env bash
# SIGKILL and SIGSTOP of each rank in each phase of an epoch — a training step, the
# validation, the checkpoint upload (rank 0, right after queuing it), the commit
# inside the embedded coordinator (between verification and rename) — placed exactly
# with FER_FAILPOINT (src/common/failpoint.hpp). Every time: the job ends non-zero
# (mpirun names a killed rank; a stopped one is found by its missing heartbeats), the
# run directory is consistent (every checkpoint matches the manifest, pointers
# resolve, no epoch twice; a killed writer's hidden temporary is removed by the next
# one), and --resume auto continues the run, after which no temporary is left.
# Figures: seconds from the fault to the end of the job.
source "$(dirname "$0")/lib.sh"
make_synth_shards 1500
victims=()
trap 'for p in "${victims[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
printf "%-11s %-4s %-6s %6s %5s  %s\n" phase rank action "s" exit "run directory" >table.txt
for drill in step:1:kill step:0:stop validation:1:stop validation:0:kill upload:0:kill \
             upload:0:stop commit:0:kill commit:0:stop step:1:stop; do
  IFS=: read -r phase rank action <<<"$drill"
  run="$phase-$rank-$action"
  rc=0
  started=$(now)
  timeout 300 env FER_FAILPOINT="$phase:$rank:$action:2" mpiexec -np 2 -x FER_FAILPOINT \
    "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=4 --set checkpoint.dir=runs --run "$run" \
    >"$run.log" 2>&1 || rc=$?
  seconds=$(seconds_since "$started")
  # A stopped rank may outlive mpirun's abort as a stopped process: gone for good now.
  # SIGKILL is delivered asynchronously: wait (10 s at most) until the victims are gone
  # or zombies, so that the check below sees them dead.
  stragglers=$(pgrep -f "fer-train .*--run $run( |$)" || true)
  for p in $stragglers; do kill -9 "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do
    running=0
    for p in $stragglers; do
      state=$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null || true)
      case "$state" in "" | Z | X) ;; *) running=1 ;; esac
    done
    [ "$running" = 0 ] && break
    sleep 0.1
  done
  grep -q "failpoint: $phase of epoch 2 on rank $rank" "$run.log" || { cat "$run.log"; fail "$run: the failpoint was not reached"; }
  [ "$rc" != 0 ] || { cat "$run.log"; fail "$run: exit code 0"; }
  [ "$rc" != 124 ] || { cat "$run.log"; fail "$run: the job hung (300 s)"; }
  check_run_consistent "runs/$run" after-kill >/dev/null
  stored=$(json_get "runs/$run/manifest.json" "[c['epoch'] for c in m['checkpoints']]")
  printf "%-11s %-4s %-6s %6s %5s  %s\n" "$phase" "$rank" "$action" "$seconds" "$rc" "consistent, checkpoints $stored" >>table.txt
  # The run goes on from where it was.
  "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=4 --set checkpoint.dir=runs --run "$run" --resume auto -q \
    >"$run.resume.log" 2>&1 || { cat "$run.resume.log"; fail "$run: --resume auto failed"; }
  epochs=$(python3 -c 'import json,sys; print([json.loads(l)["epoch"] for l in open(sys.argv[1])])' "runs/$run/metrics.jsonl")
  [ "$epochs" = "[1, 2, 3, 4]" ] || fail "$run: metrics epochs after the resume: $epochs"
  check_run_consistent "runs/$run" >/dev/null
done
cat table.txt
echo "faults phase_kills: ok"
