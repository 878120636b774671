# Shared by the launch/ scripts: paths, logging, and the one place that knows
# which Debian packages the project needs.
# shellcheck shell=bash

FER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FER_BUILD_DIR="${FER_BUILD_DIR:-$FER_ROOT/build}"
FER_BIN="$FER_BUILD_DIR/bin"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Debian 12 packages: build tools, LibTorch (CPU), OpenBLAS (the reference BLAS
# makes LibTorch's matrix products ~30x slower), jemalloc, Open MPI, OpenCV (+
# cascades), HDF5, Boost (Asio/Beast), GoogleTest, CLI11, yaml-cpp, nlohmann-json,
# spdlog/fmt, OpenSSL (SHA-256), Python 3 for test helpers.
FER_PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libtorch-dev libopenblas0-pthread libopenblas-dev libjemalloc-dev libdnnl-dev
  libopenmpi-dev openmpi-bin
  libopencv-dev opencv-data
  libhdf5-dev hdf5-tools
  libboost-dev libboost-system-dev
  libgtest-dev libgmock-dev
  libcli11-dev libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libssl-dev
  python3
)
# Only the tests need these: a single-node Slurm cluster (slurm/train.sh is tested
# with sbatch --wait on it), scikit-learn (fer-eval and coordinator metrics are checked
# against it), headless Chromium (the status page is rendered and screenshotted) and
# clang with libFuzzer (the protocol decoder's fuzz target).
FER_TEST_PACKAGES=(slurmctld slurmd slurm-client munge python3-sklearn chromium clang libclang-rt-14-dev)

# Installs what is missing (only that), so re-running is cheap and safe.
# Arguments: extra packages beyond FER_PACKAGES (launch/test.sh adds FER_TEST_PACKAGES).
install_dependencies() {
  if [ "${FER_SKIP_INSTALL:-0}" = 1 ]; then return 0; fi
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
