"""Paired metrics: mean cosine, correlation of pairwise distances and SVCCA."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics.pairwise import paired_cosine_distances, paired_distances
from sklearn.utils import check_random_state

from .._backend import resolve_device
from .._compat import Interval, StrOptions, validate_params
from ._common import (
    centered_cross_products,
    check_distinct_rows,
    check_no_zero_rows,
    check_paired,
    rescaled,
    row_max_abs,
)

__all__ = ["mean_cosine_similarity", "pairwise_distance_correlation", "svcca"]


def _magnitude_free(X: np.ndarray, name: str, metric: str) -> np.ndarray:
    """``X`` rescaled by exact powers of two so that no norm overflows.

    The cosine needs each row on its own (an all-zero row is rejected); the
    Euclidean distance one factor for the whole space.
    """
    if metric == "cosine":
        check_no_zero_rows(row_max_abs(X), name)
    return rescaled(X, per_row=metric == "cosine")


@validate_params(
    {"X": ["array-like"], "Y": ["array-like"]}, prefer_skip_nested_validation=True
)
def mean_cosine_similarity(X, Y) -> float:
    """Mean cosine similarity between each sample's two vectors.

    ``mean_i <X_i, Y_i> / (||X_i|| ||Y_i||)``. It compares coordinates, so both
    spaces must share one coordinate system: typically relative representations
    on parallel anchors, or the output of an aligner.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The samples in the first space.
    Y : array-like of shape (n_samples, n_features)
        The same samples, in the same order, in the same coordinates.

    Returns
    -------
    float
        The mean cosine, in [-1, 1].

    See Also
    --------
    sklearn.metrics.pairwise.paired_cosine_distances : The per-pair distances.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep.metrics import mean_cosine_similarity
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0]])
    >>> mean_cosine_similarity(X, [[3.0, 0.0], [0.0, -1.0]])
    0.0
    """
    X, Y = check_paired(X, Y, same_width=True)
    check_distinct_rows(X, "X", "The mean cosine")
    check_distinct_rows(Y, "Y", "The mean cosine")
    distances = paired_cosine_distances(
        _magnitude_free(X, "X", "cosine"), _magnitude_free(Y, "Y", "cosine")
    )
    return float(np.clip(1.0 - np.mean(distances), -1.0, 1.0))


def _sample_pairs(
    n_samples: int, n_pairs: int, random_state
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs ``i < j`` when there are few enough, else ``n_pairs`` random ones."""
    if n_samples * (n_samples - 1) // 2 <= n_pairs:
        return np.triu_indices(n_samples, k=1)
    rng = check_random_state(random_state)
    first = rng.randint(n_samples, size=n_pairs)
    second = rng.randint(n_samples - 1, size=n_pairs)
    return first, second + (second >= first)


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "method": [StrOptions({"pearson", "spearman"})],
        "n_pairs": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def pairwise_distance_correlation(
    X,
    Y,
    *,
    metric: str = "euclidean",
    method: str = "pearson",
    n_pairs: int = 100_000,
    random_state=None,
) -> float:
    """Correlation between the distances of the same pairs of samples in two spaces.

    The distance ``d(X_i, X_j)`` of each pair is correlated with ``d(Y_i, Y_j)``.
    When there are at most ``n_pairs`` distinct pairs all of them are used, so the
    result is exact; otherwise ``n_pairs`` pairs ``i != j`` are drawn uniformly
    with replacement. Memory is O(n_pairs + n d).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        The samples in the first space.
    Y : array-like of shape (n_samples, n_features_y)
        The same samples, in the same order, in the second space.
    metric : {"euclidean", "cosine"}, default="euclidean"
        The distance within each space (the cosine distance is ``1 - cos``).
    method : {"pearson", "spearman"}, default="pearson"
        Linear or rank correlation.
    n_pairs : int, default=100_000
        Most pairs to use.
    random_state : int, RandomState instance or None, default=None
        Draws the pairs when they are sampled.

    Returns
    -------
    float
        The correlation, in [-1, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep.metrics import pairwise_distance_correlation
    >>> X = np.random.RandomState(0).normal(size=(50, 3))
    >>> round(pairwise_distance_correlation(X, 5 * X + 1), 6)
    1.0
    """
    X, Y = check_paired(X, Y, min_samples=3)
    check_distinct_rows(X, "X", "The distance correlation")
    check_distinct_rows(Y, "Y", "The distance correlation")
    first, second = _sample_pairs(X.shape[0], n_pairs, random_state)
    X, Y = _magnitude_free(X, "X", metric), _magnitude_free(Y, "Y", metric)
    distances_x = paired_distances(X[first], X[second], metric=metric)
    distances_y = paired_distances(Y[first], Y[second], metric=metric)
    for name, distances in (("X", distances_x), ("Y", distances_y)):
        if np.ptp(distances) == 0:
            raise ValueError(
                f"The correlation is undefined: all sampled distances in {name} "
                "are equal."
            )
    correlate = pearsonr if method == "pearson" else spearmanr
    return float(np.clip(correlate(distances_x, distances_y)[0], -1.0, 1.0))


