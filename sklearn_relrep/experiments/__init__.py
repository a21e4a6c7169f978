"""The experiment runner: ``python -m sklearn_relrep EXPERIMENT``.

It reproduces the kinds of results of the relative-representation and
product-of-invariances papers on the offline encoders and data sets: zero-shot
stitching tables, cross-encoder latent similarity, fine-tuning at stitching time
and reconstruction stitching. Needs the ``[data]`` extra.
"""

from ._cli import main
from ._suite import EXPERIMENTS, SIZES, run_suite

__all__ = ["EXPERIMENTS", "SIZES", "main", "run_suite"]
