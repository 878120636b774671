#!/usr/bin/env bash
# fuzz.protocol: builds tests/coord_protocol/fuzz_protocol.cpp with clang's libFuzzer
# (plus ASan/UBSan) and fuzzes the coordinator's frame decoder for a bounded time,
# starting from a seed corpus of valid frames written by fer-test-protocol-seeds.
#   FER_ROOT          source tree (set by CTest)
#   FER_BUILD_DIR     build tree (set by CTest); the seed writer is in $FER_BUILD_DIR/bin
#   FER_FUZZ_SECONDS  how long to fuzz (default 20)
#   $1                optional path of the seed writer (CTest passes its target file)
# Exit 77 (skipped) when clang++ or its libFuzzer runtime is missing. A crash, a leak, a
# sanitizer report or a failed round-trip check fails the test; the offending input is
# kept in $FER_BUILD_DIR/fuzz-artifacts/protocol/ for reproduction
# (run the printed binary with that file as its argument).
source "$FER_ROOT/tests/tools/libfuzzer.sh"
seeds_bin="${1:-$FER_BUILD_DIR/bin/fer-test-protocol-seeds}"
here="$FER_ROOT/tests/coord_protocol"

fuzz_prepare protocol
if [[ ! -x "$seeds_bin" ]]; then
  echo "FAIL: seed writer $seeds_bin not built (cmake --build ... --target fer-test-protocol-seeds)"
  exit 1
fi
"$seeds_bin" "$fuzz_work/corpus" || { echo "FAIL: the seed writer failed"; exit 1; }
fuzz_run protocol "$here/fuzz_protocol.cpp" "$FER_ROOT/src/coord/protocol.cpp"
