#!/usr/bin/env bash
# cmake --install: the seven tools land in PREFIX/bin, the presets and launchers in
# PREFIX/share/fer-cluster, and the installed copy works without the checkout: the
# installed launch/train.sh finds the installed fer-train and trains with an installed
# preset on shards made by the installed fer-synth and fer-shard.
source "$(dirname "$0")/lib.sh"
: "${FER_BUILD_DIR:?set FER_BUILD_DIR to the build directory (CTest does)}"

prefix="$WORK/prefix"
cmake --install "$FER_BUILD_DIR" --prefix "$prefix" >install.log || { cat install.log; fail "cmake --install failed"; }
share="$prefix/share/fer-cluster"
for tool in fer-shard fer-synth fer-train fer-eval fer-predict fer-coordinator fer-serve; do
  [ -x "$prefix/bin/$tool" ] || fail "not installed: bin/$tool"
  "$prefix/bin/$tool" --help >/dev/null || fail "installed $tool --help failed"
done
for file in configs/tiny.yaml configs/cpu.yaml configs/gpu.yaml launch/train.sh slurm/train.sh slurm/eval.sh; do
  [ -e "$share/$file" ] || fail "not installed: share/fer-cluster/$file"
done
[ -x "$share/launch/train.sh" ] || fail "share/fer-cluster/launch/train.sh is not executable"

# Away from the checkout, with nothing of it on PATH or in FER_BIN.
mkdir elsewhere && cd elsewhere
"$prefix/bin/fer-synth" --out synth --images 1400 --format csv --seed 3 >/dev/null
"$prefix/bin/fer-shard" synth/fer2013.csv --out shards/synth -q
expect_exit 0 env -u FER_BIN -u FER_ROOT FER_RANKS=1 bash "$share/launch/train.sh" \
  -c "$share/configs/tiny.yaml" --set data.shards=shards/synth --set train.epochs=1 \
  --set checkpoint.dir=runs --run installed
assert_output_contains ": $prefix/bin/fer-train"
[ -e runs/installed/best.pt ] || { cat "$WORK/out.txt"; fail "installed launcher trained no checkpoint"; }
echo "e2e install: ok"
