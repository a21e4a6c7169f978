"""Relative representations and products of invariances for latent-space stitching.

The public names are imported lazily, on first use (PEP 562), so that
``import sklearn_relrep`` and the command line's ``--help`` do not load torch.
"""

import importlib

__version__ = "0.2.0.dev0"

# Public name -> the private module that defines it.
_EXPORTS = {
    "InvariantProductSpace": "._relative",
    "LinearAligner": "._alignment",
    "ProcrustesAligner": "._alignment",
    "RelativeProjector": "._relative",
    "StitchingClassifier": "._stitching",
    "StitchingRegressor": "._stitching",
    "SubspaceArray": "._layout",
    "SubspaceLayout": "._layout",
    "finetune": "._finetune",
    "invariance_report": "._invariance",
    "load_stitcher": "._persistence",
    "make_stitched_scorer": "._model_selection",
    "plot_invariance_report": "._invariance",
    "save_stitcher": "._persistence",
    "stitching_matrix": "._zero_shot",
    "warmup": "._kernels",
    "zero_shot_stitch": "._zero_shot",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
