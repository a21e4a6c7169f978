"""Squared euclidean distances by one matmul, repaired exactly where it cancels.

``|x - a|^2 = |x|^2 - 2<x, a> + |a|^2`` runs at matmul speed but loses every
digit when the distance is small next to ``|x|`` and ``|a|``. Its rounding error
has a bound proportional to ``|x|^2 + |a|^2``; :func:`repair_cancelled` finds the
entries whose squared distance is not large next to that bound and recomputes
them from direct differences, so that every distance is accurate to
``_EXPANSION_RTOL`` (relative) whatever the data. Used by the euclidean kernel of
:mod:`sklearn_relrep._kernels`, on every device; no gradient flows through it.
"""

from __future__ import annotations

import torch

__all__ = ["augmented_anchors", "expanded_squares", "repair_cancelled"]

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
    reduced-precision inputs); with the norms and the final additions, ``d^2`` is
    off by at most ``bound * (|x|^2 + |a|^2)``, so the relative error on ``d``
    stays below ``_EXPANSION_RTOL`` wherever ``d^2 >= threshold * (...)``.
    """
    u = torch.finfo(dtype).eps / 2
    blocks = _column_blocks(width)
    terms = max(block.stop - block.start for block in blocks) + len(blocks)
    bound = 2 * _matmul_input_roundoff(dtype, device) + (2 * terms + 4) * u
    return bound / (2 * _EXPANSION_RTOL)


def augmented_anchors(anchors: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``[-2 a, 1, |a|^2]`` per anchor, and ``|a|^2``.

    With rows ``[r x, |x|^2, r^2]`` (see :func:`expanded_squares`), one matmul
    gives ``|x|^2 - 2 r <x, a> + r^2 |a|^2`` with no pass over the output.
    """
    norms = (anchors * anchors).sum(1)
    ones = torch.ones_like(norms)
    return torch.cat([anchors * -2.0, ones[:, None], norms[:, None]], 1), norms


def expanded_squares(rows: torch.Tensor, augmented: torch.Tensor) -> torch.Tensor:
    """Squared distances by the expansion, the matmul split in column blocks.

    Parameters
    ----------
    rows : torch.Tensor of shape (b, d + 2)
        ``[r x, |x|^2, r^2]`` per row, ``r`` a per-row power of two (1 unscaled).
    augmented : torch.Tensor of shape (k, d + 2)
        From :func:`augmented_anchors`.

    Returns
    -------
    torch.Tensor of shape (b, k)
    """
    blocks = _column_blocks(rows.shape[1])
    squares = rows[:, blocks[0]] @ augmented[:, blocks[0]].T
    for block in blocks[1:]:
        squares.addmm_(rows[:, block], augmented[:, block].T)
    return squares


def repair_cancelled(
    squares: torch.Tensor,
    x: torch.Tensor,
    anchors: torch.Tensor,
    norms: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    row_scale: torch.Tensor | None,
) -> None:
    """Recompute in place, from direct differences, the entries that may have cancelled.

    Parameters
    ----------
    squares : torch.Tensor of shape (b, k)
        From :func:`expanded_squares`, in units of ``row_scale**-2`` per row.
    x, anchors : torch.Tensor of shape (b, d) and (k, d)
        The raw rows and anchors (not centred, not scaled).
    norms : tuple of torch.Tensor
        ``(|x|^2, |a|^2, r^2)`` as used by the expansion, of shapes (b,), (k,)
        and (b,): ``|x|^2 + r^2 |a|^2`` is what its rounding error scales with.
    row_scale : torch.Tensor of shape (b, 1) or None
        Powers of two the rows were scaled by (None: unscaled). Direct
        differences are taken between the row and the anchor both scaled by it.
    """
    row_norms, anchor_norms, ratio_sq = norms
    threshold = _cancellation_threshold(x.dtype, x.device, x.shape[1] + 2)
    # A row can only hold a flagged entry if its smallest square is below this.
    limits = threshold * (row_norms + ratio_sq * anchor_norms.max())
    candidates = torch.nonzero(squares.amin(1) < limits).squeeze(1)
    if candidates.numel() == 0:
        return
    sums = row_norms[candidates, None] + ratio_sq[candidates, None] * anchor_norms
    rows, columns = torch.nonzero(squares[candidates] < threshold * sums, as_tuple=True)
    rows = candidates[rows]
    step = max(1, _REFINE_CHUNK // x.shape[1])
    for start in range(0, rows.numel(), step):
        i, j = rows[start : start + step], columns[start : start + step]
        x_i, a_j = x[i], anchors[j]
        if row_scale is not None:  # scale before subtracting: no overflow
            x_i, a_j = x_i * row_scale[i], a_j * row_scale[i]
        squares[i, j] = (x_i - a_j).square_().sum(1)
