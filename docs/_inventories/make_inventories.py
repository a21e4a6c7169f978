"""Write the intersphinx inventories that ``docs/conf.py`` reads from disk.

The documentation builds with no network, so intersphinx cannot fetch the
``objects.inv`` of scikit-learn, numpy, torch, skorch, pandas, matplotlib and
Python. This script writes equivalent inventories instead, from the packages
installed here: it enumerates their public objects and maps each to the page
where that project's own documentation puts it (the projects' URL schemes are
encoded below, one function per project). The files are committed; regenerate
them after upgrading a package::

    pip install sphobjinv==2.4
    python docs/_inventories/make_inventories.py

Only names are enumerated that the projects document under their public path
(``__all__`` where a module has one, otherwise the public names it defines), so
a link never points at a private helper. A name that a project does not
document on its own page (rare: a top-level function without a generated page)
still gets a link to where it would be; the test in ``tests/test_docs.py``
checks the objects the package's documentation actually links.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

OUTPUT_DIR = Path(__file__).resolve().parent

# Base URLs, as given to ``intersphinx_mapping`` in ``docs/conf.py``.
BASE_URLS = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "sklearn": "https://scikit-learn.org/stable/",
    "torch": "https://docs.pytorch.org/docs/stable/",
    "skorch": "https://skorch.readthedocs.io/en/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "pandas": "https://pandas.pydata.org/docs/",
    "matplotlib": "https://matplotlib.org/stable/",
}

Entry = tuple[str, str, str]
"""(name, "domain:role", uri relative to the project's base URL)."""


# -- enumeration helpers -----------------------------------------------------


def _import(name: str) -> ModuleType | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name)
    except Exception:  # optional dependency missing, deprecated module, ...
        return None


def _public(name: str) -> bool:
    return not name.startswith("_")


def _public_names(module: ModuleType, *, with_defined: bool = False) -> list[str]:
    """``__all__``, else the public classes and functions of the module's package.

    Without ``__all__``, a name counts when its object was defined in the module
    or below it (``torch.nn.Module`` is defined in ``torch.nn.modules.module``).
    ``with_defined`` adds those names even when there is an ``__all__`` (the
    standard library leaves some documented names out of it, e.g. ``os.PathLike``).
    """
    names = set()
    if hasattr(module, "__all__"):
        names = {name for name in module.__all__ if hasattr(module, name)}
    if with_defined or not hasattr(module, "__all__"):
        prefix = module.__name__
        for name, value in vars(module).items():
            owner = getattr(value, "__module__", None) or ""
            if (
                _public(name)
                and (inspect.isclass(value) or inspect.isroutine(value))
                and (owner == prefix or owner.startswith(prefix + "."))
            ):
                names.add(name)
    return sorted(names)


def _walk(package: str, skip: Callable[[str], bool]) -> Iterator[ModuleType]:
    """The package and its public submodules that import."""
    root = _import(package)
    if root is None:
        return
    yield root
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts) or skip(info.name):
            continue
        module = _import(info.name)
        if module is not None:
            yield module


def _role(value) -> str | None:
    if inspect.isclass(value):
        return "py:exception" if issubclass(value, BaseException) else "py:class"
    if inspect.isroutine(value) or callable(value):
        return "py:function"
    return None


def _methods(cls: type, *, inherited: bool = True) -> list[str]:
    names = dir(cls) if inherited else vars(cls)
    return sorted(
        name
        for name in names
        if _public(name) and inspect.isroutine(getattr(cls, name, None))
    )


# -- Python ------------------------------------------------------------------

# Built-in classes documented with the standard types; the others (int, float,
# bool, object, zip, ...) are on the built-in functions page.
_PYTHON_STDTYPES = frozenset(
    {
        "bytearray",
        "bytes",
        "dict",
        "frozenset",
        "list",
        "memoryview",
        "range",
        "set",
        "str",
        "tuple",
    }
)
_PYTHON_MODULES = (
    "collections",
    "collections.abc",
    "contextlib",
    "copy",
    "dataclasses",
    "functools",
    "gzip",
    "hashlib",
    "hmac",
    "importlib",
    "importlib.metadata",
    "io",
    "itertools",
    "json",
    "numbers",
    "os",
    "pathlib",
    "pickle",
    "random",
    "tempfile",
    "typing",
    "warnings",
)


# Glossary terms that numpydoc's default type aliases point at.
PYTHON_TERMS = (
    "context manager",
    "file-like object",
    "generator",
    "hashable",
    "iterable",
    "iterator",
    "mapping",
    "path-like object",
    "sequence",
)


