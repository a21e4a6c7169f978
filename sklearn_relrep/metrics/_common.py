"""Validation, chunking and cross-products shared by the similarity metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from sklearn.utils.validation import check_array

from .._backend import to_tensor

_FLOAT_DTYPES = (np.float64, np.float32)
# Entries of one (rows x n_samples) similarity block when batch_size is None:
# 2**24 float32 values are 64 MiB.
_BLOCK_ENTRIES = 2**24


def check_paired(
    X, Y, *, min_samples: int = 2, same_width: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Validate two embeddings of the same samples.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        The samples in the first space.
    Y : array-like of shape (n_samples, n_features_y)
        The same samples, in the same order, in the second space.
    min_samples : int, default=2
        Fewest samples the metric is defined for.
    same_width : bool, default=False
        Whether the metric compares coordinates directly and so needs
        ``n_features_x == n_features_y``.

    Returns
    -------
    X, Y : ndarray
        Finite float32 or float64 arrays (float32 is kept as is).

    Raises
    ------
    ValueError
        On NaN or infinite values, non-2-D input, mismatched numbers of rows,
        too few samples or, with ``same_width``, different widths.
    """
    X = check_array(X, dtype=_FLOAT_DTYPES, input_name="X")
    Y = check_array(Y, dtype=_FLOAT_DTYPES, input_name="Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            "X and Y must hold the same samples in the same order, but X has "
            f"{X.shape[0]} rows and Y has {Y.shape[0]}."
        )
    if X.shape[0] < min_samples:
        raise ValueError(
            f"This metric needs at least {min_samples} paired samples; got "
            f"n_samples={X.shape[0]}."
        )
    if same_width and X.shape[1] != Y.shape[1]:
        raise ValueError(
            "This metric compares coordinates directly and needs X and Y of the "
            f"same width; got {X.shape[1]} and {Y.shape[1]} features. Compare "
            "relative representations (RelativeProjector with parallel anchors) "
            "or the output of an aligner instead."
        )
    return X, Y


def check_n_neighbors(n_neighbors: int, n_samples: int) -> None:
    """Raise unless every sample has at least ``n_neighbors`` other samples."""
    if n_neighbors >= n_samples:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be smaller than n_samples={n_samples}: "
            "a sample has only n_samples - 1 neighbours besides itself."
        )


def rows_per_block(batch_size: int | None, n_columns: int) -> int:
    """Rows per block so that a ``(rows, n_columns)`` block stays bounded."""
    if batch_size is not None:
        return batch_size
    return max(1, _BLOCK_ENTRIES // max(n_columns, 1))


def row_blocks(n_samples: int, block_rows: int) -> Iterator[tuple[int, int]]:
    """Consecutive ``(start, stop)`` row ranges of at most ``block_rows`` rows."""
    for start in range(0, n_samples, block_rows):
        yield start, min(start + block_rows, n_samples)


class CrossProducts(NamedTuple):
    """Feature-space second moments of two column-centred embeddings."""

    xtx: np.ndarray
    yty: np.ndarray
    xty: np.ndarray
    squared_norms_x: np.ndarray
    squared_norms_y: np.ndarray


def centered_cross_products(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    batch_size: int | None,
    device: torch.device,
) -> CrossProducts:
    """``Xc^T Xc``, ``Yc^T Yc``, ``Xc^T Yc`` and row norms of centred X and Y.

    Two passes over row chunks, accumulated in float64: memory is one chunk plus
    the ``d x d`` products, never ``n x n``.
    """
    mean_x = torch.from_numpy(X.mean(axis=0, dtype=np.float64)).to(device)
    mean_y = torch.from_numpy(Y.mean(axis=0, dtype=np.float64)).to(device)
    width_x, width_y = X.shape[1], Y.shape[1]
    xtx = torch.zeros((width_x, width_x), dtype=torch.float64, device=device)
    yty = torch.zeros((width_y, width_y), dtype=torch.float64, device=device)
    xty = torch.zeros((width_x, width_y), dtype=torch.float64, device=device)
    squared_norms_x = np.empty(X.shape[0])
    squared_norms_y = np.empty(X.shape[0])
    block_rows = rows_per_block(batch_size, width_x + width_y)
    with torch.inference_mode():
        for start, stop in row_blocks(X.shape[0], block_rows):
            x = to_tensor(X[start:stop], device).double() - mean_x
            y = to_tensor(Y[start:stop], device).double() - mean_y
            xtx.addmm_(x.T, x)
            yty.addmm_(y.T, y)
            xty.addmm_(x.T, y)
            squared_norms_x[start:stop] = x.square().sum(1).cpu().numpy()
            squared_norms_y[start:stop] = y.square().sum(1).cpu().numpy()
    return CrossProducts(
        xtx.cpu().numpy(),
        yty.cpu().numpy(),
        xty.cpu().numpy(),
        squared_norms_x,
        squared_norms_y,
    )
