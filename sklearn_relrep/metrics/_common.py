"""Validation, exact rescaling, chunking and cross-products shared by the metrics."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from sklearn.utils.validation import check_array

from .._backend import as_numpy

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
    X = check_array(as_numpy(X), dtype=_FLOAT_DTYPES, input_name="X")
    Y = check_array(as_numpy(Y), dtype=_FLOAT_DTYPES, input_name="Y")
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


def as_tensor(X: np.ndarray, device: torch.device) -> torch.Tensor:
    """``X`` on ``device``, sharing memory on the CPU even when it is read-only.

    The metrics never write to it; torch's warning about non-writable arrays
    (e.g. joblib's memory maps) does not apply.
    """
    X = np.ascontiguousarray(X)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not")
        return torch.from_numpy(X).to(device)


def rows_per_block(batch_size: int | None, n_columns: int) -> int:
    """Rows per block so that a ``(rows, n_columns)`` block stays bounded."""
    if batch_size is not None:
        return batch_size
    return max(1, _BLOCK_ENTRIES // max(n_columns, 1))


def row_blocks(n_samples: int, block_rows: int) -> Iterator[tuple[int, int]]:
    """Consecutive ``(start, stop)`` row ranges of at most ``block_rows`` rows."""
    for start in range(0, n_samples, block_rows):
        yield start, min(start + block_rows, n_samples)


def binary_exponent(values) -> np.ndarray:
    """``e`` with ``|v| * 2**-e`` in [0.5, 1) for each value (0 for zeros).

    Multiplying by ``2**-e`` (:func:`numpy.ldexp`) is exact, so a space rescaled
    this way keeps every digit while its magnitude moves near 1.
    """
    return np.frexp(np.asarray(values, dtype=np.float64))[1]


def row_max_abs(X: np.ndarray) -> np.ndarray:
    """Largest absolute value of each row, in chunks (no ``|X|`` copy)."""
    out = np.empty(X.shape[0], dtype=X.dtype)
    for start, stop in row_blocks(X.shape[0], rows_per_block(None, X.shape[1])):
        block = X[start:stop]
        out[start:stop] = np.maximum(block.max(axis=1), -block.min(axis=1))
    return out


def rescaled(X: np.ndarray, *, per_row: bool = False) -> np.ndarray:
    """A copy of ``X`` in float64 scaled by powers of two to a largest value near 1.

    With ``per_row`` every row gets its own factor (for scale-free row
    quantities such as cosines); otherwise the whole space shares one.
    """
    largest = row_max_abs(X)
    exponent = binary_exponent(largest if per_row else largest.max())
    if per_row:
        exponent = exponent[:, None]
    return np.ldexp(X.astype(np.float64), -exponent)


def check_distinct_rows(X: np.ndarray, name: str, what: str) -> None:
    """Raise unless ``X`` holds at least two different rows."""
    first = X[:1]
    for start, stop in row_blocks(X.shape[0], rows_per_block(None, X.shape[1])):
        if np.any(X[start:stop] != first):
            return
    raise ValueError(
        f"{what} is undefined: all {X.shape[0]} rows of {name} are identical, so "
        f"{name} has no structure to compare. Check how {name} was computed."
    )


def check_no_zero_rows(largest: np.ndarray, name: str) -> None:
    """Raise when a row (given by its largest absolute value) is all zeros."""
    n_zero = int(np.sum(largest == 0))
    if n_zero:
        raise ValueError(
            f"The cosine is undefined for zero vectors, and {name} has {n_zero} "
            "all-zero rows. Drop them, or use metric='euclidean' where offered."
        )


class CrossProducts(NamedTuple):
    """Feature-space second moments of two column-centred, rescaled embeddings.

    Each space is multiplied by a power of two (``2**-exponent_x`` and
    ``2**-exponent_y``) before centring, which the scale-invariant metrics that
    use these products never see.
    """

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

    Each space is first scaled exactly by a power of two so that its largest
    value is near 1: float64 data near 1e300 or 1e-300 neither overflow nor
    underflow. Two passes over row chunks, accumulated in float64: memory is one
    chunk plus the ``d x d`` products, never ``n x n``.
    """
    factor_x = 2.0 ** -float(binary_exponent(row_max_abs(X).max()))
    factor_y = 2.0 ** -float(binary_exponent(row_max_abs(Y).max()))
    block_rows = rows_per_block(batch_size, X.shape[1] + Y.shape[1])

    def scaled_blocks():
        for start, stop in row_blocks(X.shape[0], block_rows):
            # A new tensor, never a view of the caller's float64 array.
            x = as_tensor(X[start:stop], device).double() * factor_x
            y = as_tensor(Y[start:stop], device).double() * factor_y
            yield start, stop, x, y

    width_x, width_y = X.shape[1], Y.shape[1]
    xtx = torch.zeros((width_x, width_x), dtype=torch.float64, device=device)
    yty = torch.zeros((width_y, width_y), dtype=torch.float64, device=device)
    xty = torch.zeros((width_x, width_y), dtype=torch.float64, device=device)
    squared_norms_x = np.empty(X.shape[0])
    squared_norms_y = np.empty(X.shape[0])
    with torch.inference_mode():
        sum_x = torch.zeros(width_x, dtype=torch.float64, device=device)
        sum_y = torch.zeros(width_y, dtype=torch.float64, device=device)
        for _, _, x, y in scaled_blocks():
            sum_x += x.sum(0)
            sum_y += y.sum(0)
        mean_x, mean_y = sum_x / X.shape[0], sum_y / X.shape[0]
        for start, stop, x, y in scaled_blocks():
            x -= mean_x
            y -= mean_y
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
