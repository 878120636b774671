# Shared by the libFuzzer tests (tests/coord_protocol/fuzz_protocol.sh,
# tests/serve/fuzz_request_body.sh): find clang with its libFuzzer runtime (or skip,
# exit 77), build a target with ASan/UBSan, fuzz it for FER_FUZZ_SECONDS (default 20)
# from a seed corpus, and keep what crashed in $FER_BUILD_DIR/fuzz-artifacts/NAME/.
#   source "$FER_ROOT/tests/tools/libfuzzer.sh"
#   fuzz_prepare NAME            # sets $fuzz_work (a temporary folder) and $clangxx
#   (write seeds into "$fuzz_work/corpus")
#   fuzz_run NAME SOURCE...      # builds and fuzzes; exits 0 (no crash) or 1
set -uo pipefail
: "${FER_ROOT:?FER_ROOT must point at the source tree}"
: "${FER_BUILD_DIR:?FER_BUILD_DIR must point at the build tree}"

fuzz_prepare() {
  local name=$1 candidate
  clangxx=""
  for candidate in clang++ clang++-14; do
    if command -v "$candidate" >/dev/null 2>&1; then clangxx="$(command -v "$candidate")"; break; fi
  done
  if [[ -z "$clangxx" ]]; then
    echo "SKIP: no clang++ on PATH (apt-get install clang libclang-rt-dev)"
    exit 77
  fi
  fuzz_work="$(mktemp -d "${TMPDIR:-/tmp}/fer-fuzz-$name.XXXXXX")"
  trap 'rm -rf "$fuzz_work"' EXIT
  # libFuzzer is a separate runtime (Debian: libclang-rt-dev); without it the link fails.
  cat >"$fuzz_work/probe.cpp" <<'CPP'
#include <cstddef>
#include <cstdint>
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }
CPP
  if ! "$clangxx" -fsanitize=fuzzer "$fuzz_work/probe.cpp" -o "$fuzz_work/probe" >"$fuzz_work/probe.log" 2>&1; then
    echo "SKIP: $clangxx cannot link -fsanitize=fuzzer (libFuzzer runtime missing:" \
         "apt-get install libclang-rt-dev)"
    sed 's/^/  /' "$fuzz_work/probe.log" | tail -n 5
    exit 77
  fi
  mkdir -p "$fuzz_work/corpus"
}

fuzz_run() {
  local name=$1 seconds="${FER_FUZZ_SECONDS:-20}"
  shift
  echo "building the fuzz target with $clangxx"
  if ! "$clangxx" -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined \
       -fno-sanitize-recover=undefined -I"$FER_ROOT/src" "$@" -o "$fuzz_work/fuzz_$name"; then
    echo "FAIL: the fuzz target does not compile"
    exit 1
  fi
  local artifacts="$FER_BUILD_DIR/fuzz-artifacts/$name"
  mkdir -p "$artifacts"
  echo "fuzzing for ${seconds}s"
  "$fuzz_work/fuzz_$name" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$fuzz_work/corpus" >"$fuzz_work/fuzz.log" 2>&1
  local rc=$?
  # The last status line ("#N DONE cov: … ft: … corp: … exec/s: …") and the final stats
  # show that it ran and how far it got.
  grep -E '^#[0-9]+' "$fuzz_work/fuzz.log" | tail -n 1
  grep -E '^stat::' "$fuzz_work/fuzz.log"
  if [[ $rc -ne 0 ]]; then
    echo "FAIL: the fuzzer exited with $rc; its log ends:"
    tail -n 60 "$fuzz_work/fuzz.log"
    ls -l "$artifacts"
    # Keep the binary next to the artifacts so the crash can be replayed.
    cp "$fuzz_work/fuzz_$name" "$artifacts/fuzz_$name" 2>/dev/null &&
      echo "replay: $artifacts/fuzz_$name $artifacts/<crash-file>"
    exit 1
  fi
  echo "PASS: no crash in ${seconds}s"
}