def _whitened_principal_axes(
    covariance: np.ndarray, n_components: float | int, name: str
) -> np.ndarray:
    """Principal axes of ``covariance`` scaled to unit variance, largest first."""
    variances, axes = np.linalg.eigh(covariance)
    variances, axes = variances[::-1], axes[:, ::-1]
    rank = int(np.sum(variances > variances[0] * covariance.shape[0] * 1e-12))
    if rank == 0:
        raise ValueError(f"SVCCA is undefined: {name} has no variance.")
    if isinstance(n_components, Integral):
        kept = min(int(n_components), rank)
    else:
        explained = np.cumsum(variances[:rank]) / np.sum(variances[:rank])
        kept = min(int(np.searchsorted(explained, n_components)) + 1, rank)
    return axes[:, :kept] / np.sqrt(variances[:kept])


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
        ],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def svcca(
    X,
    Y,
    *,
    n_components: float | int = 0.99,
    batch_size: int | None = None,
    device="auto",
) -> float:
    """Singular vector canonical correlation analysis (Raghu et al., 2017).

    Each space is reduced to its leading principal components (SVD step), then
    canonical correlation analysis between the two reductions gives
    ``min(k_x, k_y)`` canonical correlations, whose mean is returned. Everything
    is computed from the ``d x d`` covariances accumulated over row chunks, so
    memory is O(n d + d^2). SVCCA is invariant to invertible linear maps of
    either space when all components are kept.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        The samples in the first space.
    Y : array-like of shape (n_samples, n_features_y)
        The same samples, in the same order, in the second space.
    n_components : int or float, default=0.99
        A float in (0, 1] keeps the fewest components explaining that fraction
        of each space's variance; an int keeps that many (at most the rank).
    batch_size : int, default=None
        Rows per chunk; ``None`` keeps a chunk near 2**24 values.
    device : str or torch.device, default="auto"
        Where the covariances are accumulated; ``"auto"`` uses CUDA when present.

    Returns
    -------
    float
        The mean canonical correlation, in [0, 1].

    See Also
    --------
    linear_cka : A similarity that, unlike SVCCA, weighs directions by variance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep.metrics import svcca
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 6))
    >>> round(svcca(X, X @ rng.normal(size=(6, 6)), n_components=1.0), 6)
    1.0
    """
    X, Y = check_paired(X, Y)
    check_distinct_rows(X, "X", "SVCCA")
    check_distinct_rows(Y, "Y", "SVCCA")
    products = centered_cross_products(
        X, Y, batch_size=batch_size, device=resolve_device(device)
    )
    whiten_x = _whitened_principal_axes(products.xtx, n_components, "X")
    whiten_y = _whitened_principal_axes(products.yty, n_components, "Y")
    correlations = np.linalg.svd(whiten_x.T @ products.xty @ whiten_y, compute_uv=False)
    return float(np.mean(np.clip(correlations, 0.0, 1.0)))
