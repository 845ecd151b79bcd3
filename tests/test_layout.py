"""The house rules a newcomer relies on, enforced: short modules, no import loops, no reaching into
another module's private names, and a docstring on every module.

These read the source (ast), they import nothing, so they run in well under a second. Each rule has
a test that plants a violation in a scratch tree, so a checker that sees nothing cannot pass.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tracker", "runners", "board")
MAX_LINES = 350  # STYLE.md §1: a module past this is usually two concepts
# Who may import whom (docs/architecture.md draws the same table). A part imports only the parts
# listed for it, all of them lower: data and calls flow down, never back up.
LAYERS: dict[str, set[str]] = {
    "tracker": set(),  # the only code that talks to MLflow; knows nothing of training or Streamlit
    "runners.process": set(),  # process-wide signal handling
    "runners.tasks": {"tracker"},
    "runners.training": {"runners.tasks", "tracker"},
    "runners.stages": {"runners.training", "runners.tasks", "tracker"},
    "runners.sweeps": {"runners.stages", "runners.training", "runners.tasks", "runners.process", "tracker"},
    "runners.queue": {"runners.process", "tracker"},  # Ray Jobs for the overnight queue
    # One idea up the whole ladder, a sweep and the verdict, in one process (`idealoop climb`).
    "runners.climb": {"runners.sweeps", "runners.stages", "runners.tasks", "runners.process", "tracker"},
    "runners.cli": {
        "runners.climb",
        "runners.queue",
        "runners.sweeps",
        "runners.stages",
        "runners.tasks",
        "runners.process",
        "tracker",
    },
    "board": {"tracker", "runners.stages", "runners.tasks"},  # the stage table and task names, to launch
}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(imported project module, names taken from it, line) for every import in a module, at any
    depth (an import inside a function is a dependency too: it can close a loop at run time)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, [], node.lineno) for a in node.names if a.name in known]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base not in known:
                continue
            plain = []
            for alias in node.names:
                if f"{base}.{alias.name}" in known:  # `from pkg import module`
                    out.append((f"{base}.{alias.name}", [], node.lineno))
                else:
                    plain.append(alias.name)
            if plain:
                out.append((base, plain, node.lineno))
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {m: {dep for dep, _, _ in imports(m, p, known) if dep != m} for m, p in known.items()}


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on, loops = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                loops.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return loops


def private_imports(root: Path = ROOT) -> list[str]:
    """`from other_module import _private` anywhere in the packages (a module's own private names
    are its business; another module depending on them is a hidden contract)."""
    known = modules(root)
    private = lambda n: n.startswith("_") and not n.startswith("__")  # noqa: E731
    found = []
    for name, path in known.items():
        for dep, names, line in imports(name, path, known):
            found += [f"{path.relative_to(root)}:{line} imports {dep}.{n}" for n in names if private(n)]
        # `from pkg import module` / `import pkg.module as m`, then `module._private`
        tree = ast.parse(path.read_text())
        bound = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                bound.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            elif isinstance(node, ast.Import):
                bound.update({a.asname: a.name for a in node.names if a.asname})
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and bound.get(node.value.id) in known
                and bound[node.value.id] != name
                and private(node.attr)
            ):
                found.append(
                    f"{path.relative_to(root)}:{node.lineno} uses {bound[node.value.id]}.{node.attr}"
                )
    return sorted(set(found))


def part_of(module: str) -> str:
    """The layer a module belongs to: `runners.<subpackage>`, or its top-level package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "runners" and len(parts) > 1 else parts[0]


def layer_violations(root: Path = ROOT) -> list[str]:
    known = modules(root)
    found = []
    for name, path in known.items():
        for dep, _, line in imports(name, path, known):
            a, b = part_of(name), part_of(dep)
            if a != b and b not in LAYERS.get(a, set()):
                found.append(f"{path.relative_to(root)}:{line}: {a} may not import {dep}")
    return found


def long_modules(root: Path = ROOT) -> list[str]:
    return [
        f"{p.relative_to(root)} ({n} lines)"
        for p in modules(root).values()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    ]


def test_no_module_is_longer_than_350_lines():
    assert long_modules() == []


def test_there_is_no_import_loop():
    assert import_loops(import_graph()) == []


def test_no_module_imports_another_modules_private_names():
    assert private_imports() == []


def test_each_part_imports_only_the_parts_below_it():
    assert layer_violations() == []


def test_every_part_has_a_place_in_the_layer_table():
    # A new subpackage must be placed deliberately, not slip through as an unknown layer.
    assert {part_of(m) for m in modules()} - {"runners"} <= set(LAYERS)


def test_every_module_says_what_it_is_for():
    missing = [
        str(p.relative_to(ROOT))
        for p in modules().values()
        if p.read_text().strip() and ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert missing == []


# -- the checkers themselves catch what they are for --------------------------------------------
@pytest.fixture
def scratch(tmp_path):
    def write(files: dict[str, str]) -> Path:
        for rel, text in files.items():
            path = tmp_path / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        for pkg in PACKAGES:
            (tmp_path / pkg).mkdir(exist_ok=True)
            (tmp_path / pkg / "__init__.py").touch()
        return tmp_path

    return write


def test_a_planted_loop_is_found_even_through_a_function_level_import(scratch):
    root = scratch(
        {
            "runners/a.py": "from runners.b import x\n",
            "runners/b.py": "def f():\n    from runners import c\n",
            "runners/c.py": "import runners.a\n",
            "runners/d.py": "from runners.a import y\n",  # depends on the loop, is not in it
        }
    )
    assert import_loops(import_graph(root)) == [["runners.a", "runners.b", "runners.c"]]


def test_a_planted_private_import_is_found_and_relative_imports_resolve(scratch):
    root = scratch(
        {
            "tracker/x.py": "_hidden = 1\n",
            "tracker/y.py": "from .x import _hidden\nfrom tracker.x import __doc__\n",
            "tracker/z.py": "from tracker import x\n\nprint(x._hidden, x.__name__)\n",
        }
    )
    assert private_imports(root) == [
        "tracker/y.py:1 imports tracker.x._hidden",
        "tracker/z.py:3 uses tracker.x._hidden",
    ]


def test_a_planted_upward_import_is_found(scratch):
    low = "def f():\n    from runners.stages import table\n"
    root = scratch({"tracker/low.py": low, "runners/stages/table.py": ""})
    (root / "runners" / "stages" / "__init__.py").touch()
    assert layer_violations(root) == ["tracker/low.py:2: tracker may not import runners.stages.table"]


def test_a_planted_long_module_is_found(scratch):
    root = scratch({"board/big.py": "x = 1\n" * (MAX_LINES + 1)})
    assert long_modules(root) == [f"board/big.py ({MAX_LINES + 1} lines)"]
