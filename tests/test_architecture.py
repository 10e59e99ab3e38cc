"""The architecture's rules, checked on the source (docs/architecture.md states them).

Walks every module of ``opdm_studio`` and ``training`` (imports anywhere in a module count, lazy
ones included: a cycle held together by a function-level import is still a cycle; only imports
for type checkers, under ``if TYPE_CHECKING:``, never run and make no cycle).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("opdm_studio", "training")
MAX_LINES = 500
QT = ("PySide6", "shiboken6", "qtawesome", "superqt", "pytestqt")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names (a submodule if it exists, else its package)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _type_only(tree: ast.AST) -> set[int]:
    """Ids of the import nodes under ``if TYPE_CHECKING:`` (for type checkers, never run)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def _imports(module: str, path: Path, type_only: bool = True) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import in the file (without the
    type checkers' ones when ``type_only`` is False)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = set() if type_only else _type_only(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                full = f"{base}.{a.name}"
                out.append((full if _resolve(full) == full else base, [a.name], node.lineno))
    return out


def _graph(type_only: bool = True) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, path in MODULES.items():
        for name, _names, _line in _imports(module, path, type_only):
            target = _resolve(name)
            if target is not None and target != module:
                graph[module].add(target)
    return graph


def test_no_import_cycles():
    graph = _graph(type_only=False)
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _unit(module: str) -> str:
    """The package a module belongs to, as the diagram names it: ``app``, ``core``, ...,
    ``training``; ``opdm_studio`` for the top-level modules (errors, paths, fileio, cli, ...)."""
    parts = module.split(".")
    if parts[0] != "opdm_studio":
        return parts[0]
    return parts[1] if len(parts) > 1 and (ROOT / "opdm_studio" / parts[1]).is_dir() else "opdm_studio"


def _diagram() -> dict[str, set[str]]:
    """The arrows drawn in docs/architecture.md: the first code block under "Dependency rules",
    one ``package -> imported, imported`` line per package."""
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = doc.split("## Dependency rules", 1)[1].split("```", 2)[1]
    drawn: dict[str, set[str]] = {}
    for line in block.splitlines():
        if "->" in line:
            src, _, dst = line.partition("->")
            drawn[src.strip()] = {d.strip() for d in dst.split(",") if d.strip()}
    return drawn


def test_the_dependency_diagram_is_the_import_graph():
    """Every import between packages has its arrow in the diagram, every arrow an import, and
    every package its line (the top-level modules serve them all and are not drawn as targets)."""
    drawn = _diagram()
    actual: dict[str, set[str]] = {}
    example: dict[tuple[str, str], str] = {}
    for module, path in MODULES.items():
        for name, _names, line in _imports(module, path):
            target = _resolve(name)
            if target is None:
                continue
            a, b = _unit(module), _unit(target)
            if a != b and b != "opdm_studio":
                actual.setdefault(a, set()).add(b)
                example.setdefault((a, b), f"{path.relative_to(ROOT)}:{line}")
    packages = {_unit(m) for m in MODULES} - {"opdm_studio"}
    assert {"app", "engine", "core", "training"} <= set(drawn), f"no diagram read: {drawn}"
    undrawn = sorted(packages - set(drawn))
    missing = [f"{a} -> {b} (e.g. {example[a, b]})" for a in sorted(actual) for b in sorted(actual[a])
               if b not in drawn.get(a, set())]
    unused = [f"{a} -> {b}" for a in sorted(drawn) for b in sorted(drawn[a]) if b not in actual.get(a, set())]
    assert not (undrawn or missing or unused), (
        "docs/architecture.md's diagram is not the import graph:"
        + "".join(f"\n  package without its line: {p}" for p in undrawn)
        + "".join(f"\n  import without an arrow: {m}" for m in missing)
        + "".join(f"\n  arrow without an import: {u}" for u in unused))


def _violations(rule) -> list[str]:
    bad = []
    for module, path in MODULES.items():
        for name, names, line in _imports(module, path):
            msg = rule(module, name, names)
            if msg:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {msg}")
    return bad


def test_layers():
    def rule(module: str, name: str, names: list[str]) -> str | None:
        top = name.split(".")[0]
        if top in QT and not module.startswith("opdm_studio.app"):
            return f"Qt ({name}) outside opdm_studio.app"
        if top == "torch" and module.startswith("opdm_studio.imaging"):
            return "torch in opdm_studio.imaging"
        if name.startswith("opdm_studio.app") and not module.startswith("opdm_studio.app"):
            return f"imports the app ({name})"
        below = {"opdm_studio.core": ("opdm_studio.engine", "opdm_studio.pipelines", "opdm_studio.imaging",
                                      "opdm_studio.evaluation", "training"),
                 "opdm_studio.imaging": ("opdm_studio.core", "opdm_studio.engine", "opdm_studio.pipelines",
                                         "opdm_studio.evaluation", "training"),
                 "opdm_studio.pipelines": ("opdm_studio.engine", "opdm_studio.evaluation", "training")}
        for layer, forbidden in below.items():
            if module.startswith(layer) and name.startswith(forbidden):
                return f"{layer} imports {name} (a layer above it)"
        return None

    bad = _violations(rule)
    assert not bad, "layering broken:\n" + "\n".join(bad)


def test_no_module_reads_another_modules_private_names():
    def private(n: str) -> bool:
        return n.startswith("_") and not (n.startswith("__") and n.endswith("__"))

    bad = _violations(lambda module, name, names: (
        f"imports private {[n for n in names if private(n)]} from {name}"
        if _resolve(name) not in (None, module) and any(private(n) for n in names) else None))
    # attribute access through an imported project module: `flow._TEMPORAL_PRIOR`
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    if _resolve(full) == full and full != module:
                        aliases[a.asname or a.name] = full
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname and _resolve(a.name) == a.name and a.name != module:
                        aliases[a.asname] = a.name
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in aliases and private(node.attr):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: reads {aliases[node.value.id]}.{node.attr}")
    assert not bad, "private names read across modules:\n" + "\n".join(bad)


def test_modules_stay_small_unless_the_architecture_page_says_why():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    big = []
    for path in MODULES.values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        rel = str(path.relative_to(ROOT))
        if n > MAX_LINES and f"{rel} is over {MAX_LINES} lines" not in doc:
            big.append(f"{rel}: {n} lines")
    assert not big, (f"modules over {MAX_LINES} lines (split them, or say why in docs/architecture.md "
                     f"as '<path> is over {MAX_LINES} lines because ...'):\n" + "\n".join(big))


def test_architecture_page_lists_every_module():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = []
    for path in MODULES.values():
        rel = path.relative_to(ROOT)
        if rel.name == "__init__.py" and len(path.read_text(encoding="utf-8").splitlines()) < 5:
            continue
        short = "/".join(rel.parts[-2:])
        if str(rel) not in doc and short not in doc and f"`{rel.name}`" not in doc:
            missing.append(str(rel))
    assert not missing, "modules missing from docs/architecture.md:\n" + "\n".join(missing)


def test_readme_is_for_users():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 300
    import re
    assert not re.search(r"\bissue \d+|#\d+\b", readme, re.I), "issue numbers in the README"
    assert "../shared" not in readme and "/work/" not in readme, "paths outside the repository"


@pytest.mark.parametrize("module", ["opdm_studio.core.unet", "opdm_studio.core.model",
                                    "opdm_studio.core.reference", "opdm_studio.core.offsets"])
def test_model_files_are_plain_pytorch(module):
    """The CPU kernel tricks live in core/device.py, not in the model files."""
    text = MODULES[module].read_text(encoding="utf-8")
    for trick in ("torch.ops.mkldnn", "_fused", "PackedConv2d", "__class__", "hasattr("):
        assert trick not in text, f"{module} mentions {trick}"
