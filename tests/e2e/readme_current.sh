#!/usr/bin/env bash
# The README documents what the tools really accept and the tree as it is: its
# configuration table is exactly `fer-train --help-config`, and its repository layout
# names every folder. Regenerate it with
#   FER_README_UPDATE=1 FER_BIN=$PWD/build/bin FER_ROOT=$PWD bash tests/e2e/readme_current.sh
source "$(dirname "$0")/lib.sh"

# The README's "Repository layout" must match the tree: every folder under src/ has its
# own line, every test folder is named on the tests/ line, every top-level folder is
# there, and nothing the layout names is missing from the tree.
python3 - "$FER_ROOT" <<'PY'
import os, re, sys
root = sys.argv[1]
readme = open(os.path.join(root, "README.md")).read()
start = readme.index("## Repository layout")
block_start = readme.index("```\n", start) + 4
block = readme[block_start:readme.index("```", block_start)]
def folders(path):
    full = os.path.join(root, path)
    return sorted(d for d in os.listdir(full) if os.path.isdir(os.path.join(full, d)))
problems = []
src_lines = set(re.findall(r"^src/([a-z_]+)/", block, re.M))
for d in folders("src"):
    if d not in src_lines: problems.append("src/%s/ has no line" % d)
for d in sorted(src_lines - set(folders("src"))):
    problems.append("src/%s/ is in the layout but not in the tree" % d)
tests_entry = re.search(r"^tests/ +(.*?)(?=^\S)", block, re.M | re.S).group(1)
named = set(re.findall(r"\b([a-z0-9_]+)/", tests_entry)) - {"src"}
for d in folders("tests"):
    if d not in named: problems.append("tests/%s/ is not named on the tests/ line" % d)
for d in sorted(named - set(folders("tests")) - set(folders("src"))):
    problems.append("tests/%s/ is in the layout but not in the tree" % d)
top = set(re.findall(r"^([a-z_]+)/", block, re.M))
# Folders that .gitignore keeps out whole (/build*/, /data/, /logs/, /runs/) are outputs
# of the tools, not part of the tree the layout describes.
ignored = set()
for line in open(os.path.join(root, ".gitignore")):
    m = re.match(r"^/([a-z_]+)\*?/$", line.strip())
    if m: ignored.add(m.group(1))
for d in folders("."):
    if not d.startswith(".") and d not in top and d not in ignored and not d.startswith("build"):
        problems.append("%s/ (top level) has no line" % d)
for p in problems: print("README Repository layout: " + p)
if problems: sys.exit(1)
print("README repository layout: %d src folders, %d test folders, current"
      % (len(folders("src")), len(folders("tests"))))
PY
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
