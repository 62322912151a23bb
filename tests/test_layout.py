"""The code layout issue 17 asked for, held by tests: no import cycle between stylex modules at
import time, no import of another module's private name, no module far over ~400 lines."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 420  # "~400": a little slack for a docstring or an __all__


def _modules() -> dict[str, Path]:
    out = {}
    for p in (SRC / "stylex").rglob("*.py"):
        name = ".".join(p.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name not in mods:
        if "." not in name:
            return None
        name = name.rsplit(".", 1)[0]
    return name


def _imports(path: Path):
    """(module-level?, imported module, imported names) of every absolute stylex import."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith("stylex"):
                yield id(node) in top, node.module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("stylex"):
                    yield id(node) in top, a.name, []


def test_no_import_cycle_at_module_level():
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for top, module, names in _imports(p):
            if not top:
                continue
            for n in names or [""]:
                t = _resolve(f"{module}.{n}" if n else module, mods)
                if t and t != m:
                    graph[m].add(t)
    # depth-first search for a back edge
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(v: str, path: list[str]) -> bool:
        state[v] = 1
        for w in graph[v]:
            if state.get(w) == 1:
                cycle.extend(path[path.index(w) :] + [v, w] if w in path else [v, w])
                return True
            if w not in state and visit(w, path + [v]):
                return True
        state[v] = 2
        return False

    for v in sorted(graph):
        if v not in state and visit(v, []):
            break
    assert not cycle, f"import cycle: {' → '.join(cycle)}"


def test_no_private_name_imported_from_another_module():
    bad = []
    for m, p in _modules().items():
        for _, module, names in _imports(p):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private or any(part.startswith("_") for part in module.split(".")[1:]):
                bad.append(f"{m}: from {module} import {', '.join(private) or '…'}")
    assert not bad, "\n".join(bad)


def test_modules_stay_small():
    big = {
        str(p.relative_to(SRC)): len(p.read_text().splitlines())
        for p in (SRC / "stylex").rglob("*.py")
        if len(p.read_text().splitlines()) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines: {big}"
