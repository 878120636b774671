#!/usr/bin/env bash
# A stopped rank (SIGSTOP: what a frozen process or a lost node looks like) is found by
# its missing heartbeats within dist.stall_seconds (30 s), not after the full
# dist.timeout_seconds (300 s): the job ends, naming the rank, its host, pid and last
# step. A rank that is only slow for a while (stopped 8 s, then continued) does not
# end the job. The embedded coordinator lives in rank 0; when rank 0 stops, rank 1
# finds it by the coordinator's silence.
source "$(dirname "$0")/lib.sh"
make_synth_shards 3000
stopped=""
trap '[ -z "$stopped" ] || kill -9 "$stopped" 2>/dev/null || true; rm -rf "$WORK"' EXIT

# start_run NAME EPOCHS : a 2-rank run in the background; sets job, STATUS (its page)
start_run() {
  mpiexec -np 2 "$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs="$2" --set checkpoint.dir=runs \
    --run "$1" >"$1.log" 2>&1 &
  job=$!
  for _ in $(seq 1 600); do
    STATUS=$(sed -nE 's/.*status page (http:\/\/127\.0\.0\.1:[0-9]+\/).*/\1/p' "$1.log" | head -1)
    [ -n "$STATUS" ] && [ -f "runs/$1/metrics.jsonl" ] && break
    sleep 0.2
  done
  [ -n "$STATUS" ] || { cat "$1.log"; fail "no status page address in the log"; }
}
pid_of_rank() {  # pid_of_rank R : from the status page
  python3 -c 'import json,sys,urllib.request; s=json.load(urllib.request.urlopen(sys.argv[1]+"status",timeout=10)); print([r["pid"] for r in s["runs"][0]["ranks"] if r["rank"]==int(sys.argv[2])][0])' "$STATUS" "$1"
}

# 1. Slow, not stopped: 8 s without beats, then on; the run ends normally.
start_run slow 4
stopped=$(pid_of_rank 1)
kill -STOP "$stopped"; sleep 8; kill -CONT "$stopped"; stopped=""
wait "$job" || { cat slow.log; fail "a rank paused for 8 s ended the job"; }

# 2. Rank 1 stopped for good, then rank 0.
for victim in 1 0; do
  start_run "stop$victim" 200
  stopped=$(pid_of_rank "$victim")
  kill -STOP "$stopped"
  sent=$(now)
  rc=0
  timeout 200 tail --pid="$job" -f /dev/null || fail "the job did not end within 200 s of stopping rank $victim"
  wait "$job" || rc=$?
  echo "figure: rank $victim stopped -> job ended after $(seconds_since "$sent") s (exit $rc; dist.timeout_seconds is 300)"
  kill -9 "$stopped" 2>/dev/null || true
  stopped=""
  [ "$rc" != 0 ] || fail "exit code 0 with a stopped rank"
  if [ "$victim" = 1 ]; then
    grep -qE "rank 1 \(host [^,]+, pid [0-9]+\) has sent no heartbeat for [0-9]+ s: it is stopped, frozen or its node is gone.*its last heartbeat said epoch [0-9]+, step [0-9]+" stop1.log ||
      { cat stop1.log; fail "the message does not name the stopped rank and its last step"; }
  else
    grep -q "rank 0, which serves the coordinator, has not answered for" stop0.log || { cat stop0.log; fail "rank 1 did not name rank 0"; }
  fi
  grep -m1 -E "no heartbeat|has not answered" "stop$victim.log"
done
echo "faults hung_rank: ok"
