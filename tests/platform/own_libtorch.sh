#!/usr/bin/env bash
# "Bring your own LibTorch", checked inside a fresh root (tests/platform/fresh_root.sh
# trixie runs it after the README's commands): the LibTorch of the distribution is moved
# out of the system paths into a prefix of its own, as a pytorch.org zip or pip's torch
# would lie, its packages are removed, and a new build must find it through
# CMAKE_PREFIX_PATH alone (FER_OWN_LIBTORCH=1, FER_CMAKE_ARGS), link fer-train against
# that copy and train with it. A build that still reached for /usr would fail here.
#
# Run inside the root, as root, from /src, after bash launch/quickstart.sh
# (it reuses that run's shards/synth).
set -euo pipefail
prefix=/opt/own-libtorch
build=/src/build-own-libtorch

packages=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'libtorch*' 2>/dev/null |
  awk '$1 == "ii" && $2 ~ /^libtorch(-dev|-cuda-dev|[0-9.]+|-cuda-[0-9.]+)(:amd64)?$/ {print $2}' | sort -u)
[ -n "$packages" ] || { echo "own_libtorch: no LibTorch package installed to move" >&2; exit 1; }
echo "own_libtorch: moving $(echo "$packages" | tr '\n' ' ')to $prefix"
rm -rf "$prefix"
mkdir -p "$prefix"
for package in $packages; do
  dpkg -L "$package" | while read -r path; do
    if [ -f "$path" ] || [ -L "$path" ]; then
      mkdir -p "$prefix$(dirname "$path")"
      cp -a "$path" "$prefix$path"
    fi
  done
done
# shellcheck disable=SC2086  # a list of package names
dpkg --remove --force-depends $packages >/dev/null
[ ! -e /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake ] || { echo "own_libtorch: system LibTorch still present" >&2; exit 1; }

rm -rf "$build"
FER_OWN_LIBTORCH=1 FER_BUILD_DIR="$build" FER_CMAKE_ARGS="-DCMAKE_PREFIX_PATH=$prefix/usr" \
  bash launch/setup.sh 2>&1 | tee "$build.log" | grep -E "LibTorch \.\.|error" || true
grep -q "LibTorch \.\..*($prefix/" "$build.log" || { echo "own_libtorch: configure did not use $prefix" >&2; tail -n 30 "$build.log" >&2; exit 1; }
[ -x "$build/bin/fer-train" ] || { echo "own_libtorch: fer-train was not built" >&2; tail -n 30 "$build.log" >&2; exit 1; }
loaded=$(ldd "$build/bin/fer-train" | grep -E 'libtorch(_cpu)?\.so' || true)
echo "$loaded"
[[ "$loaded" == *"$prefix/"* ]] || { echo "own_libtorch: fer-train does not load LibTorch from $prefix" >&2; exit 1; }

"$build/bin/fer-train" -c configs/tiny.yaml --set data.shards=shards/synth --set train.epochs=1 \
  --set checkpoint.dir="$build/runs" --run own-libtorch | tail -n 3
[ -e "$build/runs/own-libtorch/best.pt" ] || { echo "own_libtorch: the training run stored no checkpoint" >&2; exit 1; }
echo "own_libtorch: ok (LibTorch from $prefix)"
