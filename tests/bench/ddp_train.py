"""The reference model of configs/bench.yaml (FerNet from train_loop.py) trained
data-parallel with PyTorch DistributedDataParallel over gloo: the Python side of
tests/bench/bench_dist.sh (Debian's python3-torch, the same LibTorch build as the
C++ trainer). Each rank trains `steps` SGD steps on its own fixed random batch of 64;
rank 0 prints the global images/s (all ranks) of the steps after the warm-up.

    /usr/bin/python3 -m torch.distributed.run --nproc_per_node=2 --redirects 2 --tee 1 \
        tests/bench/ddp_train.py THREADS STEPS [--no-overlap] [--bind]

--no-overlap: backward under DDP's no_sync(), then one all-reduce of all gradients
flattened (the counterpart of fer-train's dist.overlap=false). --bind: pin rank r to
CPU r (the counterpart of mpiexec --bind-to core). Without torchrun's environment it
runs as a world of 1 (still through DDP and gloo).
"""
import argparse
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_loop import FerNet  # noqa: E402  (the same model as the 1-process loop)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("threads", type=int)
    parser.add_argument("steps", type=int)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-overlap", action="store_true")
    parser.add_argument("--bind", action="store_true")
    args = parser.parse_args()

    if "WORLD_SIZE" not in os.environ:  # a world of 1 without torchrun
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1",
                          MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    if args.bind:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[local_rank % len(cpus)]})
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo")

    torch.manual_seed(0)  # same initial weights everywhere (DDP broadcasts rank 0's anyway)
    model = DistributedDataParallel(FerNet())  # bucket_cap_mb 25, first bucket 1 MB: as fer-train
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    torch.manual_seed(1 + rank)  # each rank its own data
    x, y = torch.randn(64, 1, 48, 48), torch.randint(0, 7, (64,))
    model.train()
    grads = [p for p in model.parameters() if p.requires_grad]

    def step():
        opt.zero_grad()
        if args.no_overlap:
            with model.no_sync():
                F.cross_entropy(model(x), y).backward()
            flat = torch.cat([p.grad.reshape(-1) for p in grads])
            dist.all_reduce(flat)
            flat /= world
            offset = 0
            for p in grads:
                p.grad.copy_(flat[offset:offset + p.numel()].view_as(p))
                offset += p.numel()
        else:
            F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(args.warmup):  # allocator, oneDNN primitives, DDP's bucket rebuild
        step()
    dist.barrier()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        print(f"ddp world={world} threads={args.threads} overlap={int(not args.no_overlap)} "
              f"params={params} images/s={world * 64 * args.steps / seconds:.1f}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
