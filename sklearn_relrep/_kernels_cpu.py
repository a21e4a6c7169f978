"""CPU fast path for the element-wise distances (l1, linf), with a torch fallback.

``torch.cdist`` has no fast CPU path for ``p=1`` or ``p=inf`` (10-40 times a matmul
of the same shape); the numba kernels of :mod:`sklearn_relrep._kernels_numba` take
about 1.3-1.7 times (``benchmarks/RESULTS.md``).

numba is optional: :func:`load_kernel` returns ``None`` when it is missing or
disabled with ``SKLEARN_RELREP_DISABLE_NUMBA=1``, and the caller uses torch. numba
is imported only when a kernel is first prepared, and the compiled code is cached
on disk (``cache=True``), so only the first process on a machine pays the compile
time (seconds); later processes load it in well under a second.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import numpy as np
import torch

__all__ = ["load_kernel"]

_NUMBA_DTYPES = (torch.float32, torch.float64)


@functools.cache
def _numba_module():
    if os.environ.get("SKLEARN_RELREP_DISABLE_NUMBA", "") not in ("", "0"):
        return None
    try:
        from . import _kernels_numba
    except ImportError:
        return None
    return _kernels_numba


def load_kernel(
    name: str, anchors: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """Return a numba block kernel for ``name`` bound to CPU ``anchors``, or None.

    None means "use the torch path": numba is missing or disabled, ``name`` has no
    numba kernel, or ``anchors`` is not a float32/float64 CPU tensor.

    Parameters
    ----------
    name : {"l1", "linf"}
        The distance.
    anchors : torch.Tensor of shape (n_anchors, n_features)
        The anchors.

    Returns
    -------
    callable or None
        Maps a CPU tensor ``(b, n_features)`` of the anchors' dtype that needs no
        gradient to the ``(b, n_anchors)`` distances.
    """
    if anchors.device.type != "cpu" or anchors.dtype not in _NUMBA_DTYPES:
        return None
    module = _numba_module()
    if module is None or name not in module.KERNELS:
        return None
    reduce = module.KERNELS[name]
    anchors_np = np.ascontiguousarray(anchors.detach().numpy())

    def kernel(x: torch.Tensor) -> torch.Tensor:
        x_np = np.ascontiguousarray(x.detach().numpy())
        out = np.empty((x_np.shape[0], anchors_np.shape[0]), dtype=x_np.dtype)
        module.numba.set_num_threads(
            min(torch.get_num_threads(), module.numba.config.NUMBA_NUM_THREADS)
        )
        reduce(x_np, anchors_np, out)
        return torch.from_numpy(out)

    return kernel
