"""The relative wing: the transformers that turn embeddings into relative ones.

:class:`RelativeProjector` and :class:`InvariantProductSpace` (also importable
from :mod:`sklearn_relrep`) with what only they use: the similarity kernels
(torch, numba), anchor selection, and their fit on dask collections.
"""

from .._imports import lazy_exports

# Public name -> the module that defines it.
_EXPORTS = {
    "InvariantProductSpace": "._transformers",
    "RelativeProjector": "._transformers",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
