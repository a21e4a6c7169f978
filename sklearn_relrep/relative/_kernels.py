"""Similarity kernels between a block of rows and a fixed set of anchors.

Each kernel is split in two: anchor-side work (normalising, centring, squared
norms) is done once by :func:`prepare_similarity`, and the returned closure maps
one block of rows to its ``(b, k)`` similarities. Chunking and devices are the
job of :mod:`sklearn_relrep._backend`; this module owns the numerics and the
choice between torch and the numba CPU kernels.

- cosine and euclidean are a matmul plus cheap row/column terms on every device.
  The euclidean expansion ``|x|^2 - 2<x, a> + |a|^2`` is computed on rows and
  anchors centred by the anchors' mean, and the entries where it could still
  cancel (points close to each other next to their norms) are recomputed from
  direct differences, so every distance is accurate in float32 and float64.
- l1 and linf use the numba kernels of :mod:`sklearn_relrep.relative._kernels_numba` for
  CPU blocks that need no gradient, and ``torch.cdist`` otherwise (CUDA,
  autograd, numba missing or disabled with ``SKLEARN_RELREP_DISABLE_NUMBA=1``).
  Both paths give the same values to rounding. The numba kernels release the
  GIL and run on ``torch.get_num_threads()`` Python threads, each on a slice of
  rows; no thread setting of torch or numba is touched. Each kernel is compiled
  (or loaded from numba's on-disk cache) only for the dtype it is first called
  with.

Sign convention: ``"cosine"`` is a similarity (higher means closer, in [-1, 1]);
``"euclidean"``, ``"l1"`` and ``"linf"`` are raw, non-negative distances (lower
means closer). :func:`is_distance` tells them apart, for the transformers'
``orientation``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from ._expansion import expanded_squares, repair_cancelled

__all__ = [
    "SIMILARITIES",
    "is_distance",
    "prepare_similarity",
    "similarity_name",
    "warmup",
]

BlockKernel = Callable[[torch.Tensor], torch.Tensor]

_NUMBA_DTYPES = (torch.float32, torch.float64)
_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64}
_DISTANCES = frozenset({"euclidean", "l1", "linf"})
# Rows are reduced in slices of at least this many rows, about this many per thread.
_MIN_ROWS_PER_SLICE = 16
_SLICES_PER_THREAD = 4


# numba (CPU l1/linf) --------------------------------------------------------


@functools.cache
def _numba_module():
    if os.environ.get("SKLEARN_RELREP_DISABLE_NUMBA", "") not in ("", "0"):
        return None
    try:
        from . import _kernels_numba
    except ImportError:
        return None
    return _kernels_numba


def _run_numba(reduce, x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Call a numba kernel on slices of rows, on torch's number of threads.

    The kernels release the GIL, so ``torch.get_num_threads()`` Python threads run
    them in parallel, taking slices of rows from a queue (a thread slowed by other
    work on the machine takes fewer); numba's own threading layer (slow to start,
    and sharing the OpenMP runtime with torch) is not used.
    """
    out = np.empty((x.shape[0], anchors.shape[0]), dtype=x.dtype)
    threads = min(torch.get_num_threads(), x.shape[0] // _MIN_ROWS_PER_SLICE)
    if threads <= 1:
        reduce(x, anchors, out)
        return out
    parts = min(_SLICES_PER_THREAD * threads, x.shape[0] // _MIN_ROWS_PER_SLICE)
    bounds = [round(i * x.shape[0] / parts) for i in range(parts + 1)]
    slices = [slice(bounds[i], bounds[i + 1]) for i in range(parts)]
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(lambda s: reduce(x[s], anchors, out[s]), slices):
            pass
    return out


def load_kernel(name: str, anchors: torch.Tensor) -> BlockKernel | None:
    """Return a numba block kernel for ``name`` bound to CPU ``anchors``, or None.

    None means "use the torch path": numba is missing or disabled, ``name`` has no
    numba kernel, or ``anchors`` is not a float32/float64 CPU tensor.
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
        return torch.from_numpy(_run_numba(reduce, x_np, anchors_np))

    return kernel


def warmup(dtypes=("float32", "float64")) -> dict[str, float]:
    """Compile (or load from the on-disk cache) the numba kernels ahead of time.

    The l1 and linf CPU kernels are compiled by numba on first use, which takes
    seconds; the compiled code is cached on disk (in ``$NUMBA_CACHE_DIR`` when
    set, else in the ``numba`` folder of the package's cache directory), so only
    the first process on a machine pays it. If that folder cannot be created or
    written, a ``RuntimeWarning`` says so and every process compiles them. Call
    this once in a fresh worker (for example a dask worker's setup) to keep that
    time out of the first transform.

    Parameters
    ----------
    dtypes : sequence of {"float32", "float64"}, default=("float32", "float64")
        The input dtypes to prepare.

    Returns
    -------
    dict of str to float
        Seconds spent per ``"<kernel>-<dtype>"``; empty when numba is missing or
        disabled.

    Examples
    --------
    >>> from sklearn_relrep import warmup
    >>> sorted(warmup(dtypes=("float32",)))  # doctest: +SKIP
    ['l1-float32', 'linf-float32']
    """
    module = _numba_module()
    if module is None:
        return {}
    timings = {}
    for dtype in dtypes:
        x = np.zeros((2, 3), dtype=np.dtype(dtype))
        for name, reduce in module.KERNELS.items():
            start = time.perf_counter()
            _run_numba(reduce, x, x)
            timings[f"{name}-{np.dtype(dtype).name}"] = time.perf_counter() - start
    return timings


# the similarities -----------------------------------------------------------


def _exponents(values: torch.Tensor) -> torch.Tensor:
    """Binary exponents ``e`` with ``values * 2**-e`` of magnitude in [0.5, 1).

    Clamped so that ``2**e`` and ``2**-e`` are normal numbers of the dtype; a zero
    gets exponent 0. Scaling by such powers of two is exact.
    """
    limit = int(np.finfo(_NUMPY_DTYPES[values.dtype]).maxexp) - 2
    return torch.frexp(values)[1].clamp_(-limit, limit)


def _power_of_two(exponents: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.exp2(exponents.to(dtype))


def _moderate(magnitudes: torch.Tensor) -> bool:
    """Whether squares and sums of values of these magnitudes are safe as they are.

    Zeros count as moderate. This reads the tensor back (a device sync on CUDA).
    """
    info = np.finfo(_NUMPY_DTYPES[magnitudes.dtype])
    low, high = 2.0 ** (info.minexp // 3), 2.0 ** (info.maxexp // 3)
    nonzero = magnitudes[magnitudes > 0]
    return nonzero.numel() == 0 or bool(
        (nonzero.min() >= low) & (nonzero.max() <= high)
    )


def _squared_norms(x: torch.Tensor) -> torch.Tensor:
    """Squared row norms in one pass over ``x``, with no temporary of its size."""
    return torch.linalg.vector_norm(x, dim=1).square()


def _moderate_squares(squared_norms: torch.Tensor, width: int) -> bool:
    """Whether every row of these squared norms is sure to pass :func:`_moderate`.

    A row's largest magnitude ``m`` satisfies ``m^2 <= |x|^2 <= width * m^2``, so
    squared norms within ``[width * low^2, high^2]`` prove that every row is
    moderate without another pass over the rows. False is not a verdict (zero
    rows, for instance, fail here): the caller then tests the largest magnitudes.
    """
    if squared_norms.numel() == 0:
        return True
    info = np.finfo(_NUMPY_DTYPES[squared_norms.dtype])
    low, high = 2.0 ** (info.minexp // 3), 2.0 ** (info.maxexp // 3)
    smallest, largest = torch.aminmax(squared_norms.detach())
    return bool((smallest >= width * low * low) & (largest <= high * high))


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit norm; zero rows stay zero.

    Rows whose squared norm would over- or underflow are first divided by a
    power of two near their largest magnitude, which is exact. The norm is
    floored at the dtype's smallest normal number, not at a fixed epsilon, so
    that rows of norm 1e-13 are normalised too.
    """
    row_max = x.abs().amax(1, keepdim=True)
    if not _moderate(row_max):
        x = x * _power_of_two(-_exponents(row_max), x.dtype)
    return F.normalize(x, dim=1, eps=torch.finfo(x.dtype).tiny)


def _cosine(anchors: torch.Tensor) -> BlockKernel:
    unit_anchors_t = _unit_rows(anchors).T.contiguous()

    def kernel(x: torch.Tensor) -> torch.Tensor:
        return _unit_rows(x) @ unit_anchors_t

    return kernel


def _sqrt(squares: torch.Tensor) -> torch.Tensor:
    """Square roots, in place unless differentiated; the gradient at 0 is 0.

    A zero distance (a row equal to an anchor) has the subgradient 0, where the
    square root's derivative would give NaN.
    """
    if not squares.requires_grad:
        return squares.sqrt_()
    positive = squares > 0
    return torch.where(positive, torch.where(positive, squares, 1.0).sqrt(), 0.0)


def _euclidean(anchors: torch.Tensor) -> BlockKernel:
    """``|x - a|``: a matmul expansion, recomputed exactly where it cancels.

    Rows and anchors are centred on the anchors' mean (translation changes no
    distance) and ``|x|^2 - 2<x, a> + |a|^2`` is computed by a matmul
    (:mod:`sklearn_relrep.relative._expansion`). Entries whose squared distance is
    small next to the expansion's rounding error bound (near-duplicates,
    clusters far from the mean, very wide rows) are recomputed from direct
    differences of the raw values. When squares would over- or underflow, each
    row is divided by a power of two ``2**e`` at least as large as its and the
    anchors' largest magnitude and the distance is multiplied back (exact).
    """
    anchor_scale = _power_of_two(_exponents(anchors.abs().amax()), anchors.dtype)
    center = (anchors / anchor_scale).mean(0) * anchor_scale
    centred = anchors - center
    anchor_max = centred.abs().amax()
    anchor_exponent = _exponents(anchor_max)
    anchors_moderate = _moderate(anchor_max.reshape(1))
    scaled = centred * _power_of_two(-anchor_exponent, anchors.dtype)
    centred_t, scaled_t = centred.T.contiguous(), scaled.T.contiguous()
    centred_sq_norms = _squared_norms(centred)
    scaled_sq_norms = _squared_norms(scaled)

    def kernel(x: torch.Tensor) -> torch.Tensor:
        centred_x = x - center
        row_norms = _squared_norms(centred_x)
        row_max = None
        if anchors_moderate and not _moderate_squares(row_norms, x.shape[1]):
            row_max = centred_x.abs().amax(1, keepdim=True)
        if anchors_moderate and (row_max is None or _moderate(row_max)):
            norms = (row_norms, centred_sq_norms)
            squares = expanded_squares(centred_x, centred_t, norms)
            repair_cancelled(squares, x, anchors, norms, None, None)
            return _sqrt(squares)
        if row_max is None:
            row_max = centred_x.abs().amax(1, keepdim=True)
        exponents = torch.maximum(_exponents(row_max), anchor_exponent)
        row_scale = _power_of_two(-exponents, x.dtype)
        ratio = _power_of_two(anchor_exponent - exponents, x.dtype)
        centred_x = centred_x * row_scale
        norms = (_squared_norms(centred_x), scaled_sq_norms)
        squares = expanded_squares(centred_x, scaled_t, norms, ratio)
        repair_cancelled(squares, x, anchors, norms, ratio, row_scale)
        return _sqrt(squares).div_(row_scale)

    return kernel


def _minkowski(name: str, p: float) -> Callable[[torch.Tensor], BlockKernel]:
    def prepare(anchors: torch.Tensor) -> BlockKernel:
        numba_kernel = None if anchors.requires_grad else load_kernel(name, anchors)
        anchor_max = anchors.detach().abs().amax()

        def kernel(x: torch.Tensor) -> torch.Tensor:
            magnitude = torch.maximum(x.detach().abs().amax(), anchor_max)
            if (
                numba_kernel is not None
                and _numba_can_take(x, anchors)
                and _moderate(magnitude.reshape(1))
            ):
                return numba_kernel(x)
            # Both sides scaled by the same power of two (exact), so that no
            # difference or sum over- or underflows; the distance is scaled back.
            scale = _power_of_two(_exponents(magnitude), x.dtype)
            return torch.cdist(x / scale, anchors / scale, p=p) * scale

        return kernel

    return prepare


def _numba_can_take(x: torch.Tensor, anchors: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == anchors.dtype and not x.requires_grad


SIMILARITIES: dict[str, Callable[[torch.Tensor], BlockKernel]] = {
    "cosine": _cosine,
    "euclidean": _euclidean,
    "l1": _minkowski("l1", 1.0),
    "linf": _minkowski("linf", float("inf")),
}


def similarity_name(similarity: str | Callable) -> str:
    """Return the name used for ``similarity`` in feature names and layouts."""
    if isinstance(similarity, str):
        return similarity
    return getattr(similarity, "__name__", type(similarity).__name__)


def is_distance(similarity: str | Callable) -> bool:
    """Whether ``similarity`` is a built-in distance (lower means closer).

    Callables are taken as they are, so they are never considered distances.

    Examples
    --------
    >>> is_distance("cosine"), is_distance("l1")
    (False, True)
    """
    return isinstance(similarity, str) and similarity in _DISTANCES


def _checked_callable(similarity: Callable, anchors: torch.Tensor) -> BlockKernel:
    name = similarity_name(similarity)

    def kernel(x: torch.Tensor) -> torch.Tensor:
        out = similarity(x, anchors)
        expected = (x.shape[0], anchors.shape[0])
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
            shape = tuple(out.shape) if hasattr(out, "shape") else type(out).__name__
            raise ValueError(
                f"similarity callable {name!r} returned {shape}; a torch.Tensor of "
                f"shape (n_samples, n_anchors) = {expected} was expected."
            )
        if not torch.isfinite(out).all():
            raise ValueError(f"similarity callable {name!r} returned NaN or inf.")
        return out.to(x.dtype)

    return kernel


def prepare_similarity(
    similarity: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    anchors: torch.Tensor,
) -> BlockKernel:
    """Bind ``similarity`` to ``anchors`` and return a block kernel.

    Parameters
    ----------
    similarity : {"cosine", "euclidean", "l1", "linf"} or callable
        A built-in name, or a callable ``f(x, anchors) -> (b, k)`` on torch tensors.
    anchors : torch.Tensor of shape (n_anchors, n_features)
        The anchors, already preprocessed like the rows will be.

    Returns
    -------
    callable
        Maps a tensor of shape ``(b, n_features)`` to one of shape ``(b, n_anchors)``.

    Examples
    --------
    >>> import torch
    >>> kernel = prepare_similarity("l1", torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    >>> kernel(torch.tensor([[1.0, 0.0]]))
    tensor([[1., 1.]])
    """
    if callable(similarity):
        return _checked_callable(similarity, anchors)
    try:
        return SIMILARITIES[similarity](anchors)
    except KeyError:
        raise ValueError(
            f"Unknown similarity {similarity!r}; expected one of "
            f"{sorted(SIMILARITIES)} or a callable."
        ) from None
