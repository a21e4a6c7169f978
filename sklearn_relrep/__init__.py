"""Relative representations and products of invariances for latent-space stitching.

The package has two wings: :mod:`sklearn_relrep.relative` (the relative
transformers) and :mod:`sklearn_relrep.stitching` (the estimators that decode
them, and zero-shot stitching). The public names are imported lazily, on first
use (PEP 562), so that ``import sklearn_relrep`` and the command line's
``--help`` do not load torch.
"""

from ._imports import install_moved_module_finder, lazy_exports

__version__ = "0.2.0.dev0"

# Public name -> the module that defines it.
_EXPORTS = {
    "InvariantProductSpace": ".relative",
    "LinearAligner": ".stitching",
    "ProcrustesAligner": ".stitching",
    "RelativeProjector": ".relative",
    "RouteSelection": ".stitching",
    "StitchedEnsemble": ".stitching",
    "StitchingClassifier": ".stitching",
    "StitchingRegressor": ".stitching",
    "SubspaceArray": "._layout",
    "SubspaceLayout": "._layout",
    "finetune": ".stitching",
    "invariance_report": "._invariance",
    "load_stitcher": "._persistence",
    "make_stitched_scorer": ".stitching",
    "plot_invariance_report": "._invariance",
    "save_stitcher": "._persistence",
    "select_route": ".stitching",
    "stitching_matrix": ".stitching",
    "warmup": ".relative._kernels",
    "zero_shot_stitch": ".stitching",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
install_moved_module_finder()
