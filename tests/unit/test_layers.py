"""The layers the folders show are the layers the imports follow (see ARCHITECTURE.md).

Each module of ``nslab_kernel`` imports only from its own layer or the layers
below it, at the top of the module: an import inside a function is how a cycle
hides, so only optional heavy dependencies may be imported late, each listed
here with its reason.  The widgets use nslab_kernel and never pyroute2 or pylxd.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "nslab_kernel"
LAYERS = ("core", "model", "kernel", "backends", "analysis", "lifecycle", "cli")
# (module, imported name): why it may be imported inside a function
LATE_IMPORTS_ALLOWED = {
    ("nslab_kernel", "nslab_kernel.lifecycle"): "Lab is loaded on first use: the data types load without pyroute2",
    ("nslab_kernel.backends.lxd", "pylxd"): "optional dependency (the 'lxd' extra)",
    ("nslab_kernel.backends.lxd", "pylxd.exceptions"): "optional dependency (the 'lxd' extra)",
    ("nslab_kernel.lifecycle.kernelspec", "jupyter_client.kernelspec"): "optional dependency (the 'notebooks' extra)",
    ("nslab_kernel.analysis.checker", "pylxd.exceptions"): "optional dependency (the 'lxd' extra)",
    ("nslab_kernel.core.i18n", "babel"): "dev dependency: only compiling the catalogues needs Babel",
    ("nslab_kernel.analysis.exercises", "IPython"): "only inside a notebook (the 'notebooks' extra)",
    ("nslab_kernel.model.schema", "jsonschema"): "importing it costs 0.1 s (1.8 s without hiding rfc3987_syntax, "
                                                 "which builds grammars at import where Jupyter installed "
                                                 "jsonschema[format-nongpl], python-jsonschema/jsonschema#1428): "
                                                 "only validating a user's topology file pays it",
    ("nslab_kernel.analysis.exercises", "pylxd.exceptions"): "optional dependency (the 'lxd' extra)",
}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def layer_of(module: str) -> int | None:
    """The layer's rank (None: the package itself, the public facade above every layer)."""
    parts = module.split(".")
    if len(parts) < 2:
        return None
    assert parts[1] in LAYERS, f"{module} is in no layer: put it in one of {', '.join(LAYERS)}"
    return LAYERS.index(parts[1])


def _module_level(body: list, typing_only: bool = False):
    """(statement, under ``if TYPE_CHECKING``) for each statement run at import: not in a function."""
    for node in body:
        yield node, typing_only
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        guarded = typing_only or (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
        yield from _module_level(getattr(node, "body", []) if isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef))
                                 else [], guarded)
        for other in ("orelse", "finalbody"):
            yield from _module_level(getattr(node, other, []) if isinstance(node, (ast.If, ast.Try)) else [], typing_only)
        for handler in getattr(node, "handlers", []) if isinstance(node, ast.Try) else []:
            yield from _module_level(handler.body, typing_only)


def imports(module: str, path: Path, runtime_only: bool = False) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for each import in ``path`` (``runtime_only``: not
    those under ``if TYPE_CHECKING``, which never run)."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    level = list(_module_level(tree.body))
    top = {id(node) for node, _typing in level}
    typing_only = {id(node) for node, typing in level if typing}
    found = []
    for node in ast.walk(tree):
        if runtime_only and id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or (node.level and target in modules() and _is_package(target)):
                # from . import a, b: each name may be a module of that package
                names = [f"{target}.{a.name}" for a in node.names]
                found += [(n if n in modules() else target, node.lineno, id(node) in top) for n in names]
            else:
                found.append((target, node.lineno, id(node) in top))
    return found


def _is_package(module: str) -> bool:
    return modules()[module].name == "__init__.py"


@pytest.mark.parametrize("module", list(modules()))
def test_imports_go_down_the_layers(module):
    path = modules()[module]
    mine = layer_of(module)
    upward = []
    for target, line, _top in imports(module, path):
        if not target.startswith("nslab_kernel") or mine is None:
            continue
        theirs = layer_of(target)
        if theirs is not None and theirs > mine:
            upward.append(f"{path.relative_to(ROOT)}:{line} imports {target} ({LAYERS[theirs]} is above {LAYERS[mine]})")
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("module", list(modules()))
def test_no_import_inside_a_function(module):
    path = modules()[module]
    late = [f"{path.relative_to(ROOT)}:{line} imports {target} inside a function"
            for target, line, top in imports(module, path)
            if not top and not any(module == m and target.startswith(t) for m, t in LATE_IMPORTS_ALLOWED)]
    assert not late, "\n".join(late) + "\n(move it to the top; if that makes a cycle, the code is in the wrong layer)"


def test_no_cycle_between_modules():
    """Within a layer too: the module-level imports form no cycle (a cycle only works by import order).
    Imports under ``if TYPE_CHECKING`` (for annotations only) never run, so they close no cycle."""
    graph = {m: {t for t, _l, top in imports(m, p, runtime_only=True) if top and t in modules() and t != m}
             for m, p in modules().items()}
    # a package's __init__ importing its own modules is how packages re-export: not a cycle through them
    for m in graph:
        graph[m] = {t for t in graph[m] if not (_is_package(t) and m.startswith(t + "."))}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_widgets_import_only_nslab_kernel():
    bad = []
    for path in sorted((ROOT / "widgets").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{path.name}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in ("pyroute2", "pylxd")]
    assert not bad, bad
