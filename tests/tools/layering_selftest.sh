#!/usr/bin/env bash
# tests/tools/layering.py on a made-up src/ tree: an include past the layer fails it with
# the file, line and missing link; linking the library, or a declared constants-only
# include, passes it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tree="$(mktemp -d)"
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/low" "$tree/high"
printf 'add_library(low STATIC low.cpp)\n' > "$tree/low/CMakeLists.txt"
printf '#pragma once\nint low();\n' > "$tree/low/low.hpp"
printf '#include "low/low.hpp"\nint low() { return 1; }\n' > "$tree/low/low.cpp"
printf '# high needs low\nadd_library(high STATIC\n  high.cpp)\n' > "$tree/high/CMakeLists.txt"
printf '#include "low/low.hpp"\nint high() { return low(); }\n' > "$tree/high/high.cpp"

if out="$(python3 "$here/layering.py" "$tree")"; then
  echo "FAIL: high includes low/low.hpp without linking low, and the check passed:"; echo "$out"; exit 1
fi
grep -q 'CROSSED: src/high/high.cpp:1: includes low/low.hpp (of low), which high does not link' <<<"$out" ||
  { echo "FAIL: unexpected report:"; echo "$out"; exit 1; }

printf 'target_link_libraries(high PRIVATE low)\n' >> "$tree/high/CMakeLists.txt"
python3 "$here/layering.py" "$tree" >/dev/null || { echo "FAIL: linked, still refused"; exit 1; }

# The low library must not reach up into high.
printf '#include "high/high.hpp"\n' >> "$tree/low/low.cpp"
printf '#pragma once\nint high();\n' > "$tree/high/high.hpp"
if python3 "$here/layering.py" "$tree" >/dev/null; then echo "FAIL: low includes high"; exit 1; fi
sed -i 's|#include "high/high.hpp"|#include "high/high.hpp"  // nothing to link|' "$tree/low/low.cpp"
python3 "$here/layering.py" "$tree" | grep -q 'exception: src/low/low.cpp:3' ||
  { echo "FAIL: the declared exception is not listed"; exit 1; }
echo "layering self-test: passed"
