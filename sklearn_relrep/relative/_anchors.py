"""Strategies that choose anchor samples among the rows of X."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

__all__ = ["ANCHOR_SELECTIONS", "select_anchor_indices"]

ANCHOR_SELECTIONS = ("random", "stratified", "farthest", "kmeans")


def _random(X, y, n_anchors, rng):
    return rng.choice(X.shape[0], size=n_anchors, replace=False)


def _stratified(X, y, n_anchors, rng):
    if y is None:
        raise ValueError("anchor_selection='stratified' needs y; pass y to fit.")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            "anchor_selection='stratified' needs 1-D class labels y; got y of shape "
            f"{y.shape}. Pass one label per sample, or use anchor_selection='random'."
        )
    if y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y has {y.shape[0]} samples but X has {X.shape[0]}; they must match."
        )
    classes, y_index = np.unique(y, return_inverse=True)
    counts = np.bincount(y_index)
    quotas = counts * n_anchors / counts.sum()
    allocation = np.floor(quotas).astype(int)
    by_remainder = np.argsort(-(quotas - allocation), kind="stable")
    allocation[by_remainder[: n_anchors - allocation.sum()]] += 1
    chosen = [
        rng.choice(np.flatnonzero(y_index == c), size=allocation[c], replace=False)
        for c in range(classes.size)
    ]
    return rng.permutation(np.concatenate(chosen))


def _farthest(X, y, n_anchors, rng):
    X = X.astype(np.float64, copy=False)
    chosen = np.empty(n_anchors, dtype=np.intp)
    chosen[0] = rng.randint(X.shape[0])
    min_sq_dist = ((X - X[chosen[0]]) ** 2).sum(1)
    min_sq_dist[chosen[0]] = -1.0
    for i in range(1, n_anchors):
        candidate = int(np.argmax(min_sq_dist))
        if min_sq_dist[candidate] <= 0.0:  # only duplicates of chosen rows remain
            candidate = rng.choice(np.flatnonzero(min_sq_dist >= 0.0))
        chosen[i] = candidate
        np.minimum(min_sq_dist, ((X - X[candidate]) ** 2).sum(1), out=min_sq_dist)
        min_sq_dist[chosen[: i + 1]] = -1.0
    return chosen


def _kmeans(X, y, n_anchors, rng):
    with warnings.catch_warnings():
        # Fewer distinct points than clusters: handled below.
        warnings.simplefilter("ignore", ConvergenceWarning)
        kmeans = KMeans(n_clusters=n_anchors, n_init=1, random_state=rng).fit(X)
    sq_dist = ((X - kmeans.cluster_centers_[kmeans.labels_]) ** 2).sum(1)
    chosen = [
        members[np.argmin(sq_dist[members])]
        for members in (np.flatnonzero(kmeans.labels_ == c) for c in range(n_anchors))
        if members.size
    ]
    missing = n_anchors - len(chosen)
    if missing:
        # Empty clusters (duplicate rows): fill up with other rows, at random.
        unused = np.setdiff1d(np.arange(X.shape[0]), chosen)
        chosen += rng.choice(unused, size=missing, replace=False).tolist()
    return np.asarray(chosen, dtype=np.intp)


_STRATEGIES = {
    "random": _random,
    "stratified": _stratified,
    "farthest": _farthest,
    "kmeans": _kmeans,
}


def select_anchor_indices(
    X: np.ndarray,
    n_anchors: int,
    strategy: str = "random",
    *,
    y: np.ndarray | None = None,
    random_state: int | np.random.RandomState | None = None,
) -> np.ndarray:
    """Choose ``n_anchors`` distinct rows of ``X`` to serve as anchors.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Candidate samples.
    n_anchors : int
        Number of anchors; at most ``n_samples``.
    strategy : {"random", "stratified", "farthest", "kmeans"}, default="random"
        ``"random"`` draws uniformly without replacement; ``"stratified"`` draws
        per class of ``y`` in proportion to its size; ``"farthest"`` runs
        farthest-point sampling from a random start; ``"kmeans"`` takes, for each
        k-means centroid, the member sample nearest to it (when duplicate rows
        leave clusters empty, other rows are drawn at random to make up
        ``n_anchors``).
    y : array-like of shape (n_samples,), default=None
        Class labels, needed by ``"stratified"``.
    random_state : int, RandomState instance or None, default=None
        Seeds every random draw.

    Returns
    -------
    ndarray of shape (n_anchors,)
        Distinct row indices into ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> idx = select_anchor_indices(X, 3, "farthest", random_state=0)
    >>> len(set(idx.tolist()))
    3
    """
    if strategy not in _STRATEGIES:
        raise ValueError(
            f"Unknown anchor selection {strategy!r}; expected one of "
            f"{list(ANCHOR_SELECTIONS)}."
        )
    n_samples = X.shape[0]
    if n_anchors > n_samples:
        raise ValueError(
            f"n_anchors={n_anchors} is larger than n_samples={n_samples}; "
            "use fewer anchors or more samples."
        )
    rng = check_random_state(random_state)
    return np.asarray(_STRATEGIES[strategy](X, y, n_anchors, rng), dtype=np.intp)
