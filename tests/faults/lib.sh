# Helpers of the fault-injection suite (label `faults`): each script reproduces one
# hostile or broken situation with the real executables and checks exit codes, the
# messages and the consistency of the run directory; timings are printed as figures.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

# make_synth_shards [IMAGES] : fer-synth + fer-shard into shards/synth
make_synth_shards() {
  "$FER_BIN/fer-synth" --out synth --images "${1:-1200}" --format csv --seed 5 >/dev/null
  "$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
}

# The tiny preset on the synthetic shards, one thread, quick epochs.
TINY=(-c "$FER_ROOT/configs/tiny.yaml" --set data.shards=shards/synth --set train.threads=1)

# run_digest DIR : one line per file of a run directory (name, SHA-256 or link target),
# to compare a run before and after a fault.
run_digest() {
  (cd "$1" && for f in * .[!.]*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    case "$f" in .coordinator.lock) continue ;; esac
    if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; elif [ -f "$f" ]; then sha256sum "$f"; fi
  done)
}

# check_run_consistent DIR [after-kill] : every checkpoint the manifest lists matches
# its SHA-256, pointers resolve to listed files, no epoch is listed twice, no
# temporary is left — except, right after a SIGKILL, temporaries of the dead process
# (hidden .NAME.tmp-PID files that the run's next writer removes when it opens it).
check_run_consistent() {
  python3 - "$1" "${2:-}" <<'PY' || fail "run directory $1 is inconsistent"
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
files = [c["file"] for c in m["checkpoints"]]
epochs = [c["epoch"] for c in m["checkpoints"]]
assert len(set(epochs)) == len(epochs), "an epoch listed twice: %s" % epochs
for c in m["checkpoints"]:
    data = open(os.path.join(d, c["file"]), "rb").read()
    assert len(data) == c["bytes"] and hashlib.sha256(data).hexdigest() == c["sha256"], c["file"]
for pointer in ("latest.pt", "best.pt"):
    p = os.path.join(d, pointer)
    if files:
        assert os.path.basename(os.path.realpath(p)) in files, "%s -> %s" % (pointer, os.path.realpath(p))
def alive(pid):
    # A SIGKILLed process is dead even while it waits, as a zombie, to be reaped; in a
    # container whose PID 1 does not reap, it waits for ever.
    try:
        stat = open("/proc/%d/stat" % int(pid)).read()
    except (OSError, ValueError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
left = [f for f in os.listdir(d) if ".tmp-" in f]
if sys.argv[2] == "after-kill":
    left = [f for f in left if not f.startswith(".") or alive(f.rsplit("-", 1)[1])]
assert not left, "temporaries left: %s" % left
print("%s: %d checkpoints verified (epochs %s)" % (d, len(files), epochs))
PY
}

now() { date +%s.%N; }
seconds_since() { python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
