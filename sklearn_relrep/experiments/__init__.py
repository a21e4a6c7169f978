"""The experiment runner: ``python -m sklearn_relrep EXPERIMENT``.

It reproduces the kinds of results of the relative-representation and
product-of-invariances papers on the offline encoders and data sets: zero-shot
stitching tables, cross-encoder latent similarity, fine-tuning at stitching time
and reconstruction stitching. Needs the ``[data]`` extra.

Importing this package, parsing the command line and printing its help load
neither torch nor scikit-learn; ``run_suite`` and ``build_domain`` (the runner's
domains, for the benchmarks) are imported on first use.
"""

import importlib

from ._cli import main
from ._settings import EXPERIMENTS, SIZES

__all__ = ["EXPERIMENTS", "SIZES", "build_domain", "main", "run_suite"]


def __getattr__(name: str):
    if name not in ("build_domain", "run_suite"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("._suite", __name__), name)
    globals()[name] = value
    return value
