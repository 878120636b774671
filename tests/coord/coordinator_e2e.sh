#!/usr/bin/env bash
# The coordinator end to end, with real processes, sockets and files:
#  1. 2-rank training with the embedded coordinator: metrics.jsonl (one line per epoch,
#     summed from both ranks' counts) and checkpoints; the best epoch's confusion
#     matrix equals fer-eval's single-process evaluation of best.pt;
#  2. the same with an external fer-coordinator that is killed (SIGKILL) mid-run and
#     restarted: the ranks carry on, every epoch is in metrics.jsonl exactly once, every
#     checkpoint in the manifest matches sha256sum, and /status and /metrics say so;
#  3. an independent Python implementation of the wire format reports 3 ranks' counts;
#     the metrics equal scikit-learn's on all predictions (Debian's python3-sklearn);
#  4. fer-coordinator refuses to listen beyond loopback without a token (exit 2).
source "$(dirname "$0")/../e2e/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
sk_python=/usr/bin/python3  # Debian's python3 has python3-sklearn; a pyenv one may come first on PATH
"$FER_BIN/fer-synth" --out synth --images 1500 --format csv --seed 5 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
common=(-c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth --set checkpoint.dir=runs
        --set train.threads=1 --set checkpoint.keep_last=10)

# 1. Embedded coordinator, 2 ranks.
mpiexec -np 2 "$FER_BIN/fer-train" "${common[@]}" --set train.epochs=3 --run embedded >embedded.log 2>&1 ||
  { cat embedded.log; fail "2-rank training with the embedded coordinator failed"; }
grep -q "coordinator: embedded coordinator on 127.0.0.1:" embedded.log || { cat embedded.log; fail "the log does not say where the coordinator is"; }
python3 - runs/embedded <<'PY' || fail "the embedded coordinator's run directory is wrong"
import json, os, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/metrics.jsonl")]
assert [l["epoch"] for l in lines] == [1, 2, 3], [l["epoch"] for l in lines]
for l in lines:
    assert l["ranks"] == 2 and l["split"] == "val", l
    assert sum(l["val_confusion_matrix"]) == l["val_images"]
    for key in ("train_loss", "lr", "step", "val_macro_f1", "val_weighted_f1", "val_per_class"):
        assert key in l, key
m = json.load(open(d + "/manifest.json"))
assert [c["epoch"] for c in m["checkpoints"]] == [1, 2, 3], m["checkpoints"]
assert os.path.realpath(d + "/latest.pt").endswith("epoch-0003.pt")
assert json.load(open(d + "/coordinator.json"))["state"] == "finished"
assert open(d + "/config.yaml").read().startswith("model:")
PY
"$FER_BIN/fer-eval" --checkpoint runs/embedded/best.pt --tta auto --format json --out eval-embedded >eval.json 2>eval.log ||
  { cat eval.log; fail "fer-eval of the embedded run failed"; }
python3 - runs/embedded eval-embedded/confusion_matrix.csv <<'PY' || fail "the aggregated metrics differ from a single-process evaluation of the same checkpoint"
import csv, json, os, sys
d = sys.argv[1]
best = int(os.path.realpath(d + "/best.pt")[-7:-3])
line = [json.loads(l) for l in open(d + "/metrics.jsonl")][best - 1]
rows = [r for r in csv.reader(open(sys.argv[2]))]
counts = [int(v) for r in rows[1:] for v in r[1:8]]
assert line["val_confusion_matrix"] == counts, (line["val_confusion_matrix"], counts)
print("epoch %d: the 2-rank aggregate equals fer-eval's single-process confusion matrix (%d images)" % (best, sum(counts)))
PY

# 2. External fer-coordinator, killed and restarted mid-run.
# Its own --keep-last is the default 3: the run's checkpoint.keep_last (10) must win.
start_coordinator 0 0 --checkpoints runs
mpiexec -np 2 "$FER_BIN/fer-train" "${common[@]}" --set train.epochs=5 --run external \
  --set coordinator.address="127.0.0.1:$PORT" >external.log 2>&1 &
