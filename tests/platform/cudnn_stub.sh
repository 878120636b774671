#!/usr/bin/env bash
# For the offline CUDA platform check only (tests/platform/fresh_root.sh trixie-cuda),
# never for users: Debian 13's libtorch-cuda-2.6 depends on nvidia-cudnn, a contrib
# package whose install script downloads cuDNN 9 from developer.download.nvidia.com.
# A machine that reaches only Debian's mirror cannot install it, so this installs a
# stand-in package of the same name: a libcudnn.so.9 whose functions are the ones
# libtorch_cuda.so imports, each an empty body. It lets the build compile, link and run
# its CPU tests against libtorch_cuda; nothing can call cuDNN here anyway (no GPU).
# A user's machine with Internet access gets the real cuDNN from the real package.
#
# Run inside the root, as root, before FER_CUDA=1 bash launch/setup.sh.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -q
apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends gcc libc6-dev binutils

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# The symbols come from the very libtorch_cuda the build will link.
apt-get -o DPkg::Lock::Timeout=600 download libtorch-cuda-2.6
dpkg-deb -x libtorch-cuda-2.6_*.deb extracted
library=$(find extracted -name 'libtorch_cuda.so.*' -type f | head -n 1)
[ -n "$library" ] || { echo "cudnn_stub: no libtorch_cuda.so in libtorch-cuda-2.6" >&2; exit 1; }
nm -D --undefined-only "$library" | sed -nE 's/^ +U (cudnn[A-Za-z0-9_]+)@libcudnn\.so\.9$/\1/p' | sort -u >symbols.txt
[ -s symbols.txt ] || { echo "cudnn_stub: libtorch_cuda imports no cuDNN symbols?" >&2; exit 1; }
sed 's/.*/int &(void) { return 1000; }/' symbols.txt >stub.c  # 1000: CUDNN_STATUS_NOT_INITIALIZED
printf 'libcudnn.so.9 { global: *; };\n' >version.map
version=$(apt-cache policy nvidia-cudnn | sed -nE 's/ *Candidate: (.*)/\1/p')
[ -n "$version" ] && [ "$version" != "(none)" ] || { echo "cudnn_stub: apt knows no nvidia-cudnn" >&2; exit 1; }

package=nvidia-cudnn-stub
mkdir -p "$package/DEBIAN" "$package/usr/lib/x86_64-linux-gnu"
gcc -shared -fPIC -o "$package/usr/lib/x86_64-linux-gnu/libcudnn.so.9" -Wl,-soname,libcudnn.so.9 \
  -Wl,--version-script=version.map stub.c
ln -s libcudnn.so.9 "$package/usr/lib/x86_64-linux-gnu/libcudnn.so"
cat >"$package/DEBIAN/control" <<EOF
Package: nvidia-cudnn
Version: ${version}+fer.stub1
Architecture: amd64
Maintainer: fer-cluster platform check <root@localhost>
Description: offline stand-in for cuDNN 9 (platform check only; functions do nothing)
EOF
dpkg-deb --build --root-owner-group "$package" stub.deb >/dev/null
dpkg -i stub.deb
# Keep apt from replacing it with the downloader package on a later install.
apt-mark hold nvidia-cudnn >/dev/null
echo "cudnn_stub: installed nvidia-cudnn ${version}+fer.stub1 ($(wc -l <symbols.txt) functions)"