def python_entries() -> list[Entry]:
    from sphinx.util.nodes import _make_id

    entries: list[Entry] = [
        (term, "std:term", f"glossary.html#{_make_id('term-' + term)}")
        for term in PYTHON_TERMS
    ]
    for name, value in vars(builtins).items():
        if not _public(name):
            continue
        if inspect.isclass(value) and issubclass(value, BaseException):
            entries.append((name, "py:exception", f"library/exceptions.html#{name}"))
        elif inspect.isclass(value):
            page = "stdtypes" if name in _PYTHON_STDTYPES else "functions"
            entries.append((name, "py:class", f"library/{page}.html#{name}"))
        elif inspect.isbuiltin(value):
            entries.append((name, "py:function", f"library/functions.html#{name}"))
    for name in ("None", "True", "False", "NotImplemented", "Ellipsis"):
        entries.append((name, "py:data", f"library/constants.html#{name}"))
    for module_name in _PYTHON_MODULES:
        module = _import(module_name)
        if module is None:
            continue
        page = f"library/{module_name}.html"
        entries.append((module_name, "py:module", f"{page}#module-{module_name}"))
        for name in _public_names(module, with_defined=True):
            role = _role(getattr(module, name))
            if role is not None:
                entries.append((f"{module_name}.{name}", role, f"{page}#$"))
    return entries


# -- numpy -------------------------------------------------------------------


def numpy_entries() -> list[Entry]:
    import numpy as np

    generated = "reference/generated/"
    entries: list[Entry] = [
        ("numpy", "py:module", "reference/index.html#module-numpy"),
        ("array_like", "std:term", "glossary.html#term-array_like"),
    ]
    for name in sorted(dir(np)):
        value = getattr(np, name, None)
        if not _public(name) or inspect.ismodule(value) or value is None:
            continue
        full = f"numpy.{name}"
        if inspect.isclass(value) and issubclass(value, np.generic):
            entries.append((full, "py:class", "reference/arrays.scalars.html#$"))
        elif inspect.isclass(value):
            entries.append((full, "py:class", f"{generated}$.html#$"))
        elif callable(value):
            entries.append((full, "py:function", f"{generated}$.html#$"))
    for method in _methods(np.ndarray):
        entries.append((f"numpy.ndarray.{method}", "py:method", f"{generated}$.html#$"))
    for name in _public_names(np.linalg):
        entries.append((f"numpy.linalg.{name}", "py:function", f"{generated}$.html#$"))
    random_pages = {
        "RandomState": "reference/random/legacy.html#$",
        "Generator": "reference/random/generator.html#$",
        "default_rng": "reference/random/generator.html#$",
    }
    entries.append(("numpy.random", "py:module", "reference/random/index.html"))
    for name, uri in random_pages.items():
        role = "py:function" if name == "default_rng" else "py:class"
        entries.append((f"numpy.random.{name}", role, uri))
        if role == "py:class":
            for method in _methods(getattr(np.random, name)):
                entries.append(
                    (
                        f"numpy.random.{name}.{method}",
                        "py:method",
                        "reference/random/generated/$.html#$",
                    )
                )
    return entries


# -- scipy -------------------------------------------------------------------

_SCIPY_MODULES = ("scipy.linalg", "scipy.spatial.distance", "scipy.stats")


def scipy_entries() -> list[Entry]:
    entries: list[Entry] = []
    for module_name in _SCIPY_MODULES:
        module = _import(module_name)
        if module is None:
            continue
        entries.append((module_name, "py:module", f"reference/{module_name[6:]}.html"))
        for name in _public_names(module):
            value = getattr(module, name)
            # scipy.stats distributions are instances, documented like functions.
            role = _role(value) or ("py:data" if hasattr(value, "rvs") else None)
            if role is not None and not inspect.ismodule(value):
                full = f"{module_name}.{name}"
                entries.append((full, role, "reference/generated/$.html#$"))
    return entries


# -- scikit-learn ------------------------------------------------------------

# A few glossary terms the package's docstrings use through numpydoc aliases.
SKLEARN_TERMS = (
    "array-like",
    "classifier",
    "estimator",
    "fit",
    "get_feature_names_out",
    "n_features_in_",
    "feature_names_in_",
    "n_jobs",
    "predict",
    "predict_proba",
    "random_state",
    "regressor",
    "sample_weight",
    "transform",
    "transformer",
)


def _sklearn_skip(name: str) -> bool:
    return bool(re.search(r"\.(tests|externals|conftest)\b", name))


