#!/usr/bin/env bash
# The README documents what the tools really accept: its configuration table is
# exactly `fer-train --help-config`. Regenerate it with
#   FER_README_UPDATE=1 FER_BIN=$PWD/build/bin FER_ROOT=$PWD bash tests/e2e/readme_current.sh
source "$(dirname "$0")/lib.sh"
"$FER_BIN/fer-train" --help-config >reference.txt
python3 - "$FER_ROOT/README.md" reference.txt "${FER_README_UPDATE:-0}" <<'PY'
import sys
readme_path, reference_path, update = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
readme = open(readme_path).read()
marker = "Every key, from `fer-train --help-config`:\n\n```\n"
start = readme.index(marker) + len(marker)
end = readme.index("```", start)
reference = open(reference_path).read()
if readme[start:end] == reference:
    print("README configuration table: %d lines, current" % reference.count("\n"))
    sys.exit(0)
if update:
    open(readme_path, "w").write(readme[:start] + reference + readme[end:])
    print("README configuration table regenerated")
    sys.exit(0)
have = set(l.split()[0] for l in readme[start:end].splitlines() if l.strip())
want = set(l.split()[0] for l in reference.splitlines() if l.strip())
print("README configuration table differs from fer-train --help-config; missing: %s; extra: %s"
      % (sorted(want - have) or "none", sorted(have - want) or "none"))
print("regenerate: FER_README_UPDATE=1 FER_BIN=$PWD/build/bin FER_ROOT=$PWD bash tests/e2e/readme_current.sh")
sys.exit(1)
PY
echo "e2e readme_current: ok"
