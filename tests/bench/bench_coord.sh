#!/usr/bin/env bash
# fer-coordinator benchmark (prints figures; not a test, asserts no time). Builds
# fer-bench-coordinator and fer-coordinator, then measures (tests/bench/coord_bench.cpp):
#   1. fan-in: 512 simulated ranks, one TCP connection each, 50 rounds; the last rank's
#      report to the aggregated Ack, and a burst of all 512 reports at once;
#      target p99 < 50 ms;
#   2. checkpoint ingest on loopback: 1 GiB as Begin + 1 MiB chunks + End, 3 runs;
#      target >= 1 GB/s (loopback, SHA-256, page-cache writes and fsync all inside);
#   3. fer-coordinator's memory (a child process) over 10,000 reports: world 2, world 2
#      resending aggregated sets, world 1000.
#   bash tests/bench/bench_coord.sh [fer-bench-coordinator options, e.g. --ranks 64
#                                    --rounds 5 --checkpoint-mb 64 --reports 1000]
# FER_BUILD_DIR: the build directory (default <repo>/build); its bin/ is used.
source "$(dirname "$0")/lib.sh" coord
build="${FER_BUILD_DIR:-$root/build}"
bin="${FER_BIN:-$build/bin}"
cmake --build "$build" --target fer-bench-coordinator fer-coordinator >&2
# Scratch space (checkpoints, the 1 GiB uploads) under lib.sh's directory, removed on exit.
"$bin/fer-bench-coordinator" --dir "$work" --coordinator "$bin/fer-coordinator" "$@"
