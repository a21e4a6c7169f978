"""Torch building blocks of the stitching estimators (no scikit-learn inside)."""

from ._blenders import (
    AGGREGATIONS,
    AttentionBlender,
    ConcatBlender,
    DeepSetBlender,
    SubspaceDropout,
    SubspaceLayerNorm,
    SumBlender,
    WeightedBlender,
    make_blender,
)
from ._heads import (
    ClassificationHead,
    MLPHead,
    RegressionHead,
    StitchingNetwork,
)

__all__ = [
    "AGGREGATIONS",
    "AttentionBlender",
    "ClassificationHead",
    "ConcatBlender",
    "DeepSetBlender",
    "MLPHead",
    "RegressionHead",
    "StitchingNetwork",
    "SubspaceDropout",
    "SubspaceLayerNorm",
    "SumBlender",
    "WeightedBlender",
    "make_blender",
]
