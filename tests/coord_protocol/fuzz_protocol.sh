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
set -uo pipefail

: "${FER_ROOT:?FER_ROOT must point at the source tree}"
: "${FER_BUILD_DIR:?FER_BUILD_DIR must point at the build tree}"
seconds="${FER_FUZZ_SECONDS:-20}"
seeds_bin="${1:-$FER_BUILD_DIR/bin/fer-test-protocol-seeds}"
here="$FER_ROOT/tests/coord_protocol"

clangxx=""
for candidate in clang++ clang++-14; do
  if command -v "$candidate" >/dev/null 2>&1; then clangxx="$(command -v "$candidate")"; break; fi
done
if [[ -z "$clangxx" ]]; then
  echo "SKIP: no clang++ or clang++-14 on PATH (apt-get install clang-14 libclang-rt-14-dev)"
  exit 77
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/fer-fuzz-protocol.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# libFuzzer is a separate runtime (Debian: libclang-rt-14-dev); without it the link fails.
cat >"$work/probe.cpp" <<'CPP'
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
CPP
if ! "$clangxx" -fsanitize=fuzzer "$work/probe.cpp" -o "$work/probe" >"$work/probe.log" 2>&1; then
  echo "SKIP: $clangxx cannot link -fsanitize=fuzzer (libFuzzer runtime missing:" \
       "apt-get install libclang-rt-14-dev)"
  sed 's/^/  /' "$work/probe.log" | tail -n 5
  exit 77
fi

if [[ ! -x "$seeds_bin" ]]; then
  echo "FAIL: seed writer $seeds_bin not built (cmake --build ... --target fer-test-protocol-seeds)"
  exit 1
fi

echo "building the fuzz target with $clangxx"
if ! "$clangxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
     -fno-sanitize-recover=undefined -I"$FER_ROOT/src" \
     "$here/fuzz_protocol.cpp" "$FER_ROOT/src/coord/protocol.cpp" -o "$work/fuzz_protocol"; then
  echo "FAIL: the fuzz target does not compile"
  exit 1
fi

mkdir -p "$work/corpus"
"$seeds_bin" "$work/corpus" || { echo "FAIL: the seed writer failed"; exit 1; }

artifacts="$FER_BUILD_DIR/fuzz-artifacts/protocol"
mkdir -p "$artifacts"
echo "fuzzing for ${seconds}s"
"$work/fuzz_protocol" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$work/corpus" >"$work/fuzz.log" 2>&1
rc=$?

# The last status line ("#N DONE cov: … ft: … corp: … exec/s: …") and the final stats show
# that it ran and how far it got.
grep -E '^#[0-9]+' "$work/fuzz.log" | tail -n 1
grep -E '^stat::' "$work/fuzz.log"
if [[ $rc -ne 0 ]]; then
  echo "FAIL: the fuzzer exited with $rc; its log ends:"
  tail -n 60 "$work/fuzz.log"
  ls -l "$artifacts"
  # Keep the binary next to the artifacts so the crash can be replayed.
  cp "$work/fuzz_protocol" "$artifacts/fuzz_protocol" 2>/dev/null &&
    echo "replay: $artifacts/fuzz_protocol $artifacts/<crash-file>"
  exit 1
fi
echo "PASS: no crash in ${seconds}s"
