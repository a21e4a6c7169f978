"""The experiment runner: ``python -m sklearn_relrep EXPERIMENT``.

It reproduces the kinds of results of the relative-representation and
product-of-invariances papers on the offline encoders and data sets: zero-shot
stitching tables, cross-encoder latent similarity, fine-tuning at stitching time
and reconstruction stitching. Needs the ``[data]`` extra.

The names are imported lazily (PEP 562), so that the command line parses its
arguments and prints its help without importing torch or scikit-learn.
"""

import importlib

# Public name -> the private module that defines it.
_EXPORTS = {
    "EXPERIMENTS": "._settings",
    "SIZES": "._settings",
    "main": "._cli",
    "run_suite": "._suite",
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
