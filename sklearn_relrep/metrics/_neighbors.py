"""Neighbourhood metrics: mutual k-NN Jaccard overlap and cross-space MRR."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._backend import resolve_device, to_tensor
from ._common import check_n_neighbors, check_paired, row_blocks, rows_per_block

__all__ = ["knn_jaccard_score", "mean_reciprocal_rank"]

_METRICS = {"cosine", "euclidean"}


def _prepare(X: np.ndarray, metric: str, device: torch.device) -> torch.Tensor:
    """Rows as a tensor on ``device``, unit-normalised for the cosine."""
    tensor = to_tensor(X, device)
    if metric == "cosine":
        return torch.nn.functional.normalize(tensor, dim=1)
    return tensor


def _similarity(queries: torch.Tensor, keys: torch.Tensor, metric: str) -> torch.Tensor:
    """Higher-is-closer similarity: cosine, or the negated squared distance."""
    if metric == "cosine":
        return queries @ keys.T
    squared = queries.square().sum(1, keepdim=True) + keys.square().sum(1)
    return squared.addmm_(queries, keys.T, alpha=-2.0).neg_()


def _nearest_neighbors(
    X: np.ndarray,
    n_neighbors: int,
    *,
    metric: str,
    block_rows: int,
    device: torch.device,
) -> np.ndarray:
    """Indices of each row's ``n_neighbors`` nearest other rows, in blocks."""
    points = _prepare(X, metric, device)
    neighbors = np.empty((X.shape[0], n_neighbors), dtype=np.int64)
    with torch.inference_mode():
        for start, stop in row_blocks(X.shape[0], block_rows):
            similarity = _similarity(points[start:stop], points, metric)
            similarity[:, start:stop].fill_diagonal_(-torch.inf)
            top = similarity.topk(n_neighbors, dim=1, sorted=False).indices
            neighbors[start:stop] = top.cpu().numpy()
    return neighbors


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions(_METRICS)],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def knn_jaccard_score(
    X,
    Y,
    *,
    n_neighbors: int = 10,
    metric: str = "cosine",
    batch_size: int | None = None,
    device="auto",
) -> float:
    """Mean Jaccard overlap of each sample's k nearest neighbours in two spaces.

    For each sample ``i``, ``N_X(i)`` and ``N_Y(i)`` are the indices of its
    ``n_neighbors`` nearest other samples in each space (the sample itself is
    excluded); the score is the mean over samples of
    ``|N_X(i) & N_Y(i)| / |N_X(i) | N_Y(i)|``. Neighbours are found by exact
    brute force in blocks of ``batch_size x n_samples`` similarities, so no
    ``n x n`` matrix is built; ties are broken arbitrarily.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        The samples in the first space.
    Y : array-like of shape (n_samples, n_features_y)
        The same samples, in the same order, in the second space. The widths
        may differ: neighbourhoods are computed within each space.
    n_neighbors : int, default=10
        ``k``; must be smaller than ``n_samples``.
    metric : {"cosine", "euclidean"}, default="cosine"
        How neighbours are ranked within each space.
    batch_size : int, default=None
        Query rows per block; ``None`` keeps a block near 2**24 values.
    device : str or torch.device, default="auto"
        Where the similarity blocks are computed; ``"auto"`` uses CUDA when
        present.

    Returns
    -------
    float
        The mean Jaccard index, in [0, 1]; 1 when every neighbourhood agrees.

    See Also
    --------
    mean_reciprocal_rank : Retrieval of the counterpart across spaces.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from sklearn_relrep.metrics import knn_jaccard_score
    >>> X = np.random.RandomState(0).normal(size=(200, 16))
    >>> Q = ortho_group.rvs(16, random_state=0)
    >>> knn_jaccard_score(X, X @ Q, n_neighbors=5)
    1.0
    >>> knn_jaccard_score(X, np.random.RandomState(1).normal(size=(200, 4))) < 0.1
    True
    """
    X, Y = check_paired(X, Y)
    check_n_neighbors(n_neighbors, X.shape[0])
    device = resolve_device(device)
    block_rows = rows_per_block(batch_size, X.shape[0])
    options = {"metric": metric, "block_rows": block_rows, "device": device}
    neighbors_x = _nearest_neighbors(X, n_neighbors, **options)
    neighbors_y = _nearest_neighbors(Y, n_neighbors, **options)
    shared = np.empty(X.shape[0])
    for start, stop in row_blocks(X.shape[0], rows_per_block(None, n_neighbors**2)):
        matches = neighbors_x[start:stop, :, None] == neighbors_y[start:stop, None, :]
        shared[start:stop] = matches.any(axis=2).sum(axis=1)
    return float(np.mean(shared / (2 * n_neighbors - shared)))


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "metric": [StrOptions(_METRICS)],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def mean_reciprocal_rank(
    X,
    Y,
    *,
    metric: str = "cosine",
    batch_size: int | None = None,
    device="auto",
) -> float:
    """Mean reciprocal rank of each sample's counterpart, retrieved across spaces.

    Row ``i`` of ``X`` is the query and all rows of ``Y`` are the candidates,
    ranked by similarity to it; ``rank_i`` is 1 plus the number of candidates
    strictly more similar than the true counterpart ``Y[i]`` (ties count in the
    counterpart's favour). The score is ``mean(1 / rank_i)``. Similarities are
    computed in blocks of ``batch_size x n_samples``.

    Retrieval compares coordinates of ``X`` with coordinates of ``Y``, so both
    must live in one coordinate system: pass relative representations built on
    parallel anchors (e.g. with :class:`~sklearn_relrep.RelativeProjector`), or
    map one space into the other with an aligner first. Absolute embeddings of
    different widths are rejected.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The queries.
    Y : array-like of shape (n_samples, n_features)
        The candidates; ``Y[i]`` is the counterpart of ``X[i]``.
    metric : {"cosine", "euclidean"}, default="cosine"
        The similarity used for ranking (cosine similarity, or negated
        Euclidean distance).
    batch_size : int, default=None
        Query rows per block; ``None`` keeps a block near 2**24 values.
    device : str or torch.device, default="auto"
        Where the similarity blocks are computed; ``"auto"`` uses CUDA when
        present.

    Returns
    -------
    float
        The MRR, in [1 / n_samples, 1]; 1 when every counterpart ranks first.

    See Also
    --------
    knn_jaccard_score : Agreement of neighbourhoods within each space.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep.metrics import mean_reciprocal_rank
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 8))
    >>> mean_reciprocal_rank(X, X + 0.01 * rng.normal(size=X.shape))
    1.0
    >>> mean_reciprocal_rank(X, rng.normal(size=X.shape)) < 0.2
    True
    """
    X, Y = check_paired(X, Y, same_width=True)
    device = resolve_device(device)
    queries, keys = _prepare(X, metric, device), _prepare(Y, metric, device)
    ranks = np.empty(X.shape[0])
    with torch.inference_mode():
        for start, stop in row_blocks(
            X.shape[0], rows_per_block(batch_size, X.shape[0])
        ):
            similarity = _similarity(queries[start:stop], keys, metric)
            counterpart = similarity[:, start:stop].diagonal()[:, None]
            ranks[start:stop] = (similarity > counterpart).sum(1).cpu().numpy() + 1
    return float(np.mean(1.0 / ranks))
