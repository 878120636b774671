#!/usr/bin/env python3
"""The code-shape limits of src/ (README "Tests"): no file over 600 lines and no
function over 120 lines, apart from declarative tables (a function whose definition is
preceded by a `// code-shape: table` comment). Prints what exceeds them, the largest
function and the lines per module; exit 1 when a limit is exceeded.

Functions are found by brace matching on clang-formatted C++ with comments, string
and character literals removed: a block opened at namespace or class scope whose head
holds a parameter list is a function (lambdas inside a function belong to it).

usage: code_shape.py [SRC_DIR] [--table]"""
import os
import re
import sys

MAX_FILE_LINES = 600
MAX_FUNCTION_LINES = 120


def strip(text):
    """Comments and literals blanked (newlines kept, so line numbers stay)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i) if m else -1
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'" and not (c == "'" and i > 0 and text[i - 1].isalnum()):
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * (j - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, line count, is_table) of every function in a file."""
    raw = open(path, encoding="utf-8").read()
    raw_lines = raw.split("\n")
    # Preprocessor lines blanked too: a function's head starts after them.
    text = "\n".join(" " * len(l) if l.lstrip().startswith("#") else l
                     for l in strip(raw).split("\n"))
    found = []
    # Scopes: "transparent" (namespace, class, extern) or ("function", name, line).
    stack = []
    head_start = 0
    for pos, c in enumerate(text):
        if c in ";":
            head_start = pos + 1
        elif c == "{":
            head = text[head_start:pos]
            inside_function = any(s[0] == "function" for s in stack)
            line = text.count("\n", 0, pos) + 1
            if inside_function:
                stack.append(("block",))
            elif re.search(r"\b(namespace|class|struct|union|enum)\b[^()]*$", head) or re.search(
                    r'extern\s+"', head) or ")" not in head or re.search(r"=\s*$", head):
                stack.append(("transparent",))
            else:
                name = re.findall(r"([~\w:]+)\s*\(", head)
                first = head_start + len(head) - len(head.lstrip())
                start_line = text.count("\n", 0, first) + 1
                stack.append(("function", name[0] if name else "?", start_line))
            head_start = pos + 1
        elif c == "}":
            if stack:
                scope = stack.pop()
                if scope[0] == "function":
                    end_line = text.count("\n", 0, pos) + 1
                    before = raw_lines[scope[2] - 2] if scope[2] >= 2 else ""
                    table = "code-shape: table" in before
                    found.append((scope[1], scope[2], end_line - scope[2] + 1, table))
            head_start = pos + 1
    return found


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "..", "src")
    problems, largest, modules = [], None, {}
    for root, _, names in sorted(os.walk(src)):
        for name in sorted(names):
            if not name.endswith((".cpp", ".hpp", ".h", ".cc")):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            lines = open(path, encoding="utf-8").read().count("\n")
            module = rel.split(os.sep)[0]
            modules[module] = modules.get(module, 0) + lines
            if lines > MAX_FILE_LINES:
                problems.append("%s: %d lines (at most %d)" % (rel, lines, MAX_FILE_LINES))
            for fname, line, length, table in functions(path):
                if not table and (largest is None or length > largest[0]):
                    largest = (length, "%s:%d %s" % (rel, line, fname))
                if length > MAX_FUNCTION_LINES and not table:
                    problems.append("%s:%d: %s is %d lines (at most %d)" %
                                    (rel, line, fname, length, MAX_FUNCTION_LINES))
    if "--table" in sys.argv:
        for module, lines in sorted(modules.items()):
            print("%-12s %6d" % (module, lines))
    if largest:
        print("largest function: %d lines, %s" % largest)
    for p in problems:
        print("code shape: " + p)
    if problems:
        return 1
    print("code shape: every file <= %d lines, every function <= %d lines" %
          (MAX_FILE_LINES, MAX_FUNCTION_LINES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