job=$!
for _ in $(seq 1 600); do  # up to 2 minutes for the first epoch
  [ -f runs/external/metrics.jsonl ] && [ "$(lines_of runs/external/metrics.jsonl)" -ge 1 ] && break
  sleep 0.2
done
[ "$(lines_of runs/external/metrics.jsonl)" -ge 1 ] || { cat external.log coordinator.log; kill "$job"; fail "no epoch reached the external coordinator"; }
kill -9 "$coordinator_pid"
wait "$coordinator_pid" 2>/dev/null || true
echo "killed fer-coordinator after $(lines_of runs/external/metrics.jsonl) epoch(s); restarting it on port $PORT"
sleep 1
start_coordinator "$PORT" "$HTTP" --checkpoints runs
grep -q "restored run external" coordinator.log || { cat coordinator.log; fail "the restarted coordinator did not reopen the run"; }
timeout 300 tail --pid="$job" -f /dev/null || { kill "$job"; fail "training did not end after the coordinator restart"; }
wait "$job" || { cat external.log; fail "training with a restarted coordinator failed"; }
python3 - runs/external <<'PY' || { cat coordinator.log; fail "the restarted coordinator lost or duplicated something"; }
import hashlib, json, os, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/metrics.jsonl")]
assert [l["epoch"] for l in lines] == [1, 2, 3, 4, 5], [l["epoch"] for l in lines]
assert all(l["ranks"] == 2 for l in lines)
m = json.load(open(d + "/manifest.json"))
assert [c["epoch"] for c in m["checkpoints"]] == [1, 2, 3, 4, 5], m["checkpoints"]
for c in m["checkpoints"]:
    data = open(os.path.join(d, c["file"]), "rb").read()
    assert len(data) == c["bytes"] and hashlib.sha256(data).hexdigest() == c["sha256"], c["file"]
assert not [f for f in os.listdir(d) if ".tmp-" in f], os.listdir(d)
print("after the restart: 5 epochs once each, 5 checkpoints verified")
PY
python3 - "$HTTP" <<'PY' || fail "the status page does not describe the finished run"
import json, sys, urllib.request
base = "http://127.0.0.1:%s" % sys.argv[1]
status = json.load(urllib.request.urlopen(base + "/status", timeout=10))
run = [r for r in status["runs"] if r["run"] == "external"][0]
assert run["state"] == "finished" and run["world_size"] == 2, run["state"]
assert len(run["metrics"]) == 5 and run["latest"] == "epoch-0005.pt"
metrics = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
assert 'fer_run_val_accuracy{run="external"}' in metrics, metrics[:2000]
page = urllib.request.urlopen(base + "/", timeout=10).read().decode()
assert 'id="confusion"' in page
PY
kill "$coordinator_pid"
wait "$coordinator_pid" || fail "fer-coordinator did not stop cleanly on SIGTERM"
coordinator_pid=""

# 3. Exact aggregation against scikit-learn, through a second implementation of the wire format.
if "$sk_python" -c 'import sklearn' 2>/dev/null; then
  start_coordinator 0 -1 --checkpoints runs
  "$sk_python" "$FER_ROOT/tests/coord/protocol_peer.py" oracle "$PORT" runs || fail "the aggregate differs from scikit-learn"
  kill "$coordinator_pid"
  wait "$coordinator_pid" || true
  coordinator_pid=""
else
  echo "note: python3-sklearn missing: the scikit-learn comparison was skipped (launch/test.sh installs it)"
fi

# 4. Beyond loopback only with a token.
expect_exit 2 env -u FER_COORD_TOKEN "$FER_BIN/fer-coordinator" --listen 0.0.0.0 --port 0 --http-port -1 --checkpoints runs
assert_output_contains "requires a shared token"
echo "e2e coordinator: ok"
