"""Squared euclidean distances by a matmul, recomputed exactly where it cancels.

``|x - a|^2 = |x|^2 - 2<x, a> + |a|^2`` runs at matmul speed but loses every
digit when the distance is small next to ``|x|`` and ``|a|``. Its rounding error
has a bound proportional to ``|x|^2 + |a|^2``; :func:`repair_cancelled` finds the
entries whose squared distance is not large next to that bound and recomputes
them from direct differences, so that every distance is accurate to
``_EXPANSION_RTOL`` (relative) whatever the data. Used by the euclidean kernel of
:mod:`sklearn_relrep._kernels`, on every device (torch only).
"""

from __future__ import annotations

import torch

__all__ = ["expanded_squares", "repair_cancelled"]

# Columns of one matmul: the worst-case rounding error of a dot product then grows
# like the block length plus the number of blocks, not like the dimension.
_DOT_BLOCK = 1024
# Entries whose worst-case relative error on the distance could exceed this are
# recomputed from direct differences.
_EXPANSION_RTOL = 5e-4
# Elements in one gathered chunk of that recomputation.
_REFINE_CHUNK = 2**21
# Unit roundoff of the inputs of a float32 matmul run at reduced precision.
_REDUCED_PRECISION = {"high": 2.0**-11, "tf32": 2.0**-11, "medium": 2.0**-8}
_REDUCED_PRECISION["bf16"] = _REDUCED_PRECISION["medium"]


def _matmul_input_roundoff(dtype: torch.dtype, device: torch.device) -> float:
    """Unit roundoff a matmul applies to its inputs: 0 unless float32 is reduced."""
    if dtype != torch.float32:
        return 0.0
    cuda = device.type == "cuda"
    backend = torch.backends.cuda.matmul if cuda else torch.backends.mkldnn.matmul
    modes = {
        torch.get_float32_matmul_precision(),
        getattr(backend, "fp32_precision", ""),
    }
    if cuda and torch.backends.cuda.matmul.allow_tf32:
        modes.add("tf32")
    return max(_REDUCED_PRECISION.get(mode, 0.0) for mode in modes)


def _column_blocks(width: int) -> list[slice]:
    n_blocks = -(-width // _DOT_BLOCK)
    bounds = [round(i * width / n_blocks) for i in range(n_blocks + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(n_blocks)]


def _cancellation_threshold(dtype: torch.dtype, device: torch.device, width: int):
    """Below this ratio of ``d^2`` to ``|x|^2 + |a|^2`` the expansion is not trusted.

    A dot product summed in ``n`` blocks of at most ``m`` terms is off by at most
    about ``(m + n) * u * |x| |a|`` in any summation order (plus the rounding of
    reduced-precision inputs); with the norms (their square root and square add
    ``2u`` each) and the final additions, ``d^2`` is off by at most
    ``bound * (|x|^2 + |a|^2)``, so the relative error on ``d`` stays below
    ``_EXPANSION_RTOL`` wherever ``d^2 >= threshold * (...)``.
    """
    u = torch.finfo(dtype).eps / 2
    blocks = _column_blocks(width)
    terms = max(block.stop - block.start for block in blocks) + len(blocks)
    bound = 2 * _matmul_input_roundoff(dtype, device) + (2 * terms + 8) * u
    return bound / (2 * _EXPANSION_RTOL)


def expanded_squares(
    x: torch.Tensor,
    anchors_t: torch.Tensor,
    norms: tuple[torch.Tensor, torch.Tensor],
    ratio: torch.Tensor | None = None,
) -> torch.Tensor:
    """``|x|^2 - 2 r <x, a> + r^2 |a|^2``, the matmul split in column blocks.

    The norms are summed into a fresh ``(b, k)`` tensor in one pass, and the
    matmul accumulates into it (``beta=1``), so that no other pass over the
    output is needed.

    Parameters
    ----------
    x : torch.Tensor of shape (b, d)
    anchors_t : torch.Tensor of shape (d, k)
        The anchors, transposed.
    norms : tuple of torch.Tensor
        ``(|x|^2, |a|^2)``, of shapes (b,) and (k,).
    ratio : torch.Tensor of shape (b, 1) or None
        A power of two per row that multiplies the anchors (None: 1).

    Returns
    -------
    torch.Tensor of shape (b, k)
    """
    row_norms, anchor_norms = norms
    if ratio is None:
        squares = torch.add(row_norms[:, None], anchor_norms)
    else:
        squares = torch.addcmul(row_norms[:, None], ratio.square(), anchor_norms)
        x = x * ratio
    for block in _column_blocks(x.shape[1]):
        squares.addmm_(x[:, block], anchors_t[block], alpha=-2.0)
    return squares


def repair_cancelled(
    squares: torch.Tensor,
    x: torch.Tensor,
    anchors: torch.Tensor,
    norms: tuple[torch.Tensor, torch.Tensor],
    ratio: torch.Tensor | None,
    row_scale: torch.Tensor | None,
) -> None:
    """Recompute in place, from direct differences, the entries that may have cancelled.

    Parameters
    ----------
    squares : torch.Tensor of shape (b, k)
        From :func:`expanded_squares`, in units of ``row_scale**2`` per row.
    x, anchors : torch.Tensor of shape (b, d) and (k, d)
        The raw rows and anchors (not centred, not scaled).
    norms, ratio
        As given to :func:`expanded_squares`: its rounding error scales with
        ``|x|^2 + r^2 |a|^2``.
    row_scale : torch.Tensor of shape (b, 1) or None
        Powers of two the rows were scaled by (None: unscaled). Direct
        differences are taken between the row and the anchor both scaled by it.
    """
    row_norms, anchor_norms = norms
    ratio_sq = 1.0 if ratio is None else ratio.square()
    threshold = _cancellation_threshold(x.dtype, x.device, x.shape[1])
    # A row can only hold a flagged entry if its smallest square is below this.
    limits = threshold * (row_norms[:, None] + ratio_sq * anchor_norms.max())
    candidates = torch.nonzero(squares.amin(1, keepdim=True) < limits)[:, 0]
    if candidates.numel() == 0:
        return
    if ratio is not None:
        ratio_sq = ratio_sq[candidates]
    sums = row_norms[candidates, None] + ratio_sq * anchor_norms
    rows, columns = torch.nonzero(squares[candidates] < threshold * sums, as_tuple=True)
    rows = candidates[rows]
    step = max(1, _REFINE_CHUNK // x.shape[1])
    for start in range(0, rows.numel(), step):
        i, j = rows[start : start + step], columns[start : start + step]
        x_i, a_j = x[i], anchors[j]
        if row_scale is not None:  # scale before subtracting: no overflow
            x_i, a_j = x_i * row_scale[i], a_j * row_scale[i]
        squares[i, j] = (x_i - a_j).square_().sum(1)
