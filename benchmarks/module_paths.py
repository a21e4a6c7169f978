"""How the package is laid out, and which of its modules ``X`` passes through.

Prints the number of modules, the largest one, the internal import graph
(edges from a module to the package modules it imports, at module level and
lazily inside functions, and the depth of the module-level graph: its longest
path, in edges), and, for three calls, the package modules whose code runs
while ``X`` is handled (traced with ``sys.setprofile``): a product space's
``transform``; a stitcher's ``fit`` and ``predict`` behind it in a pipeline;
and ``zero_shot_stitch`` followed by a prediction.

A name imported from a package that exports it lazily (``from sklearn_relrep
import StitchingClassifier``, resolved through the package's ``_EXPORTS``)
counts as an edge to the module that defines it.

Run from the repository root: ``python benchmarks/module_paths.py``; ``--root
DIR`` measures the checkout in ``DIR`` instead (e.g. an older version).
"""

from __future__ import annotations

import argparse
import ast
import functools
import sys
from pathlib import Path

import numpy as np

_parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
_parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
ROOT = _parser.parse_args().root.resolve()
sys.path.insert(0, str(ROOT))

from sklearn.pipeline import make_pipeline  # noqa: E402

import sklearn_relrep  # noqa: E402

PACKAGE = Path(sklearn_relrep.__file__).parent


def package_modules() -> dict[str, int]:
    return {
        str(path.relative_to(PACKAGE.parent)): len(path.read_text().splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _lazy_exports(tree: ast.AST, package: str) -> dict[str, str]:
    """A package ``__init__``'s ``_EXPORTS``: public name -> defining module."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and getattr(node.targets[0], "id", None) == "_EXPORTS"
            and isinstance(node.value, ast.Dict)
        ):
            exports = ast.literal_eval(node.value)
            return {
                name: package + module if module.startswith(".") else module
                for name, module in exports.items()
            }
    return {}


def _imports(path: Path, tree: ast.AST):
    """``(module, names, lazy)`` for every import; lazy means inside a function."""
    package = (
        _name(path)
        if path.name == "__init__.py"
        else _name(path)[: -len(path.stem) - 1]
    )
    lazy_nodes = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        lazy = id(node) in lazy_nodes
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], lazy
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            yield module, [alias.name for alias in node.names], lazy


@functools.cache
def import_graph() -> tuple[dict, dict]:
    """Module-level and lazy edges: module -> the package modules it imports."""
    trees = {
        _name(path): (path, ast.parse(path.read_text()))
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    exports = {
        name: _lazy_exports(tree, name)
        for name, (path, tree) in trees.items()
        if path.name == "__init__.py"
    }

    def targets(module: str, names: list[str]) -> set[str]:
        found = set()
        for name in names or [None]:
            if name is not None and f"{module}.{name}" in trees:
                found.add(f"{module}.{name}")
            elif name is not None and name in exports.get(module, {}):
                found.add(exports[module][name])
            elif module in trees:
                found.add(module)
        return found

    eager: dict[str, set[str]] = {name: set() for name in trees}
    lazy: dict[str, set[str]] = {name: set() for name in trees}
    for name, (path, tree) in trees.items():
        for module, names, is_lazy in _imports(path, tree):
            if module.split(".")[0] != PACKAGE.name:
                continue
            found = targets(module, names) - {name}
            (lazy if is_lazy else eager)[name] |= found
    for name in trees:  # an import inside a function that also happens eagerly
        lazy[name] -= eager[name]
    return eager, lazy


def graph_depth(edges: dict[str, set[str]]) -> int:
    """The longest path of the (acyclic) module-level graph, in edges."""

    @functools.cache
    def depth(module: str) -> int:
        return max((1 + depth(target) for target in edges[module]), default=0)

    return max(depth(module) for module in edges)


def traced_modules(call) -> list[str]:
    seen: set[str] = set()

    def profile(frame, event, arg):
        filename = frame.f_code.co_filename
        if filename.startswith(str(PACKAGE)):
            seen.add(str(Path(filename).relative_to(PACKAGE.parent)))

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return sorted(seen)


def main() -> None:
    from sklearn_relrep import (
        InvariantProductSpace,
        StitchingClassifier,
        zero_shot_stitch,
    )

    modules = package_modules()
    largest = max(modules, key=modules.get)
    print(f"modules: {len(modules)}; largest: {largest} ({modules[largest]} lines)")
    eager, lazy = import_graph()
    print(
        f"internal import edges: {sum(map(len, eager.values()))} at module level, "
        f"{sum(map(len, lazy.values()))} more inside functions; depth of the "
        f"module-level graph: {graph_depth(eager)}"
    )
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    space = InvariantProductSpace(n_anchors=8, random_state=0).fit(X)
    space.transform(X)  # warm the numba kernels outside the trace
    model = make_pipeline(
        InvariantProductSpace(n_anchors=8, random_state=0),
        StitchingClassifier(max_epochs=1, random_state=0, device="cpu"),
    )
    model.fit(X, y)
    calls = {
        "InvariantProductSpace.transform": lambda: space.transform(X),
        "pipeline fit + predict (stitcher)": lambda: model.fit(X, y).predict(X),
        "zero_shot_stitch + predict": lambda: zero_shot_stitch(
            model, X[model[0].anchor_indices_] * 2.0
        ).predict(X * 2.0),
    }
    for name, call in calls.items():
        traced = traced_modules(call)
        print(f"{name}: {len(traced)} modules: {', '.join(traced)}")


if __name__ == "__main__":
    main()
