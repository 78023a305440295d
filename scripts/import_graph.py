"""Print the app's import circles and its packages' sizes (issue 23's measure).

Every ``import`` counts, those inside functions too (a lazy import is still a
dependency). Modules are files under ``image_ranking/``; an import of a package counts
as an import of its ``__init__``. Usage: python scripts/import_graph.py [root]
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

APP = "image_ranking"
# Floors, lowest first (docs/architecture.md): a module imports its own floor or lower ones.
FLOORS = [
    {"image_ranking", "conf", "exceptions", "choices", "drops", "poi", "priors"},
    {"models", "validations"},  # the host's data: its POIs and Validation reports
    {"commons", "media"},
    {"scoring"},
    {"learning", "pipeline"},
    {"ranking", "leases", "runs"},
    {"views", "management", "admin", "checks", "apps", "urls", "forms"},
]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The app modules ``path`` imports, anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            # "from pkg import mod" imports pkg.mod; "from pkg import name", pkg itself.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        for target in targets:
            # The longest known module that the target names (x.y.z -> x.y if z is a name).
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph(root: Path) -> dict[str, set[str]]:
    paths = [p for p in (root / APP).rglob("*.py") if "migrations" not in p.parts]
    files = {module_name(root, p): p for p in paths}
    known = set(files)
    return {name: imports(path, name, known) for name, path in files.items()}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def floor(module: str) -> int:
    part = module.split(".")[1] if "." in module else module
    return next((n for n, names in enumerate(FLOORS) if part in names), len(FLOORS))


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a lower floor to a higher one (lazy ones too)."""
    return sorted((v, w) for v, ws in edges.items() for w in ws if floor(w) > floor(v))


def package_lines(root: Path) -> dict[str, int]:
    sizes: dict[str, int] = defaultdict(int)
    for path in (root / APP).rglob("*.py"):
        rel = path.relative_to(root / APP).parts
        key = rel[0] if len(rel) > 1 else "(top level)"
        sizes[key] += len(path.read_text().splitlines())
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))


def largest(root: Path) -> dict[str, tuple[int, str]]:
    """The longest function, class and management command (lines, where)."""
    best = {"function": (0, ""), "class": (0, ""), "command": (0, "")}
    for path in (root / APP).rglob("*.py"):
        if "migrations" in path.parts:
            continue
        rel = path.relative_to(root)
        if "commands" in path.parts and path.name != "__init__.py":
            lines = len(path.read_text().splitlines())
            best["command"] = max(best["command"], (lines, str(rel)))
        for node in ast.walk(ast.parse(path.read_text())):
            kind = {ast.FunctionDef: "function", ast.AsyncFunctionDef: "function"}.get(
                type(node), "class" if isinstance(node, ast.ClassDef) else ""
            )
            if kind:
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                best[kind] = max(best[kind], (size, f"{rel}:{node.lineno} {node.name}"))
    return best


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    edges = graph(root)
    found = circles(edges)
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} import edges")
    print(f"{len(found)} import circles (lazy imports included)")
    for comp in found:
        inside = {v: sorted(w for w in edges[v] if w in comp) for v in comp}
        print("  " + "; ".join(f"{v} -> {', '.join(ws)}" for v, ws in inside.items()))
    up = upward(edges)
    print(f"{len(up)} imports from a lower floor to a higher one")
    for v, w in up:
        print(f"  {v} -> {w}")
    for kind, (size, where) in largest(root).items():
        print(f"largest {kind}: {size} lines, {where}")
    total = sum(package_lines(root).values())
    print(f"lines per package ({total} in all):")
    for name, lines in package_lines(root).items():
        print(f"  {name:16} {lines:6}  {lines / total:4.0%}")


if __name__ == "__main__":
    main()
