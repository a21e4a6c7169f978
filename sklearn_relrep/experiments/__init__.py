"""The experiment runner: ``python -m sklearn_relrep EXPERIMENT``.

It reproduces the kinds of results of the relative-representation and
product-of-invariances papers on the offline encoders and data sets: zero-shot
stitching tables, cross-encoder latent similarity, fine-tuning at stitching time
and reconstruction stitching. Needs the ``[data]`` extra.

Importing this package, parsing the command line and printing its help load
neither torch nor scikit-learn; ``run_suite`` is imported on first use.
"""

import importlib

from ._cli import main
from ._settings import EXPERIMENTS, SIZES

__all__ = ["EXPERIMENTS", "SIZES", "main", "run_suite"]


def __getattr__(name: str):
    if name != "run_suite":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    run_suite = importlib.import_module("._suite", __name__).run_suite
    globals()["run_suite"] = run_suite
    return run_suite
