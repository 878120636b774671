#!/usr/bin/env bash
# The GPU path end to end, on one CUDA device: fer-train on cuda with bf16 autocast and
# channels-last, its gradients all-reduced by the NCCL communicator (world size 1, on
# LibTorch's current CUDA stream), then fer-eval of the best checkpoint on the GPU.
# Skips (exit 77) with the reason on a machine without a GPU, or with a CPU-only
# LibTorch build (FER_TORCH_CUDA is passed by CTest: ON when LibTorch has CUDA).
# Prints images/s of the training run (a figure, not a pass criterion).
source "$(dirname "$0")/../e2e/lib.sh"

if [ "${FER_TORCH_CUDA:-OFF}" != ON ]; then
  echo "SKIP: this build's LibTorch is CPU-only (Debian 13: FER_CUDA=1 bash launch/setup.sh)"
  exit 77
fi
gpus=0
if command -v nvidia-smi >/dev/null; then gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi
if [ "$gpus" -eq 0 ]; then
  echo "SKIP: no CUDA device (nvidia-smi lists no GPU)"
  exit 77
fi
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

"$FER_BIN/fer-synth" --out synth --images 6000 --format csv --seed 5 >/dev/null
"$FER_BIN/fer-shard" synth/fer2013.csv --out shards/synth -q
# tiny's model with the GPU settings of configs/gpu.yaml; NCCL chosen explicitly so a
# silent fall-back to MPI fails the test.
expect_exit 0 mpirun -np 1 "$FER_BIN/fer-train" -c "$FER_ROOT/configs/tiny.yaml" \
  --set data.shards=shards/synth --set checkpoint.dir=runs --run gpu-e2e \
  --set train.device=cuda --set train.amp=true --set train.channels_last=true \
  --set dist.backend=nccl
cat "$WORK/out.txt"
assert_output_contains "dist: NCCL"
assert_output_contains "cuda:0"
best=$(json_get runs/gpu-e2e/manifest.json "max(c['val_accuracy'] for c in m['checkpoints'])")
echo "best val accuracy on the GPU: $best"
python3 -c "import sys; sys.exit(0 if float('$best') >= 0.90 else 1)" || fail "GPU run reached only $best (< 0.90)"
expect_exit 0 "$FER_BIN/fer-eval" --checkpoint runs/gpu-e2e/best.pt --device cuda
cat "$WORK/out.txt"
echo "gpu train: ok"
