"""Write the API reference pages from each module's ``__all__``.

The package grows while it is documented, so the reference is never written by
hand: :func:`generate` imports ``sklearn_relrep`` and every public submodule (no
path component starting with ``_``), and writes one page per public name plus an
overview (``overview.rst.inc``) that ``api.rst`` includes. The private helper
modules directly under the package (``sklearn_relrep._backend``, ...) and
under its two wings (``sklearn_relrep.relative._kernels``, ...) get a
developer section for the names in their ``__all__`` that no public module
re-exports and that the package itself defines (``_compat`` re-exports
scikit-learn's private helpers, which are not ours to document).

Each public object's page ends with a sphinx-gallery mini-gallery of the
examples that use it (nothing is shown when none does), and
:func:`public_aliases` gives ``conf.py`` the numpydoc cross-reference aliases
that let a bare class name in a type spec link to its page.

A public module whose import fails with :class:`ImportError` (an optional
dependency is missing) is skipped and reported through ``log``, never as a
warning, so ``sphinx -W`` still passes. ``conf.py`` runs :func:`generate` on
``builder-inited``; ``tests/test_docs.py`` runs it directly.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

PACKAGE = "sklearn_relrep"
OVERVIEW_FILE = "overview.rst.inc"
# Relative to the docs source folder; ``api.rst`` includes the overview from here.
GENERATED_DIR = Path("api") / "generated"
_SKIPPED_MODULES = frozenset({f"{PACKAGE}.__main__"})
# The package's two halves: their private modules are documented like the
# private modules directly under the package.
_WINGS = ("relative", "stitching")
# A constant whose repr is longer than this is documented without its value.
_MAX_VALUE_REPR = 200


@dataclass
class ModuleEntry:
    """A module and the names of its ``__all__`` to document."""

    name: str
    module: ModuleType
    names: list[str] = field(default_factory=list)


@dataclass
class GeneratedAPI:
    """What :func:`generate` found and wrote."""

    public: list[ModuleEntry]
    private: list[ModuleEntry]
    skipped: dict[str, str]
    pages: dict[str, str]
    """Page file name (relative to the output folder) -> its text."""


def _is_public(module_name: str) -> bool:
    return not any(part.startswith("_") for part in module_name.split("."))


def _import(name: str, skipped: dict[str, str], log) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        skipped[name] = f"{type(error).__name__}: {error}"
        log(f"api docs: skipping {name} ({skipped[name]})")
        return None


def _submodule_names(package: ModuleType) -> list[str]:
    path = getattr(package, "__path__", None)
    if path is None:
        return []
    infos = pkgutil.iter_modules(path, package.__name__ + ".")
    return sorted(info.name for info in infos if info.name not in _SKIPPED_MODULES)


def discover_modules(log: Callable[[str], None] = print):
    """Import the public modules and the package's private helper modules.

    Returns
    -------
    public : list of ModuleEntry
        The package and every public submodule that imported, in dotted order.
    private : list of ModuleEntry
        The ``_``-prefixed modules directly under the package, with only the
        names of their ``__all__`` that no public module re-exports.
    skipped : dict of str to str
        Modules skipped because their import failed, with the error.
    """
    skipped: dict[str, str] = {}
    root = importlib.import_module(PACKAGE)
    public = [ModuleEntry(PACKAGE, root)]
    pending = [root]
    while pending:
        package = pending.pop()
        for name in _submodule_names(package):
            if not _is_public(name):
                continue
            module = _import(name, skipped, log)
            if module is not None:
                public.append(ModuleEntry(name, module))
                pending.append(module)
    public.sort(key=lambda entry: entry.name)
    for entry in public:
        entry.names = sorted(getattr(entry.module, "__all__", ()))

    exported = {
        id(getattr(entry.module, name)) for entry in public for name in entry.names
    }
    private = []
    wings = [importlib.import_module(f"{PACKAGE}.{wing}") for wing in _WINGS]
    candidates = [
        name for package in (root, *wings) for name in _submodule_names(package)
    ]
    for name in candidates:
        if _is_public(name):
            continue
        module = _import(name, skipped, log)
        if module is None:
            continue
        names = sorted(
            attribute
            for attribute in getattr(module, "__all__", ())
            if id(getattr(module, attribute)) not in exported
            and _defined_in_package(getattr(module, attribute))
        )
        if names:
            private.append(ModuleEntry(name, module, names))
    return public, private, skipped


def _defined_in_package(obj) -> bool:
    """False for a class or function that another package defines."""
    if not (inspect.isclass(obj) or inspect.isroutine(obj)):
        return True  # constants carry no module; they are listed where defined
    owner = getattr(obj, "__module__", None) or ""
    return owner == PACKAGE or owner.startswith(PACKAGE + ".")


def public_aliases(log: Callable[[str], None] = lambda message: None) -> dict:
    """Bare public class name -> its full dotted path, for numpydoc's type links.

    A class that several public modules export keeps its shortest path.
    """
    public, _, _ = discover_modules(log)
    aliases: dict[str, str] = {}
    for entry in sorted(public, key=lambda entry: entry.name.count(".")):
        for name in entry.names:
            if inspect.isclass(getattr(entry.module, name)):
                aliases.setdefault(name, f"{entry.name}.{name}")
    return aliases


_PARENTHESISED = re.compile(r"\(([^()]*)\)")
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


def documented_docstrings(entries) -> Iterator[str]:
    """The docstrings of the entries' objects and of the methods the package defines.

    Methods inherited from other packages (``numpy.ndarray``'s, ``torch``'s) are
    documented upstream and skipped.
    """
    for entry in entries:
        for name in entry.names:
            obj = getattr(entry.module, name)
            members = [obj]
            if inspect.isclass(obj):
                members += [
                    value
                    for _, value in inspect.getmembers(obj, inspect.isroutine)
                    if _defined_in_package(value)
                ]
            for member in members:
                yield inspect.getdoc(member) or ""


def shape_dimension_names(log: Callable[[str], None] = lambda message: None) -> set:
    """Names used as dimensions in ``of shape (n_samples, n_anchors)`` type specs.

    numpydoc would try to link them as objects; ``conf.py`` tells it not to.
    """
    public, private, _ = discover_modules(log)
    names = set()
    for docstring in documented_docstrings([*public, *private]):
        # Type specs are the unindented lines of the numpydoc sections.
        specs = (
            line
            for line in docstring.splitlines()
            if "shape" in line
            and not line[:1].isspace()
            and not line.startswith((">>>", "..."))
        )
        for line in specs:
            for group in _PARENTHESISED.findall(line):
                for part in group.split(","):
                    part = part.strip().rstrip("_")
                    if _IDENTIFIER.match(part):
                        names.add(part)
    return names


def _heading(text: str, underline: str) -> str:
    return f"{text}\n{underline * len(text)}\n"


def _foreign_bases(cls: type) -> list[str]:
    """Names of the base classes defined outside the package.

    Their members (``get_params``, ``fit_transform``, ``torch.nn.Module``'s and
    ``numpy.ndarray``'s methods, ...) are documented upstream; members of the
    package's own private bases (``reanchor`` on ``BaseRelativeSpace``) are kept.
    """
    own = {base.__name__ for base in cls.__mro__ if base.__module__.startswith(PACKAGE)}
    # autodoc matches base classes by bare name, so a name shared with one of the
    # package's own bases must not be listed.
    return sorted({base.__name__ for base in cls.__mro__[1:]} - own)


def _sklearn_generated_members(cls: type) -> list[str]:
    """Members scikit-learn attaches to the package's classes, documented upstream.

    For example the ``set_score_request`` metadata-routing methods that
    ``BaseEstimator.__init_subclass__`` adds to every classifier.
    """
    return sorted(
        name
        for base in cls.__mro__
        if base.__module__.startswith(PACKAGE)
        for name, value in vars(base).items()
        if type(value).__module__.startswith("sklearn.")
    )


def _object_page(
    module_name: str, name: str, obj, *, examples: bool, first: str | None = None
) -> str:
    """The page of ``module_name.name``.

    A class that two public modules export (``sklearn_relrep.StitchingClassifier``
    and ``sklearn_relrep.stitching.StitchingClassifier``) is one object: on the
    later path's page it is not indexed again (Sphinx would report a duplicate),
    and it is rendered in ``first``, the module of the first path, so that the
    references of its docstring (``layout_``) resolve as on that page.
    """
    lines = [
        _heading(f"{module_name}.{name}", "="),
        f".. currentmodule:: {module_name}",
        "",
    ]
    if first is not None:
        lines += [f".. currentmodule:: {first}", ""]
    if inspect.isclass(obj):
        lines.append(f".. autoclass:: {name}")
        lines.append("   :members:")
        if first is not None:
            lines.append("   :no-index:")
        foreign = _foreign_bases(obj)
        if foreign:
            lines.append(f"   :inherited-members: {', '.join(foreign)}")
        generated = _sklearn_generated_members(obj)
        if generated:
            lines.append(f"   :exclude-members: {', '.join(generated)}")
    elif inspect.isroutine(obj):
        lines.append(f".. autofunction:: {name}")
    else:  # a constant; autodata would show its type's docstring
        lines.append(f".. py:data:: {name}")
        if len(repr(obj)) <= _MAX_VALUE_REPR:
            lines.append(f"   :value: {obj!r}")
        lines.append("")
        lines += [
            f"   {line}".rstrip() for line in _constant_doc(module_name, name, obj)
        ]
    if examples:
        lines += ["", *_minigallery(f"{module_name}.{name}", name)]
    return "\n".join(lines) + "\n"


def _minigallery(full_name: str, name: str) -> list[str]:
    """The gallery examples that use ``full_name``; renders nothing when none do."""
    return [
        f".. minigallery:: {full_name}",
        f"   :add-heading: Examples using ``{name}``",
        "   :heading-level: -",
    ]


def _constant_doc(module_name: str, name: str, obj) -> list[str]:
    """The ``#:`` doc comment of a constant, or a line saying where it is defined."""
    defining = _defining_module(module_name, name)
    try:  # Sphinx is only needed to build; the tests run this module without it.
        from sphinx.pycode import ModuleAnalyzer

        comments = ModuleAnalyzer.for_module(defining).find_attr_docs()
    except Exception:  # no Sphinx, or no source to analyse
        comments = {}
    doc = list(comments.get(("", name), ()))
    where = f"A ``{type(obj).__name__}`` defined in ``{defining}``."
    if isinstance(obj, dict) and len(repr(obj)) > _MAX_VALUE_REPR:
        where += " Keys: " + ", ".join(f"``{key!r}``" for key in obj) + "."
    return [*doc, "", where] if doc else [where]


def _defining_module(module_name: str, name: str) -> str:
    """The submodule whose ``__all__`` lists ``name``; constants lack ``__module__``."""
    prefix = module_name + "."
    for candidate, module in sorted(sys.modules.items()):
        if candidate.startswith(prefix) and name in getattr(module, "__all__", ()):
            return candidate
    return module_name


def _summary(module: ModuleType) -> str:
    doc = inspect.getdoc(module) or ""
    return doc.strip().split("\n\n")[0].replace("\n", " ")


def _is_constant(obj) -> bool:
    return not (inspect.isclass(obj) or inspect.isroutine(obj))


def _module_section(entry: ModuleEntry, underline: str) -> list[str]:
    lines = [_heading(entry.name, underline), f".. module:: {entry.name}", ""]
    lines += [_summary(entry.module), ""]
    if not entry.names:
        return [*lines, "This module exports no names.", ""]
    constants = [n for n in entry.names if _is_constant(getattr(entry.module, n))]
    documented = [n for n in entry.names if n not in constants]
    if documented:
        lines += [".. autosummary::", "   :nosignatures:", ""]
        lines += [f"   {name}" for name in documented]
        lines += [""]
    if constants:
        lines += ["Constants:", ""]
        lines += [f"- :data:`{name}`" for name in constants]
        lines += [""]
    lines += [".. toctree::", "   :hidden:", ""]
    lines += [
        f"   {GENERATED_DIR.as_posix()}/{entry.name}.{name}" for name in entry.names
    ]
    return [*lines, ""]


def render(public, private, skipped) -> dict[str, str]:
    """Page file name -> text, for the overview and one page per documented name."""
    pages = {}
    documented = {}  # id of a class -> the module of the first public path to it
    for entries, examples in ((public, True), (private, False)):
        for entry in entries:
            for name in entry.names:
                obj = getattr(entry.module, name)
                first = documented.get(id(obj))
                pages[f"{entry.name}.{name}.rst"] = _object_page(
                    entry.name, name, obj, examples=examples, first=first
                )
                if inspect.isclass(obj) and first is None:
                    documented[id(obj)] = entry.name

    overview = []
    for entry in public:
        overview += _module_section(entry, "-")
    if private:
        overview += [
            _heading("Developer reference", "-"),
            "Helpers of the package's private modules, documented for contributors. "
            "They are not part of the stable API and may change without notice.",
            "",
        ]
        for entry in private:
            overview += _module_section(entry, "~")
    missing = sorted(name for name in skipped if _is_public(name))
    if missing:
        overview += [
            ".. note::",
            "",
            "   Not documented in this build, because an optional dependency is "
            "missing: " + ", ".join(f"``{name}``" for name in missing) + ".",
            "",
        ]
    pages[OVERVIEW_FILE] = "\n".join(overview)
    return pages


def generate(
    output_dir: Path | str, log: Callable[[str], None] = print
) -> GeneratedAPI:
    """Write the API pages into ``output_dir``, removing pages of vanished names.

    Files are only rewritten when their text changes, so incremental Sphinx
    builds stay incremental.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    public, private, skipped = discover_modules(log)
    pages = render(public, private, skipped)
    for stale in output_dir.iterdir():
        if stale.is_file() and stale.name not in pages:
            stale.unlink()
    for file_name, text in pages.items():
        path = output_dir / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return GeneratedAPI(public, private, skipped, pages)
