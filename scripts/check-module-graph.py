#!/usr/bin/env python3
"""Fails if the core's modules import each other in a cycle (issue 13: a clean module graph).

A module's imports are the `crate::name` paths in its files (tests excluded); a module's
children (`machine/tests.rs`) belong to it.
"""
import pathlib
import re
import sys

src = pathlib.Path(__file__).resolve().parent.parent / "core" / "src"
graph = {}
for path in src.rglob("*.rs"):
    rel = path.relative_to(src)
    if path.name == "tests.rs":
        continue
    module = rel.parts[0].removesuffix(".rs")
    if module == "lib":
        continue
    text = path.read_text()
    # A file's own test module may use anything; only what the module itself imports counts.
    text = text.split("#[cfg(test)]\nmod tests", 1)[0]
    names = set(re.findall(r"crate::([a-z_]+)", text))
    for group in re.findall(r"crate::\{([^}]*)\}", text):
        names.update(n.strip().split("::")[0] for n in group.split(",") if n.strip())
    graph.setdefault(module, set()).update(n for n in names if n != module)

state = {}
stack = []


def visit(node):
    state[node] = "open"
    stack.append(node)
    for dep in sorted(graph.get(node, ())):
        if dep not in graph:
            continue
        if state.get(dep) == "open":
            cycle = stack[stack.index(dep):] + [dep]
            sys.exit("import cycle in core/src: " + " -> ".join(cycle))
        if dep not in state:
            visit(dep)
    stack.pop()
    state[node] = "done"


for module in sorted(graph):
    if module not in state:
        visit(module)
print(f"core/src: {len(graph)} modules, no import cycles")
