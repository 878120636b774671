#!/usr/bin/env bash
# fer-coordinator at its file-descriptor limit (ulimit -n 64) with 150 idle
# connections that never say Hello: it must not spin (it used to burn 1.39 CPU-s per
# 2 s and log 2.6 million lines in 5 s), it closes the strangers after
# --hello-timeout, and then serves again: a rank can say Hello and the status page
# answers. Figures: CPU seconds and log lines while saturated.
source "$(dirname "$0")/lib.sh"
soft=$(ulimit -Sn)
ulimit -Sn 64  # the soft limit only: this shell takes it back after the start
start_coordinator 0 0 --checkpoints runs --hello-timeout 3
ulimit -Sn "$soft"
python3 - "$PORT" "$HTTP" "$coordinator_pid" <<'PY' || { tail -5 coordinator.log; fail "the coordinator did not recover from its fd limit"; }
import os, socket, sys, time, urllib.request
port, http, pid = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
tick = os.sysconf("SC_CLK_TCK")
def cpu():
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick
idle = []
for _ in range(150):
    try:
        idle.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        break
start_cpu, start = cpu(), time.time()
time.sleep(2)
busy = cpu() - start_cpu
lines = sum(1 for _ in open("coordinator.log"))
print("figure: %d idle connections; coordinator CPU %.2f s in 2 s while at its fd limit; %d log lines"
      % (len(idle), busy, lines))
assert busy < 0.5, "the coordinator spins at its fd limit: %.2f CPU-s in 2 s" % busy
assert lines < 50, "%d log lines in 2 s" % lines
# After --hello-timeout (3 s) the strangers are closed; the backlog drains.
deadline = time.time() + 30
while True:
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/status" % http, timeout=2).read()
        break
    except OSError:
        assert time.time() < deadline, "the status page did not answer within 30 s"
        time.sleep(0.5)
print("figure: status page answers %.1f s after the flood" % (time.time() - start))
for s in idle:
    s.close()
PY
grep -q "no Hello for 3 s" coordinator.log || { tail -5 coordinator.log; fail "idle strangers were not closed"; }
echo "faults fd_limit: ok"
