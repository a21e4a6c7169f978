"""Torch building blocks: the stitching estimators' modules and a relative layer.

No scikit-learn inside, except where
:meth:`RelativeProjection.from_transformer` reads a fitted transformer.
"""

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
from ._relative import RelativeProjection

__all__ = [
    "AGGREGATIONS",
    "AttentionBlender",
    "ClassificationHead",
    "ConcatBlender",
    "DeepSetBlender",
    "MLPHead",
    "RegressionHead",
    "RelativeProjection",
    "StitchingNetwork",
    "SubspaceDropout",
    "SubspaceLayerNorm",
    "SumBlender",
    "WeightedBlender",
    "make_blender",
]
