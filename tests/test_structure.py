"""The house rules of the redesign that a reader relies on (issue 11)."""

import ast
import re
from pathlib import Path

import sklearn_relrep

PACKAGE = Path(sklearn_relrep.__file__).parent


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_private_scikit_learn_imports_live_in_compat_only():
    found = []
    for path, tree in _modules():
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            private = [
                n
                for n in names
                if n.split(".")[0] == "sklearn"
                and any(part.startswith("_") for part in n.split(".")[1:])
            ]
            if private and path.name != "_compat.py":
                found.append(f"{path.relative_to(PACKAGE)}: {private}")
    assert found == []


def test_persistence_reads_estimators_through_the_state_protocol_only():
    """No private attribute of an estimator or its net is touched by persistence."""
    forbidden = re.compile(
        r"\.(net_|module_|_y_is_1d|_initialize_net|_initialize_callbacks|"
        r"_initialize_module|__dict__)\b"
    )
    hits = [
        f"{path.name}:{number}: {line.strip()}"
        for path in (PACKAGE / "_persistence").glob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if forbidden.search(line)
    ]
    assert hits == []
    used = {
        match
        for path in (PACKAGE / "_persistence").glob("*.py")
        for match in re.findall(r"\.(_get_state|_set_state)\(", path.read_text())
    }
    assert used == {"_get_state", "_set_state"}


ROOT = PACKAGE.parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, tree: ast.AST):
    """``(line, module, names)`` of every import in ``tree``, lazy ones included.

    Relative imports are resolved against ``path``'s package, so that
    ``from .. import _kernels`` reads as module ``sklearn_relrep``, name
    ``_kernels``.
    """
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            yield node.lineno, module, [alias.name for alias in node.names]


def _private_package_imports(path: Path, allowed_prefix: str | None = None):
    """Imports from ``path`` that reach a private module or name of the package."""
    found = []
    for line, module, names in _imports(path, ast.parse(path.read_text())):
        if module.split(".")[0] != PACKAGE.name:
            continue
        if allowed_prefix and (module + ".").startswith(allowed_prefix + "."):
            continue
        targets = [module] + [f"{module}.{name}" for name in names]
        private = [
            t for t in targets if any(p.startswith("_") for p in t.split(".")[1:])
        ]
        if private:
            found.append(f"{path.relative_to(ROOT)}:{line}: {private}")
    return found


# Private attributes that scikit-learn's estimators carry or set on an instance.
def _sklearn_private_attributes() -> set[str]:
    from sklearn.base import (
        BaseEstimator,
        ClassifierMixin,
        RegressorMixin,
        TransformerMixin,
    )

    names = {
        name
        for cls in (BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin)
        for name in dir(cls)
        if name.startswith("_") and not name.startswith("__")
    }
    return names | {"_sklearn_output_config", "_sklearn_auto_wrap_output_keys"}


def test_private_scikit_learn_attributes_are_touched_in_compat_only():
    private = _sklearn_private_attributes()
    assert "_validate_params" in private
    found = []
    for path, tree in _modules():
        if path.name == "_compat.py":
            continue
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute) and node.attr in private:
                name = node.attr
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) in ("getattr", "hasattr", "setattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value in private
            ):
                name = node.args[1].value
            if name is not None:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}")
    assert found == []


# Micro-benchmarks that time the private kernels themselves, below any public API.
_KERNEL_BENCHMARKS = ("bench_similarity.py", "gpu_check.py")
# The command line checks its options before any work and must not import
# scikit-learn or torch to do so (``--help`` stays fast): it reads the cache
# location from the private module that the package also uses, which needs only
# the standard library and platformdirs (small, pure Python).
_DEPENDENCY_FREE = ("sklearn_relrep._cache_location",)


def test_experiments_benchmarks_and_examples_import_public_names_only():
    found = []
    for path in sorted((PACKAGE / "experiments").rglob("*.py")):
        found += [
            hit
            for hit in _private_package_imports(path, f"{PACKAGE.name}.experiments")
            if not any(f"'{module}" in hit for module in _DEPENDENCY_FREE)
        ]
    for folder in ("benchmarks", "examples"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name not in _KERNEL_BENCHMARKS:
                found += _private_package_imports(path)
    assert found == []


def test_the_relative_wing_imports_nothing_from_the_stitching_wing():
    wing = sorted((PACKAGE / "relative").glob("*.py"))
    assert wing, "the relative wing sklearn_relrep/relative/ is missing"
    stitching = f"{PACKAGE.name}.stitching"
    found = [
        f"{path.relative_to(PACKAGE)}:{line}: {module}"
        for path in wing
        for line, module, names in _imports(path, ast.parse(path.read_text()))
        if (module + ".").startswith(stitching + ".")
        or (module == PACKAGE.name and "stitching" in names)
    ]
    assert found == []


def test_docstring_examples_import_public_modules_only():
    statement = re.compile(r"^\s*>>>\s+(?:from\s+(\S+)\s+import\s+(.*)|import\s+(\S+))")
    found = []
    for path, _ in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            match = statement.match(line)
            if match is None:
                continue
            module = match.group(1) or match.group(3)
            names = re.findall(r"\w+", match.group(2) or "")
            parts = [*module.split(".")[1:], *names]
            if module.split(".")[0] == PACKAGE.name and any(
                part.startswith("_") for part in parts
            ):
                found.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert found == []