def sklearn_entries() -> list[Entry]:
    from sphinx.util.nodes import _make_id

    entries: list[Entry] = [
        (term, "std:term", f"glossary.html#{_make_id('term-' + term)}")
        for term in SKLEARN_TERMS
    ]
    generated = "modules/generated/"
    for module in _walk("sklearn", _sklearn_skip):
        entries.append((module.__name__, "py:module", f"api/{module.__name__}.html"))
        for name in _public_names(module):
            value = getattr(module, name)
            role = _role(value)
            if role is None or inspect.ismodule(value):
                continue
            full = f"{module.__name__}.{name}"
            entries.append((full, role, f"{generated}$.html#$"))
            if inspect.isclass(value):
                for method in _methods(value):
                    entries.append(
                        (f"{full}.{method}", "py:method", f"{generated}{full}.html#$")
                    )
    return entries


# -- torch -------------------------------------------------------------------

_TORCH_ATTRIBUTE_CLASSES = ("device", "dtype", "layout", "memory_format")
_TORCH_GENERATED_MODULES = (
    "torch.nn",
    "torch.nn.functional",
    "torch.nn.init",
    "torch.linalg",
    "torch.cuda",
    "torch.optim",
    "torch.optim.lr_scheduler",
)


def torch_entries() -> list[Entry]:
    import torch

    generated = "generated/"
    entries: list[Entry] = [
        ("torch", "py:module", "torch.html#module-torch"),
        ("torch.Tensor", "py:class", "tensors.html#$"),
        ("torch.optim.Optimizer", "py:class", "optim.html#$"),
        ("torch.random.fork_rng", "py:function", "random.html#$"),
    ]
    entries += [
        (f"torch.{name}", "py:class", "tensor_attributes.html#$")
        for name in _TORCH_ATTRIBUTE_CLASSES
    ]
    for method in _methods(torch.Tensor):
        entries.append((f"torch.Tensor.{method}", "py:method", f"{generated}$.html#$"))
    for name in sorted(dir(torch)):
        value = getattr(torch, name, None)
        if (
            not _public(name)
            or name in _TORCH_ATTRIBUTE_CLASSES
            or name == "Tensor"
            or inspect.ismodule(value)
        ):
            continue
        role = _role(value)
        if role is not None:
            entries.append((f"torch.{name}", role, f"{generated}$.html#$"))
    listed = {entry[0] for entry in entries}
    for module_name in _TORCH_GENERATED_MODULES:
        module = _import(module_name)
        entries.append((module_name, "py:module", f"{module_name[6:]}.html"))
        for name in _public_names(module):
            value = getattr(module, name)
            role = _role(value)
            full = f"{module_name}.{name}"
            if role is None or inspect.ismodule(value) or full in listed:
                continue
            listed.add(full)
            entries.append((full, role, f"{generated}$.html#$"))
            if inspect.isclass(value) and issubclass(value, torch.nn.Module):
                # torch documents inherited methods on torch.nn.Module's page only.
                inherited = value is torch.nn.Module
                for method in _methods(value, inherited=inherited):
                    entries.append(
                        (f"{full}.{method}", "py:method", f"{generated}{full}.html#$")
                    )
    data = _import("torch.utils.data")
    entries.append(
        ("torch.utils.data", "py:module", "data.html#module-torch.utils.data")
    )
    for name in _public_names(data):
        role = _role(getattr(data, name))
        if role is not None:
            entries.append((f"torch.utils.data.{name}", role, "data.html#$"))
    return entries


# -- skorch ------------------------------------------------------------------

# skorch documents each module on one page named after it (``net.html`` for
# ``skorch.net``); the top-level names are re-exports of these.
_SKORCH_MODULES = (
    "callbacks",
    "classifier",
    "dataset",
    "exceptions",
    "helper",
    "history",
    "net",
    "regressor",
    "scoring",
    "setter",
    "toy",
    "utils",
)


def skorch_entries() -> list[Entry]:
    import skorch

    entries: list[Entry] = [("skorch", "py:module", "index.html")]
    canonical: dict[int, str] = {}
    for short in _SKORCH_MODULES:
        module_name = f"skorch.{short}"
        module = _import(module_name)
        if module is None:
            continue
        page = f"{short}.html"
        entries.append((module_name, "py:module", f"{page}#module-{module_name}"))
        for name in _public_names(module):
            value = getattr(module, name)
            role = _role(value)
            if role is None or inspect.ismodule(value):
                continue
            full = f"{module_name}.{name}"
            canonical.setdefault(id(value), f"{page}#{full}")
            entries.append((full, role, f"{page}#$"))
            if inspect.isclass(value):
                for method in _methods(value):
                    entries.append((f"{full}.{method}", "py:method", f"{page}#$"))
    for name in _public_names(skorch):
        value = getattr(skorch, name)
        if id(value) in canonical and _role(value):
            entries.append((f"skorch.{name}", _role(value), canonical[id(value)]))
    return entries


