#!/usr/bin/env bash
# The install proof: a minimal Debian root made here from Debian's packages, the
# checkout copied in, and the README's two commands run inside it with chroot.
#
#   bash tests/platform/fresh_root.sh bookworm       # Debian 12: quick start + tests
#   bash tests/platform/fresh_root.sh trixie         # Debian 13: quick start + tests
#   bash tests/platform/fresh_root.sh trixie-cuda    # Debian 13, FER_CUDA=1: build against
#                                                    # libtorch-cuda-dev + CPU tests (~2.7 GB)
#
# It prints one line per step with the seconds it took, and exits non-zero when a step
# fails (after printing the end of that step's log). A missing package is a failure;
# the only skip (exit 77) is a Debian mirror that cannot be reached.
#
# What is kept between runs (FER_PLATFORM_CACHE, default /var/tmp/fer-platform), so that a
# second run costs minutes: the bare root of each release as a tarball, and the apt
# archives of each release (bind-mounted into the root as /var/cache/apt/archives).
# The working root (ROOT = CACHE/roots/FLAVOUR) is made anew from the tarball every run.
#
# Environment:
#   FER_MIRROR          Debian mirror (default: the one this machine's apt uses)
#   FER_PLATFORM_CACHE  where roots, tarballs, archives and logs live
#   FER_PLATFORM_SOURCE head (default: git archive HEAD) or worktree (tracked and
#                       untracked, not ignored files: to try uncommitted changes)
#   FER_PLATFORM_KEEP=1 leave ROOT in place afterwards (to look inside with chroot)
#   FER_TEST_ARGS       extra ctest arguments inside the root (e.g. "-R unit")
set -euo pipefail

flavour="${1:-}"
case "$flavour" in
  bookworm) release=bookworm components="main" cuda=0 ;;
  trixie) release=trixie components="main" cuda=0 ;;
  trixie-cuda) release=trixie components="main contrib non-free non-free-firmware" cuda=1 ;;
  *)
    echo "usage: $0 bookworm|trixie|trixie-cuda" >&2
    exit 2
    ;;
esac

here="$(cd "$(dirname "$0")" && pwd)"
checkout="$(cd "$here/../.." && pwd)"
cache="${FER_PLATFORM_CACHE:-/var/tmp/fer-platform}"
root="$cache/roots/$flavour"
logs="$cache/logs/$flavour"
archives="$cache/apt-$release"
base_tar="$cache/base-$release.tar"

