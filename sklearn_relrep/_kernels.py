"""Similarity kernels between a block of rows and a fixed set of anchors.

Each kernel is split in two: anchor-side work (normalising, squared norms) is done
once by :func:`prepare_similarity`, and the returned closure maps one block of rows
to its ``(b, k)`` similarities. Chunking and devices are the job of
:mod:`sklearn_relrep._backend`.

cosine and euclidean are a matmul plus cheap row/column terms on every device.
l1 and linf use the numba kernels of :mod:`sklearn_relrep._kernels_cpu` for CPU
blocks that need no gradient, and ``torch.cdist`` otherwise (CUDA, autograd, numba
missing or disabled with ``SKLEARN_RELREP_DISABLE_NUMBA=1``). Both paths give the
same values to rounding. ``benchmarks/README.md`` has the measurements behind this.

The euclidean matmul expansion ``|x|^2 - 2<x, a> + |a|^2`` loses relative accuracy
in float32 when ``x`` is close to an anchor (cancellation); the squared distance is
clamped at 0 before the square root, so a point's distance to itself is small
(a few times ``sqrt(eps) * |x|``), never NaN.

Sign convention: ``"cosine"`` is a similarity (higher means closer, in [-1, 1]);
``"euclidean"``, ``"l1"`` and ``"linf"`` are raw, non-negative distances (lower
means closer), as in the reference implementation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ._kernels_cpu import load_kernel

__all__ = ["SIMILARITIES", "prepare_similarity", "similarity_name"]

BlockKernel = Callable[[torch.Tensor], torch.Tensor]

_COSINE_EPS = 1e-12


def _cosine(anchors: torch.Tensor) -> BlockKernel:
    unit_anchors_t = F.normalize(anchors, dim=1, eps=_COSINE_EPS).T.contiguous()

    def kernel(x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1, eps=_COSINE_EPS) @ unit_anchors_t

    return kernel


def _euclidean(anchors: torch.Tensor) -> BlockKernel:
    anchors_t = anchors.T.contiguous()
    anchor_sq_norms = (anchors * anchors).sum(1)

    def kernel(x: torch.Tensor) -> torch.Tensor:
        sq = torch.addmm(anchor_sq_norms, x, anchors_t, alpha=-2.0)
        sq.add_((x * x).sum(1, keepdim=True))
        return sq.clamp_(min=0.0).sqrt_()

    return kernel


def _minkowski(name: str, p: float) -> Callable[[torch.Tensor], BlockKernel]:
    def prepare(anchors: torch.Tensor) -> BlockKernel:
        numba_kernel = None if anchors.requires_grad else load_kernel(name, anchors)

        def kernel(x: torch.Tensor) -> torch.Tensor:
            if numba_kernel is not None and _numba_can_take(x, anchors):
                return numba_kernel(x)
            return torch.cdist(x, anchors, p=p)

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
        The anchors, already normalised like the rows will be.

    Returns
    -------
    callable
        Maps a tensor of shape ``(b, n_features)`` to one of shape ``(b, n_anchors)``.

    Examples
    --------
    >>> import torch
    >>> from sklearn_relrep._kernels import prepare_similarity
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
