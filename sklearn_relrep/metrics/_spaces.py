"""Spaces prepared for exact, blockwise similarity search at any magnitude.

A prepared space turns a block of query rows into a block of similarities to
every row of the space, "higher is closer": the cosine, or ``2 <q, k> - |k|^2``
(the negated squared Euclidean distance up to the query's own ``|q|^2``, which
does not change any ranking of one query's candidates).

Magnitude is handled exactly. Rows are rescaled by powers of two (no rounding)
whenever the raw values could overflow or underflow in the products, and a
Euclidean space far from the origin is centred first, so the expansion of the
squared distance does not cancel catastrophically. When neither is needed the
input array is used in place, without a copy.
"""

from __future__ import annotations

import numpy as np
import torch

from ._common import (
    as_tensor,
    binary_exponent,
    check_distinct_rows,
    check_no_zero_rows,
    row_blocks,
    row_max_abs,
)

# Binary exponents of the values that are used in place: products and sums of
# d squares stay far inside the dtype's range.
_SAFE_EXPONENT = {np.dtype(np.float32): 30, np.dtype(np.float64): 250}
# Similarities within this many units in the last place of each other count as
# tied: duplicated rows give equal similarities (the same operations), while
# distinct rows rarely come this close.
_TIE_ULPS = 2.0


def tie_tolerance(similarity: torch.Tensor) -> torch.Tensor:
    """How close to ``similarity`` another value must be to count as tied."""
    return (_TIE_ULPS * torch.finfo(similarity.dtype).eps) * similarity.abs()


def _chunks(X: np.ndarray):
    """Row chunks of ``X`` in float64, each of about 2**20 values (8 MiB)."""
    for start, stop in row_blocks(X.shape[0], max(1, 2**20 // X.shape[1])):
        yield start, stop, X[start:stop].astype(np.float64)


class PreparedSpace:
    """Rows ready for blockwise similarities; build with :func:`prepare_cosine`
    or :func:`prepare_euclidean`."""

    def __init__(self, points, *, metric, inverse_norms=None, squared_norms=None):
        self.points = points
        self.metric = metric
        self.inverse_norms = inverse_norms
        self.negated_squared_norms = None if squared_norms is None else -squared_norms

    @property
    def n_samples(self) -> int:
        return self.points.shape[0]

    def queries(self, rows) -> torch.Tensor:
        """``rows`` (a slice or indices) as queries: unit rows for the cosine."""
        points = self.points[rows]
        if self.inverse_norms is not None:
            points = points * self.inverse_norms[rows, None]
        return points

    def similarity(
        self, queries: torch.Tensor, start=0, stop=None, *, buffer=None
    ) -> torch.Tensor:
        """``(n_queries, stop - start)`` similarities to rows ``start:stop``.

        With a ``buffer`` (a flat tensor of at least that many values) the
        result is written into its beginning: a fresh allocation this large
        costs the operating system page faults on every call.
        """
        keys = self.points[start:stop]
        shape = (queries.shape[0], keys.shape[0])
        out = None if buffer is None else buffer[: shape[0] * shape[1]].view(shape)
        if self.metric == "cosine":
            block = torch.mm(queries, keys.T, out=out)
            if self.inverse_norms is not None:
                block.mul_(self.inverse_norms[start:stop])
            return block
        return torch.addmm(
            self.negated_squared_norms[start:stop], queries, keys.T, alpha=2.0, out=out
        )

    def tile_buffer(self, n_values: int) -> torch.Tensor:
        """A flat buffer for :meth:`similarity` tiles of up to ``n_values``."""
        return torch.empty(n_values, dtype=self.points.dtype, device=self.points.device)


def prepare_cosine(X: np.ndarray, name: str, device: torch.device) -> PreparedSpace:
    """Prepare ``X`` for cosine similarities; reject zero or all-parallel rows."""
    largest = row_max_abs(X)
    check_no_zero_rows(largest, name)
    exponents = binary_exponent(largest)
    limit = _SAFE_EXPONENT[X.dtype]
    in_place = exponents.min() >= -limit and exponents.max() <= limit
    unit = np.empty(X.shape, dtype=X.dtype) if not in_place else None
    inverse_norms = np.empty(X.shape[0])
    first_direction = None
    all_parallel = True
    for start, stop, block in _chunks(X):
        block = np.ldexp(block, -exponents[start:stop, None])
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        if first_direction is None:
            first_direction = block[0]
        tolerance = 8 * np.finfo(X.dtype).eps
        all_parallel &= bool(np.all(np.abs(block - first_direction) <= tolerance))
        if in_place:
            raw = X[start:stop].astype(np.float64)
            inverse_norms[start:stop] = 1.0 / np.linalg.norm(raw, axis=1)
        else:
            unit[start:stop] = block
    if all_parallel:
        raise ValueError(
            f"The cosine neighbourhoods of {name} are undefined: all its rows point "
            "in the same direction, so every cosine between them is 1."
        )
    if not in_place:
        return PreparedSpace(as_tensor(unit, device), metric="cosine")
    return PreparedSpace(
        as_tensor(X, device),
        metric="cosine",
        inverse_norms=torch.from_numpy(inverse_norms.astype(X.dtype)).to(device),
    )


def euclidean_frame(*spaces: np.ndarray) -> tuple[int, np.ndarray, bool]:
    """A common scale and centre for Euclidean search in one or two spaces.

    Returns ``(exponent, centre, in_place)``: distances are computed on
    ``(X - centre * 2**exponent) * 2**-exponent``, and ``in_place`` says that the
    raw values can be used as they are (moderate magnitudes, and the mean no
    farther from the origin than the typical distance to the mean).
    """
    exponent = int(binary_exponent(max(row_max_abs(X).max() for X in spaces)))
    n_rows = sum(X.shape[0] for X in spaces)
    total = np.zeros(spaces[0].shape[1])
    total_squares = 0.0
    for X in spaces:
        for _, _, block in _chunks(X):
            block = np.ldexp(block, -exponent)
            total += block.sum(axis=0)
            total_squares += float(np.sum(block**2))
    centre = total / n_rows
    offset = float(centre @ centre)
    spread = total_squares / n_rows - offset
    limit = _SAFE_EXPONENT[spaces[0].dtype]
    in_place = -limit <= exponent <= limit and offset <= spread
    return exponent, centre, in_place


def prepare_euclidean(
    X: np.ndarray, frame: tuple[int, np.ndarray, bool], device: torch.device
) -> PreparedSpace:
    """Prepare ``X`` for Euclidean search in the frame of :func:`euclidean_frame`."""
    exponent, centre, in_place = frame
    points = X if in_place else np.empty(X.shape, dtype=X.dtype)
    squared_norms = np.empty(X.shape[0])
    for start, stop, block in _chunks(X):
        if not in_place:
            block = np.ldexp(block, -exponent) - centre
            points[start:stop] = block
        squared_norms[start:stop] = np.sum(
            points[start:stop].astype(np.float64) ** 2, 1
        )
    return PreparedSpace(
        as_tensor(points, device),
        metric="euclidean",
        squared_norms=torch.from_numpy(squared_norms.astype(X.dtype)).to(device),
    )


def prepare(
    X: np.ndarray, name: str, metric: str, device: torch.device
) -> PreparedSpace:
    """Prepare one space on its own (its own scale and centre)."""
    if metric == "cosine":
        return prepare_cosine(X, name, device)
    check_distinct_rows(X, name, "The Euclidean neighbourhood")
    return prepare_euclidean(X, euclidean_frame(X), device)