say() { printf 'fresh-root %s: %s\n' "$flavour" "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# Root: chroot and mounts need it. Re-run under sudo when it is there.
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || fail "needs root (chroot, mount) and there is no sudo"
  exec sudo -E bash "$0" "$@"
fi

default_mirror() {
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v security | head -n 1 | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//')
  echo "${uri:-http://deb.debian.org/debian}"
}
mirror="${FER_MIRROR:-$(default_mirror)}"
mirror="${mirror%/}"

# The one skip: no mirror, nothing can be proven (and nothing is wrong with the project).
# reachable URL: an HTTP HEAD answered within 20 s.
reachable() {
  python3 -c 'import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="HEAD"), timeout=20)' "$1" 2>/dev/null
}
if ! reachable "$mirror/dists/$release/Release"; then
  say "SKIP: Debian mirror $mirror does not answer for $release (set FER_MIRROR)"
  exit 77
fi

mkdir -p "$cache/roots" "$logs" "$archives"
exec 9>"$cache/$flavour.lock"
flock -w 3600 9 || fail "another fresh-root $flavour run holds $cache/$flavour.lock"

# Kills what still runs inside the root (munged, slurmd, ...) and unmounts, always.
cleanup() {
  local pid
  for pid in /proc/[0-9]*; do
    [ "$(readlink "$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "${pid#/proc/}" 2>/dev/null || true
  done
  for mount_point in var/cache/apt/archives dev sys proc; do
    mountpoint -q "$root/$mount_point" 2>/dev/null && umount -l "$root/$mount_point" || true
  done
  if [ "${FER_PLATFORM_KEEP:-0}" != 1 ] && [ -d "$root" ] &&
    ! grep -q " $root/" /proc/mounts; then
    rm -rf "$root"
  fi
}
trap cleanup EXIT

# step NAME COMMAND...: runs it with its output in LOGS/NAME.log and prints one line.
total_start=$SECONDS
step() {
  local name="$1" start=$SECONDS
  shift
  if "$@" >"$logs/$name.log" 2>&1; then
    say "$(printf '%-12s %5d s' "$name" $((SECONDS - start)))"
  else
    local code=$?
    say "$(printf '%-12s %5d s  FAILED (exit %d); the end of %s:' "$name" $((SECONDS - start)) "$code" "$logs/$name.log")"
    tail -n 40 "$logs/$name.log" >&2
    exit 1
  fi
}

make_base() {
  [ -s "$base_tar" ] && return 0
  command -v debootstrap >/dev/null || apt-get install -y -q debootstrap
  local fresh="$cache/base-$release.tmp"
  rm -rf "$fresh"
  debootstrap --variant=minbase "$release" "$fresh" "$mirror"
  tar -C "$fresh" -cf "$base_tar.tmp" .
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$fresh"
}

make_root() {
  cleanup
  rm -rf "$root"
  mkdir -p "$root"
  tar -C "$root" -xf "$base_tar"
  echo "deb $mirror $release $components" >"$root/etc/apt/sources.list"
  rm -f "$root"/etc/apt/sources.list.d/*.sources
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # A real machine resolves its own name (the Slurm test's coordinator address uses it);
  # a debootstrapped root has no /etc/hosts entry for this host.
  cp /etc/hosts "$root/etc/hosts"
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
  mount --bind "$archives" "$root/var/cache/apt/archives"
  mkdir -p "$root/src"
  # Default: what is committed, as a user's clone has it; worktree: with uncommitted changes.
  if [ "${FER_PLATFORM_SOURCE:-head}" = worktree ]; then
    (cd "$checkout" && git ls-files -z --cached --others --exclude-standard |
      xargs -0 tar --ignore-failed-read -cf - 2>/dev/null) | tar -x -C "$root/src"
  else
    git -C "$checkout" archive HEAD | tar -x -C "$root/src"
  fi
}

# Runs a command in the root as a user would: a login shell in /src.
inside() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM=dumb LANG=C.UTF-8 "$@"; }

if [ "$cuda" = 1 ]; then
  env_cuda=(FER_CUDA=1)
else
  env_cuda=()
fi

# Tests that may skip: real data (absent in the root) and the GPU tests (no GPU here).
# Any other skip means a missing package or tool, and fails the check.
check_skips() {
  local skipped
  skipped=$(grep -E '\*\*\*Skipped|Not Run' "$logs/tests.log" | sed -E 's/.*Test +#[0-9]+: +([^ ]+).*/\1/' |
    grep -vE '^(realdata|gpu)\.' || true)
  if [ -n "$skipped" ]; then
    echo "tests skipped that must run in a fresh root: $skipped"
    return 1
  fi
  grep -E 'tests passed|tests failed' "$logs/tests.log"
}

step base make_base
step root make_root
# The README's commands, unchanged, with the CUDA switch for the CUDA root.
if [ "$cuda" = 1 ]; then
  # libtorch-cuda-2.6 needs nvidia-cudnn, whose install script downloads cuDNN from
  # NVIDIA. Where NVIDIA cannot be reached (this workplace reaches only Debian's
  # mirror), a stand-in of that package is installed first: see cudnn_stub.sh.
  if ! reachable https://developer.download.nvidia.com/; then
    say "developer.download.nvidia.com is unreachable: cuDNN comes from a stand-in (tests/platform/cudnn_stub.sh)"
    step cudnn-stub inside bash /src/tests/platform/cudnn_stub.sh
  fi
  step setup inside "${env_cuda[@]}" bash -c 'cd /src && bash launch/setup.sh'
  step cuda-link inside bash -c 'cd /src && ldd build/bin/fer-train | grep -E "torch_cuda|libcudart|libnccl"'
else
  step quickstart inside bash -c 'cd /src && bash launch/quickstart.sh'
fi
step tests inside "${env_cuda[@]}" CI="${CI:-}" bash -c "cd /src && bash launch/test.sh ${FER_TEST_ARGS:-}"
step skips check_skips
# Debian 13 also proves "bring your own LibTorch": the distribution's copy moved to a
# prefix of its own and found through CMAKE_PREFIX_PATH (tests/platform/own_libtorch.sh).
if [ "$flavour" = trixie ]; then
  step own-libtorch inside bash -c 'cd /src && bash tests/platform/own_libtorch.sh'
fi
say "$(printf '%-12s %5d s' total $((SECONDS - total_start)))"
[ "$cuda" = 1 ] && sed 's/^/  /' "$logs/cuda-link.log" >&2
sed 's/^/  /' "$logs/skips.log" >&2
