#!/usr/bin/env python3
"""The include boundaries of src/ (README "Tests"): every project header a file
includes must belong to its own library or to one that library links, the way CMake
passes usage requirements on: its direct dependencies (PUBLIC, PRIVATE or INTERFACE),
and what those pass on PUBLIC or INTERFACE. So a file that reaches past its layer
(coord including a train/ header, a LibTorch-free library including a model/ header)
fails this test, even though every target shares the src/ include directory.

The libraries, their sources and their links are read from src/*/CMakeLists.txt. A
header belongs to the library that compiles the .cpp of the same name; a header
without one belongs to every library of its folder, and may include what any of them
reaches. An include whose line says
`nothing to link` (a header of constants only) is a declared exception, listed.

usage: layering.py [SRC_DIR]; exit 1 when a boundary is crossed."""
import os
import re
import sys

LINK_KINDS = ("PUBLIC", "PRIVATE", "INTERFACE")


def cmake_commands(text):
    """(name, [arguments]) of each command, comments removed, arguments split."""
    text = re.sub(r"#[^\n]*", "", text)
    for match in re.finditer(r"\b([A-Za-z_]+)\s*\(", text):
        depth, i = 1, match.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield match.group(1).lower(), text[match.end():i - 1].split()


def read_targets(src):
    """{target: {"folder", "sources": set, "links": {kind: set}}} for fer libraries/tools."""
    targets = {}
    for folder in sorted(os.listdir(src)):
        path = os.path.join(src, folder, "CMakeLists.txt")
        if not os.path.isfile(path):
            continue
        variables = {}
        with open(path) as f:
            commands = list(cmake_commands(f.read()))

        def expand(args):
            out = []
            for arg in args:
                m = re.fullmatch(r"\$\{(\w+)\}", arg)
                out.extend(variables.get(m.group(1), []) if m else [arg])
            return out

        for name, args in commands:
            if name == "set" and args:
                variables[args[0]] = args[1:]
            elif name == "list" and len(args) > 2 and args[0] == "APPEND":
                variables.setdefault(args[1], []).extend(args[2:])
            elif name in ("add_library", "add_executable") and args:
                target = targets.setdefault(
                    args[0], {"folder": folder, "sources": set(), "links": {}})
                for source in expand(args[1:]):
                    if source.endswith(".cpp"):
                        target["sources"].add(os.path.join(folder, source))
            elif name == "target_link_libraries" and args and args[0] in targets:
                kind = "PUBLIC"  # the keyword-less signature passes everything on
                for arg in expand(args[1:]):
                    if arg in LINK_KINDS:
                        kind = arg
                    else:
                        targets[args[0]]["links"].setdefault(kind, set()).add(arg)
    return targets


def includable(targets):
    """{target: the set of targets whose headers its files may include}."""
    passed_on = {}

    def public_closure(name, seen=()):
        if name in passed_on:
            return passed_on[name]
        result = {name}
        if name in targets and name not in seen:
            for kind in ("PUBLIC", "INTERFACE"):
                for dep in targets[name]["links"].get(kind, ()):
                    result |= public_closure(dep, seen + (name,))
        passed_on[name] = result
        return result

    allowed = {}
    for name, target in targets.items():
        reach = {name}
        for kind in LINK_KINDS:
            for dep in target["links"].get(kind, ()):
                reach |= public_closure(dep)
        allowed[name] = reach
    return allowed


def owners(header, targets):
    """The targets a project header belongs to (empty: no library claims its folder)."""
    source = os.path.splitext(header)[0] + ".cpp"
    claimed = {name for name, t in targets.items() if source in t["sources"]}
    if claimed:
        return claimed
    folder = header.split("/")[0]
    return {name for name, t in targets.items() if t["folder"] == folder}


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
    src = os.path.normpath(src)
    targets = read_targets(src)
    allowed = includable(targets)
    # Each file of src/ with the targets that compile it (a header: its owners).
    files = {}
    for folder, _, names in os.walk(src):
        for file_name in names:
            if not file_name.endswith((".cpp", ".hpp")):
                continue
            relative = os.path.relpath(os.path.join(folder, file_name), src)
            if file_name.endswith(".cpp"):
                files[relative] = {n for n, t in targets.items() if relative in t["sources"]}
            else:
                files[relative] = owners(relative, targets)
    crossings, exceptions, checked = [], [], 0
    include = re.compile(r'^\s*#\s*include\s+"([^"]+)"(.*)$')
    for relative, compiled_by in sorted(files.items()):
        if not compiled_by:
            continue
        with open(os.path.join(src, relative)) as f:
            for number, line in enumerate(f, 1):
                m = include.match(line)
                if not m or m.group(1) not in files:
                    continue  # a system or generated header, or one of this folder's own
                header = m.group(1)
                header_owners = files[header]
                checked += 1
                # A .cpp must reach some owner of the header from every target that
                # compiles it; a header of its own without a .cpp (owned by every library
                # of its folder) from one of them.
                blocked = sorted(t for t in compiled_by if not (header_owners & allowed[t]))
                if relative.endswith(".hpp") and len(blocked) < len(compiled_by):
                    continue
                if not blocked or not header_owners:
                    continue
                where = f"src/{relative}:{number}"
                if "nothing to link" in m.group(2):
                    exceptions.append(f"{where}: {header} (declared: constants only)")
                    continue
                crossings.append(
                    f"{where}: includes {header} (of {', '.join(sorted(header_owners))}), "
                    f"which {', '.join(blocked)} does not link; link it in CMake or move the "
                    "code to the layer it belongs to")
    print(f"layering: {len(targets)} targets, {checked} project includes checked")
    for line in exceptions:
        print("  exception: " + line)
    for line in crossings:
        print("  CROSSED: " + line)
    return 1 if crossings else 0


if __name__ == "__main__":
    sys.exit(main())
