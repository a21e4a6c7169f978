"""Sphinx configuration of the sklearn_relrep documentation.

Build (no network needed, warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The API pages under ``api/generated/`` are written at build time from each
module's ``__all__`` by ``_apigen.generate`` (see that module).
"""

import re
import sys
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS_DIR))
sys.path.insert(0, str(DOCS_DIR.parent))

import _apigen  # noqa: E402
from sphinx.util import logging  # noqa: E402

import sklearn_relrep  # noqa: E402

project = "sklearn_relrep"
author = "sklearn_relrep developers"
copyright = "sklearn_relrep developers"
release = sklearn_relrep.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "literal"

# Nothing is fetched at build time: no intersphinx, no remote images.
intersphinx_mapping: dict = {}

# The generator writes the stub pages; autosummary only renders the tables.
autosummary_generate = False
autodoc_member_order = "groupwise"
autodoc_typehints = "none"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

html_theme = "alabaster"
html_theme_options = {
    "description": "Relative representations for scikit-learn",
    "fixed_sidebar": True,
}
html_title = f"sklearn_relrep {release}"

_logger = logging.getLogger(__name__)

# numpydoc sections whose entries start with a ``name : type`` (or bare type) line.
_TYPED_SECTIONS = frozenset(
    {
        "Parameters",
        "Other Parameters",
        "Attributes",
        "Returns",
        "Yields",
        "Receives",
        "Raises",
        "Warns",
    }
)
_SECTION_RULE = re.compile(r"^-{3,}\s*$")
# A name ending in "_" (a fitted attribute such as ``n_features_in_``) followed by
# punctuation or the line end: reST would read it as a hyperlink reference.
_TRAILING_UNDERSCORE = re.compile(r"\b([A-Za-z]\w*?)_(?=[,)\]}\s]|$)")


def _escape_fitted_attribute_names(app, what, name, obj, options, lines) -> None:
    """Let type specs say ``ndarray of shape (n_features_in_,)`` unquoted.

    scikit-learn-style docstrings name fitted attributes in shapes; reST reads a
    trailing underscore as a link to an undefined target. Only the type part of
    the entry lines of numpydoc's typed sections is touched, and only when it has
    no backquotes; descriptions, examples and literals are left alone.
    """
    section = None
    for index, line in enumerate(lines):
        if index + 1 < len(lines) and _SECTION_RULE.match(lines[index + 1]):
            section = line.strip()
            continue
        if (
            section not in _TYPED_SECTIONS
            or not line
            or line[0].isspace()
            or _SECTION_RULE.match(line)
        ):
            continue
        head, separator, spec = line.rpartition(" : ")
        if "`" in spec:
            continue
        escaped = _TRAILING_UNDERSCORE.sub(r"\1\\_", spec)
        lines[index] = f"{head}{separator}{escaped}" if separator else escaped


def _generate_api_pages(app) -> None:
    _apigen.generate(Path(app.srcdir) / _apigen.GENERATED_DIR, log=_logger.info)


def setup(app):
    # Before autosummary's own builder-inited handler (priority 500).
    app.connect("builder-inited", _generate_api_pages, priority=400)
    # Before numpydoc turns the sections into reST (priority 500).
    app.connect(
        "autodoc-process-docstring", _escape_fitted_attribute_names, priority=400
    )
    return {"parallel_read_safe": True}
