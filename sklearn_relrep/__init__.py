"""Relative representations and products of invariances for latent-space stitching."""

from ._alignment import LinearAligner, ProcrustesAligner
from ._layout import SubspaceArray
from ._persistence import load_stitcher, save_stitcher
from ._product import InvariantProductSpace
from ._projector import RelativeProjector
from ._stitching import StitchingClassifier, StitchingRegressor
from ._zero_shot import finetune, stitching_matrix, zero_shot_stitch

__all__ = [
    "InvariantProductSpace",
    "LinearAligner",
    "ProcrustesAligner",
    "RelativeProjector",
    "StitchingClassifier",
    "StitchingRegressor",
    "SubspaceArray",
    "finetune",
    "load_stitcher",
    "save_stitcher",
    "stitching_matrix",
    "zero_shot_stitch",
]

__version__ = "0.1.0"
