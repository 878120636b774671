# Shared by the launch/ scripts: paths, logging, and the one place that knows
# which Debian packages the project needs.
# shellcheck shell=bash

FER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FER_BUILD_DIR="${FER_BUILD_DIR:-$FER_ROOT/build}"
FER_BIN="$FER_BUILD_DIR/bin"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Debian release decides some package names and what can be installed at all:
# Debian 13 (trixie) has a CUDA-enabled LibTorch, Debian 12 (bookworm) a CPU-only one.
fer_debian_release() {
  local codename=""
  if [ -r /etc/os-release ]; then codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}"); fi
  echo "${codename:-unknown}"
}

# Packages on every supported release: build tools, OpenBLAS (the reference BLAS makes
# LibTorch's matrix products ~30x slower), jemalloc, oneDNN (the fused CPU kernels),
# Open MPI, OpenCV (+ cascades), HDF5, Boost (Asio/Beast), GoogleTest, CLI11, yaml-cpp,
# nlohmann-json, OpenSSL (SHA-256), Python 3 for test helpers. Only -dev packages and
# tools are named, so the t64 renames of runtime libraries (trixie) do not matter.
FER_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libopenblas0-pthread libopenblas-dev libjemalloc-dev libdnnl-dev
  libopenmpi-dev openmpi-bin
  libopencv-dev opencv-data
  libhdf5-dev hdf5-tools
  libboost-dev libboost-system-dev
  libgtest-dev libgmock-dev
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev
  libssl-dev
  python3
)
# LibTorch: CPU-only by default; FER_CUDA=1 takes Debian 13's CUDA build with the CUDA
# toolkit and NCCL (components contrib and non-free; ~2.7 GB to download).
# FER_OWN_LIBTORCH=1: no LibTorch package (yours comes through FER_CMAKE_ARGS, README: Build).
FER_CUDA="${FER_CUDA:-0}"
if [ "${FER_OWN_LIBTORCH:-0}" = 1 ]; then
  :
elif [ "$FER_CUDA" = 1 ]; then
  FER_PACKAGES+=(libtorch-cuda-dev nvidia-cuda-toolkit libnccl-dev)
else
  FER_PACKAGES+=(libtorch-dev)
fi
# Only the tests need these: a single-node Slurm cluster (slurm/train.sh is tested
# with sbatch --wait on it), scikit-learn (fer-eval and coordinator metrics are checked
# against it), headless Chromium and ChromeDriver (the status page and fer-serve's page are
# rendered, driven and screenshotted), clang
# with libFuzzer (the protocol decoder's fuzz target; the unversioned names pick the
# release's default clang: 14 on bookworm, 19 on trixie) and debootstrap (the
# fresh-root platform check, tests/platform/fresh_root.sh).
FER_TEST_PACKAGES=(slurmctld slurmd slurm-client munge python3-sklearn chromium chromium-driver clang libclang-rt-dev debootstrap)

# Refuses a combination that cannot work before anything is downloaded.
check_release() {
  local release
  release=$(fer_debian_release)
  case "$release" in
    bookworm | trixie) ;;
    *) log "warning: Debian '$release' is untested (tested: bookworm = Debian 12, trixie = Debian 13); trying the same packages" ;;
  esac
  if [ "$FER_CUDA" = 1 ] && [ "$release" = bookworm ]; then
    die "FER_CUDA=1: Debian 12 has no CUDA-enabled LibTorch; use Debian 13 (trixie), or bring your own LibTorch (README: Platforms)"
  fi
}

# Installs what is missing (only that), so re-running is cheap and safe.
# Arguments: extra packages beyond FER_PACKAGES (launch/test.sh adds FER_TEST_PACKAGES).
install_dependencies() {
  if [ "${FER_SKIP_INSTALL:-0}" = 1 ]; then return 0; fi
  check_release
  local missing=() wanted=("${FER_PACKAGES[@]}" "$@")
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "dependencies: all ${#wanted[@]} Debian packages present"
    return 0
  fi
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -q
  # (Captured first: with pipefail, grep -q ending the pipe early fails apt-cache.)
  local policy=""
  if [ "$FER_CUDA" = 1 ]; then policy=$(apt-cache policy libtorch-cuda-dev 2>/dev/null || true); fi
  if [ "$FER_CUDA" = 1 ] && ! [[ "$policy" =~ Candidate:\ [0-9] ]]; then
    die "FER_CUDA=1: apt knows no libtorch-cuda-dev; enable the components 'contrib non-free' for $(fer_debian_release) in /etc/apt/sources.list.d/debian.sources (Components: main contrib non-free non-free-firmware)"
  fi
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
}

# Configures (first time) and builds everything with Ninja.
build_project() {
  local build_type="${FER_BUILD_TYPE:-Release}"
  if [ ! -f "$FER_BUILD_DIR/build.ninja" ]; then
    log "configuring ($build_type) in $FER_BUILD_DIR"
    cmake -S "$FER_ROOT" -B "$FER_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" ${FER_CMAKE_ARGS:-}
  fi
  log "building"
  cmake --build "$FER_BUILD_DIR" --parallel "$(nproc)"
}