# -- pandas ------------------------------------------------------------------


def pandas_entries() -> list[Entry]:
    import pandas as pd

    api = "reference/api/"
    entries: list[Entry] = [("pandas", "py:module", "reference/index.html")]
    for name in sorted(dir(pd)):
        value = getattr(pd, name, None)
        if not _public(name) or inspect.ismodule(value):
            continue
        role = _role(value)
        if role is None:
            continue
        entries.append((f"pandas.{name}", role, f"{api}$.html#$"))
        if name in ("DataFrame", "Series", "Index"):
            for method in _methods(value):
                entries.append(
                    (f"pandas.{name}.{method}", "py:method", f"{api}$.html#$")
                )
    return entries


# -- matplotlib --------------------------------------------------------------


def matplotlib_entries() -> list[Entry]:
    import matplotlib.axes
    import matplotlib.colors
    import matplotlib.figure
    import matplotlib.pyplot as plt

    generated = "api/_as_gen/"
    entries: list[Entry] = [
        ("matplotlib.pyplot", "py:module", "api/pyplot_summary.html"),
        ("matplotlib.axes.Axes", "py:class", "api/_as_gen/$.html#$"),
        ("matplotlib.figure.Figure", "py:class", "api/figure_api.html#$"),
    ]
    for name in _public_names(plt) + [
        n for n in ("figure", "subplots", "show", "colorbar") if hasattr(plt, n)
    ]:
        if inspect.isroutine(getattr(plt, name)):
            entries.append(
                (f"matplotlib.pyplot.{name}", "py:function", f"{generated}$.html#$")
            )
    for cls, prefix in (
        (matplotlib.axes.Axes, "matplotlib.axes.Axes"),
        (matplotlib.figure.Figure, "matplotlib.figure.Figure"),
    ):
        for method in _methods(cls):
            entries.append((f"{prefix}.{method}", "py:method", f"{generated}$.html#$"))
    for name in ("Normalize", "LogNorm", "ListedColormap"):
        entries.append(
            (f"matplotlib.colors.{name}", "py:class", f"{generated}$.html#$")
        )
    return entries


PROJECTS: dict[str, tuple[str, Callable[[], list[Entry]]]] = {
    "python": ("Python", python_entries),
    "numpy": ("numpy", numpy_entries),
    "scipy": ("SciPy", scipy_entries),
    "sklearn": ("scikit-learn", sklearn_entries),
    "torch": ("torch", torch_entries),
    "skorch": ("skorch", skorch_entries),
    "pandas": ("pandas", pandas_entries),
    "matplotlib": ("matplotlib", matplotlib_entries),
}


def _version(key: str) -> str:
    if key == "python":
        return ".".join(map(str, sys.version_info[:2]))
    module = importlib.import_module({"sklearn": "sklearn"}.get(key, key))
    return module.__version__.split("+")[0]


def write_inventory(key: str, output_dir: Path = OUTPUT_DIR) -> Path:
    """Enumerate project ``key`` and write ``<key>.inv``; return its path."""
    import sphobjinv as soi  # only needed to regenerate; docs/conf.py reads BASE_URLS

    project, enumerate_entries = PROJECTS[key]
    inventory = soi.Inventory()
    inventory.project = project
    inventory.version = _version(key)
    seen = set()
    for name, domain_role, uri in enumerate_entries():
        if (name, domain_role) in seen:
            continue
        seen.add((name, domain_role))
        domain, role = domain_role.split(":")
        # "$" in the schemes above stands for the name; the writer contracts a
        # trailing name back to "$", the only place Sphinx expands it.
        inventory.objects.append(
            soi.DataObjStr(
                name=name,
                domain=domain,
                role=role,
                priority="1",
                uri=uri.replace("$", name),
                dispname=name,
            )
        )
    inventory.objects.sort(key=lambda obj: (obj.domain, obj.role, obj.name))
    path = output_dir / f"{key}.inv"
    soi.writebytes(path, soi.compress(inventory.data_file(contract=True)))
    return path


def main(argv: list[str] | None = None) -> None:
    import sphobjinv as soi

    keys = argv or list(PROJECTS)
    for key in keys:
        path = write_inventory(key)
        print(f"{path.name}: {len(soi.Inventory(path).objects)} objects")


if __name__ == "__main__":
    main(sys.argv[1:])
