"""Sphinx configuration of the sklearn_relrep documentation.

Build (no network needed, warnings are errors)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

- The API pages under ``api/generated/`` are written at build time from each
  module's ``__all__`` by ``_apigen.generate`` (see that module).
- The example gallery (``examples/`` -> ``auto_examples/``) is executed at build
  time by sphinx-gallery; ``_gallery.py`` says which scripts are pages and which
  data each needs. Add ``-D plot_gallery=0`` for a quick build that runs none.
- Links into other projects come from the inventories committed in
  ``_inventories/`` (regenerate them with ``_inventories/make_inventories.py``):
  nothing is fetched.
- The measured numbers of ``choosing_similarities.rst`` are read from the
  runner's ``results/report.md`` by ``_results_summary.py``.
"""

import re
import sys
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS_DIR))
sys.path.insert(0, str(DOCS_DIR.parent))

import _apigen  # noqa: E402
import _gallery  # noqa: E402
import _results_summary  # noqa: E402
import torch  # noqa: E402
from _inventories import make_inventories  # noqa: E402
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
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/*.ipynb"]
default_role = "literal"

# Nothing is fetched at build time: each project's inventory is a committed file.
intersphinx_mapping = {
    key: (url, f"_inventories/{key}.inv")
    for key, url in make_inventories.BASE_URLS.items()
}

# The generator writes the stub pages; autosummary only renders the tables.
autosummary_generate = False
autodoc_member_order = "groupwise"
autodoc_typehints = "none"

numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# Types in the numpydoc sections link to their pages (ours, or through the
# inventories above). Words that are not types are listed in the ignore set.
numpydoc_xref_param_type = True
numpydoc_xref_aliases = {
    "bool": "bool",  # numpydoc's default points at a label, not the class
    "array-like": ":term:`array-like <array-like>`",
    "array_like": ":term:`array_like <numpy:array_like>`",
    "ndarray": "numpy.ndarray",
    "dtype": "numpy.dtype",
    "RandomState": "numpy.random.RandomState",
    "DataFrame": "pandas.DataFrame",
    "Series": "pandas.Series",
    "Tensor": "torch.Tensor",
    "Pipeline": "sklearn.pipeline.Pipeline",
    "Bunch": "sklearn.utils.Bunch",
    "path-like": "os.PathLike",
    "NeuralNet": "skorch.net.NeuralNet",
    "Module": "torch.nn.Module",
    "Integral": "numbers.Integral",
    "float32": "numpy.float32",
    "float64": "numpy.float64",
    "Path": "pathlib.Path",
    "Real": "numbers.Real",
    "sequence": "collections.abc.Sequence",
    "mapping": "collections.abc.Mapping",
    "iterable": "collections.abc.Iterable",
    "estimator": ":term:`estimator <estimator>`",
    "estimator instance": ":term:`estimator <estimator>`",
    **_apigen.public_aliases(),
}
numpydoc_xref_ignore = {
    "of",
    "or",
    "and",
    "shape",
    "default",
    "optional",
    "instance",
    "object",
    "objects",
    "self",
    "type",
    "with",
    "the",
    "same",
    "as",
    "if",
    "is",
    "a",
    "an",
    "in",
    "to",
    "each",
    "one",
    "keyword",
    "arguments",
    "positive",
    "non-negative",
    # the dimension names of "of shape (n_samples, n_anchors)" specs
    *_apigen.shape_dimension_names(),
}

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn_relrep {release}"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 8,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
html_context = {"default_mode": "light"}
html_static_path = ["_static"]
html_css_files = ["custom.css"]

# The example gallery: see _gallery.py for which scripts run and why.
# The examples train small networks in this process. On a busy 2-core machine
# (load 8), two torch threads contend with the other processes: one 10-epoch
# attention fit took 45 s with two threads against 1.6 s with one. On a nearly
# idle one the whole build from an empty cache took 190 s with one thread and
# 177 s with two. One thread bounds the worst case, so the build uses it.
torch.set_num_threads(1)
_GALLERY_RUNNABLE, _GALLERY_SKIPPED = _gallery.plan(
    _gallery.gallery_scripts(), require_data=_gallery.require_data_from_env()
)
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": _gallery.filename_pattern(_GALLERY_RUNNABLE),
    "ignore_pattern": _gallery.ignore_pattern(),
    "within_subsection_order": "_gallery.ExampleOrder",
    # API pages show the examples that use each object (see _apigen.py).
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("sklearn_relrep",),
    "remove_config_comments": True,
    "show_memory": False,
    "download_all_examples": False,
}

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


def _generate_results_summary(app) -> None:
    _results_summary.generate(
        Path(app.srcdir) / "results" / "report.md",
        Path(app.srcdir) / _results_summary.OUTPUT,
    )


def _report_skipped_examples(app) -> None:
    for script, missing in _GALLERY_SKIPPED.items():
        _logger.info(
            f"gallery: examples/{script} is shown but not run; it needs "
            f"{', '.join(missing)} ({_gallery.DATA_INSTALL})."
        )


def setup(app):
    # Before autosummary's and sphinx-gallery's builder-inited handlers (500).
    app.connect("builder-inited", _generate_api_pages, priority=400)
    app.connect("builder-inited", _generate_results_summary, priority=400)
    app.connect("builder-inited", _report_skipped_examples, priority=400)
    # Before numpydoc turns the sections into reST (priority 500).
    app.connect(
        "autodoc-process-docstring", _escape_fitted_attribute_names, priority=400
    )
    return {"parallel_read_safe": True}
