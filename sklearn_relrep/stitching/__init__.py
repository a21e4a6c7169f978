"""The stitching wing: decode relative representations, and carry them across spaces.

The stitching estimators and what trains them (parameters, the skorch net,
callbacks, fine-tuning), zero-shot stitching by every route (re-anchor,
translate, ensemble, and the automatic choice among them), the stitching
matrix, the stitched scorer for model selection, and the aligners that map one
space onto another. Every class and function here is also importable from
:mod:`sklearn_relrep`; ``PRODUCT_AGGREGATION`` is what ``aggregation="auto"``
picks for an input of several subspaces of equal width.
"""

from .._imports import lazy_exports

# Public name -> the module that defines it.
_EXPORTS = {
    "PRODUCT_AGGREGATION": "._base",
    "LinearAligner": "._alignment",
    "ProcrustesAligner": "._alignment",
    "RouteSelection": "._routes",
    "StitchedEnsemble": "._ensemble",
    "StitchingClassifier": "._classifier",
    "StitchingRegressor": "._regressor",
    "finetune": "._finetune",
    "make_stitched_scorer": "._model_selection",
    "select_route": "._routes",
    "stitching_matrix": "._zero_shot",
    "zero_shot_stitch": "._zero_shot",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
