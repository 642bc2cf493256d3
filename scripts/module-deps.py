#!/usr/bin/env python3
"""Which top-level module of the wirecall crate uses which, and the cycles among them.

    python3 scripts/module-deps.py            # the map and the cycles
    python3 scripts/module-deps.py --check    # exit 1 if there is a cycle

A module is a top-level `mod` of wirecall/src/lib.rs (a file or a directory). Module A uses
module B when a file of A names `crate::B`, or a name the crate root re-exports from B
(`crate::Status` is status's), in code (not in comments; tests included, since they too tie
modules together). The crate root itself (lib.rs) is left out: it re-exports everything.
"""
import os
import re
import sys
from collections import defaultdict

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "wirecall", "src")


def modules():
    names = []
    for entry in sorted(os.listdir(SRC)):
        path = os.path.join(SRC, entry)
        if entry == "lib.rs":
            continue
        if entry.endswith(".rs"):
            names.append(entry[:-3])
        elif os.path.isdir(path):
            names.append(entry)
    return sorted(set(names))


def files_of(module):
    file = os.path.join(SRC, module + ".rs")
    if os.path.isfile(file):
        yield file
    folder = os.path.join(SRC, module)
    if os.path.isdir(folder):
        for root, _, files in os.walk(folder):
            for f in files:
                if f.endswith(".rs"):
                    yield os.path.join(root, f)


def code_of(path):
    lines = []
    for line in open(path, encoding="utf-8"):
        stripped = line.lstrip()
        if stripped.startswith("//"):
            continue
        lines.append(line.split("//")[0] if "://" not in line else line)
    return "".join(lines)


def reexports(mods):
    """The names lib.rs re-exports, each with the module it comes from."""
    names = {}
    for line in open(os.path.join(SRC, "lib.rs"), encoding="utf-8"):
        m = re.match(r"\s*pub use (\w+)::(?:\{([^}]*)\}|(\w+));", line)
        if m and m.group(1) in mods:
            for name in (m.group(2) or m.group(3)).split(","):
                names[name.strip()] = m.group(1)
    return names


def uses():
    mods = modules()
    exported = reexports(mods)
    graph = defaultdict(set)
    pattern = re.compile(r"\bcrate::(\w+)")
    group = re.compile(r"\bcrate::\{([^}]*)\}")
    for module in mods:
        for path in files_of(module):
            code = code_of(path)
            found = set(pattern.findall(code))
            for names in group.findall(code):
                found.update(n.strip().split("::")[0] for n in names.split(","))
            for name in found:
                name = exported.get(name, name)
                if name in mods and name != module:
                    graph[module].add(name)
    return mods, graph


def cycles(mods, graph):
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in mods:
        if v not in index:
            visit(v)
    return out


def main():
    mods, graph = uses()
    found = cycles(mods, graph)
    if "--check" not in sys.argv:
        for module in mods:
            print(f"{module:16} -> {', '.join(sorted(graph[module])) or '(nothing)'}")
        print()
    if not found:
        print("no cycles between modules")
        return 0
    for component in found:
        inside = {m: sorted(graph[m] & set(component)) for m in component}
        print("cycle among " + ", ".join(component) + ":")
        for m, targets in inside.items():
            print(f"  {m} -> {', '.join(targets)}")
    return 1 if "--check" in sys.argv else 0


if __name__ == "__main__":
    sys.exit(main())
