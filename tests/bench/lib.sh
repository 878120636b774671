# Shared by the benchmark scripts: paths, a scratch directory removed on exit, and
# the Python side of the C++/Python comparisons. Usage: source it with the scratch
# directory's name, e.g. `source "$(dirname "$0")/lib.sh" train`.
# shellcheck shell=bash
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${FER_BIN:-$root/build/bin}"
work="$(mktemp -d "${TMPDIR:-/tmp}/fer-bench-${1:-run}-XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Debian's python3-torch (the same LibTorch build as the C++ tools), installed when
# missing; and jemalloc for LD_PRELOAD, so Python gets the allocator fer-train links.
require_python_torch() {
  if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "installing Debian's python3-torch for the comparison" >&2
    local sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends python3-torch >/dev/null
  fi
  jemalloc=$(ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 2>/dev/null || true)
}
