"""How the package's modules are found: public names lazily, old paths by alias.

- :func:`lazy_exports` gives a package the module ``__getattr__`` and
  ``__dir__`` (PEP 562) that import each public name from its private module on
  first use, so that ``import sklearn_relrep`` and the command line's ``--help``
  do not load torch.
- :data:`MOVED_MODULES` lists the private modules of earlier versions that now
  live elsewhere. Files pickled by those versions (``joblib.dump`` of a fitted
  pipeline) name classes by their old module, e.g.
  ``sklearn_relrep._stitching.StitchingClassifier``; :class:`MovedModuleFinder`,
  installed on :data:`sys.meta_path` by the package's ``__init__``, answers an
  import of an old name with the module that holds the code now, so that such
  files still load. Nothing is imported until an old name is asked for.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from collections.abc import Callable

__all__ = [
    "MOVED_MODULES",
    "MovedModuleFinder",
    "install_moved_module_finder",
    "lazy_exports",
]

_PACKAGE = __name__.rpartition(".")[0]

# Old private module -> the module(s) that define its names now, searched in order.
MOVED_MODULES = {
    "_alignment": ("stitching._alignment",),
    "_anchors": ("relative._anchors",),
    "_callbacks": ("stitching._callbacks",),
    "_finetune": ("stitching._finetune",),
    "_kernels": ("relative._kernels",),
    "_kernels_numba": ("relative._kernels_numba",),
    "_model_selection": ("stitching._model_selection",),
    "_relative": ("relative._transformers",),
    "_stitching": ("stitching._classifier",),
    "_stitching_base": ("stitching._base",),
    "_stitching_net": ("stitching._net", "_torch_training"),
    "_stitching_params": ("stitching._params",),
    "_stitching_regressor": ("stitching._regressor",),
    "_zero_shot": ("stitching._zero_shot",),
}


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for lazily imported names.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str to str
        Public name -> the module (relative to ``package``) that defines it.

    Returns
    -------
    getattr, dir : callable
        To be bound as the package's ``__getattr__`` and ``__dir__``.
    """

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, targets: tuple[str, ...]):
        self.targets = targets

    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        targets = [importlib.import_module(name) for name in self.targets]
        if len(targets) == 1:
            # The import system returns what sys.modules holds after this call.
            sys.modules[module.__name__] = targets[0]
            return

        def __getattr__(name: str):
            for target in targets:
                if hasattr(target, name):
                    return getattr(target, name)
            raise AttributeError(
                f"module {module.__name__!r} has no attribute {name!r}"
            )

        module.__getattr__ = __getattr__


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of :data:`MOVED_MODULES` under their old names."""

    def find_spec(self, fullname: str, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or name not in MOVED_MODULES:
            return None
        targets = tuple(f"{_PACKAGE}.{new}" for new in MOVED_MODULES[name])
        return importlib.util.spec_from_loader(fullname, _AliasLoader(targets))


def install_moved_module_finder() -> None:
    """Put one :class:`MovedModuleFinder` first on :data:`sys.meta_path`.

    First, so that a stale copy of an old module left on the path (an older
    install, an editable checkout of an earlier version) is never imported in
    place of the code that replaced it. Installing twice changes nothing.
    """
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())
