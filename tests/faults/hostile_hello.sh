#!/usr/bin/env bash
# A hostile local user (any process on the machine can reach loopback) sends Hellos
# for someone else's finished run to an external fer-coordinator: no secret, a wrong
# or guessed one, a fresh start, other world sizes. Every one is refused and the run
# directory is byte for byte what it was.
source "$(dirname "$0")/lib.sh"
make_synth_shards
start_coordinator 0 0 --checkpoints runs
"$FER_BIN/fer-train" "${TINY[@]}" --set train.epochs=2 --set checkpoint.dir=runs --run victim \
  --set coordinator.address="127.0.0.1:$PORT" -q >train.log 2>&1 || { cat train.log; fail "training failed"; }
before=$(run_digest runs/victim)
grep -q "run.secret" <<<"$before" || fail "the run has no run.secret"
[ "$(stat -c %a runs/victim/run.secret)" = 600 ] || fail "run.secret is not mode 600"
/usr/bin/python3 "$FER_ROOT/tests/coord/protocol_peer.py" hostile "$PORT" victim || fail "a hostile Hello was accepted"
[ "$(run_digest runs/victim)" = "$before" ] || { diff <(echo "$before") <(run_digest runs/victim); fail "a refused Hello changed the run"; }
check_run_consistent runs/victim
state=$(json_get runs/victim/coordinator.json "m['state']")
[ "$state" = finished ] || fail "state is $state after the hostile Hellos"
grep -q "rejected: run victim: no run secret given" coordinator.log || { cat coordinator.log; fail "the coordinator did not log the refusals"; }
echo "faults hostile_hello: ok"
