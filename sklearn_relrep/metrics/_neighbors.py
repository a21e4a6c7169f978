"""Neighbourhood metrics: mutual k-NN Jaccard overlap and cross-space MRR.

Both are exact brute force. The similarities of a block of query rows are
computed in tiles of key columns, and each tile is reduced at once (a top-k
selection merged into a running top-k, or counts against the counterpart), so
memory is one tile and never ``n x n``; a block of many queries lets the
matrix products run near their peak.

Ties are resolved in expectation over a uniformly random order of the tied
candidates, never by position, so two spaces whose neighbourhoods are
undetermined (many equal similarities) do not agree by accident.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import torch
from scipy.special import digamma

from .._backend import resolve_device
from .._compat import Interval, StrOptions, validate_params
from ._common import check_distinct_rows, check_paired, row_blocks
from ._spaces import (
    PreparedSpace,
    euclidean_frame,
    prepare,
    prepare_cosine,
    prepare_euclidean,
    tie_tolerance,
)

__all__ = ["knn_jaccard_score", "mean_reciprocal_rank"]

_METRICS = {"cosine", "euclidean"}
_TIED_ROWS_PER_STEP = 16
# Query rows per block by default, and the values in one tile of a block's
# similarities (2**24 float32 values are 64 MiB).
_QUERY_ROWS = 1024
_TILE_ENTRIES = 2**24


def _check_n_neighbors(n_neighbors: int, n_samples: int) -> None:
    """Raise unless a neighbourhood of ``n_neighbors`` can differ between spaces."""
    if n_neighbors > n_samples - 2:
        raise ValueError(
            f"n_neighbors={n_neighbors} must be at most n_samples - 2 = "
            f"{n_samples - 2}: with n_samples - 1 neighbours every neighbourhood "
            "holds all the other samples, and the score is 1 whatever the data."
        )


def _query_rows(batch_size: int | None, n_samples: int) -> int:
    return min(batch_size or _QUERY_ROWS, n_samples)


def _tile_width(n_samples: int, block_rows: int) -> int:
    return min(block_rows * max(1, _TILE_ENTRIES // block_rows**2), n_samples)


def _tile_values(n_samples: int, block_rows: int) -> int:
    return block_rows * _tile_width(n_samples, block_rows)


def _key_tiles(n_samples: int, start: int, block_rows: int) -> list[tuple[int, int]]:
    """Column ranges of one row block's similarities, the diagonal's first.

    Each tile has a multiple of ``block_rows`` columns, about
    ``_TILE_ENTRIES / block_rows`` of them, so the diagonal block
    ``start:start + block_rows`` (``start`` a multiple of ``block_rows``) lies in
    one tile.
    """
    width = _tile_width(n_samples, block_rows)
    first = start - start % width
    tiles = [(first, min(first + width, n_samples))]
    for low in range(0, n_samples, width):
        if low != first:
            tiles.append((low, min(low + width, n_samples)))
    return tiles


class _Neighborhoods:
    """The k nearest other rows of rows ``start:stop`` in one prepared space.

    The similarities are computed tile by tile; each tile's top ``k + 1`` is
    merged into a running top ``k + 1``, so memory is one tile.
    """

    def __init__(
        self,
        space: PreparedSpace,
        start: int,
        stop: int,
        k: int,
        block_rows: int,
        buffer: torch.Tensor,
    ):
        queries = space.queries(slice(start, stop))
        values = torch.full(
            (stop - start, k + 1),
            -torch.inf,
            dtype=queries.dtype,
            device=queries.device,
        )
        indices = torch.zeros(values.shape, dtype=torch.int64, device=queries.device)
        for low, high in _key_tiles(space.n_samples, start, block_rows):
            similarity = space.similarity(queries, low, high, buffer=buffer)
            if low <= start < high:
                similarity[:, start - low : stop - low].fill_diagonal_(-torch.inf)
            top = similarity.topk(min(k + 1, high - low), dim=1)
            merged = torch.cat([values, top.values], dim=1).topk(k + 1, dim=1)
            indices = torch.cat([indices, top.indices + low], dim=1).gather(
                1, merged.indices
            )
            values = merged.values
        self.space, self.start, self.k = space, start, k
        self.indices = indices[:, :k]
        kth = values[:, k - 1]
        # Rows whose k-th and (k + 1)-th neighbours tie: the set is not unique.
        self.tied = values[:, k] >= kth - tie_tolerance(kth)

    def membership(self, rows: torch.Tensor) -> torch.Tensor:
        """P(j is among the k nearest of each row) under random tie-breaking.

        ``rows`` are global row indices; their similarities are computed again,
        whole, and the k-th value taken from them.
        """
        similarity = self.space.similarity(self.space.queries(rows))
        similarity[torch.arange(len(rows)), rows] = -torch.inf
        kth = similarity.topk(self.k, dim=1).values[:, -1:]
        tolerance = tie_tolerance(kth)
        above = similarity > kth + tolerance
        band = (similarity >= kth - tolerance) & ~above
        free_places = self.k - above.sum(1, keepdim=True).double()
        share = free_places / band.sum(1, keepdim=True).double()
        return above.double() + band.double() * share


def _shared_neighbors(first: _Neighborhoods, second: _Neighborhoods) -> np.ndarray:
    """Expected size of the overlap of each row's two neighbourhoods."""
    matches = first.indices[:, :, None] == second.indices[:, None, :]
    shared = matches.any(dim=2).sum(dim=1).double()
    tied = torch.nonzero(first.tied | second.tied).ravel()
    # A few rows at a time: memberships are dense float64 rows of n_samples.
    for rows in tied.split(_TIED_ROWS_PER_STEP):
        global_rows = rows + first.start
        shared[rows] = (
            first.membership(global_rows) * second.membership(global_rows)
        ).sum(1)
    return shared.cpu().numpy()


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
    brute force: for a block of ``batch_size`` queries, the similarities are
    computed in tiles, and each tile's top ``k + 1`` is merged at once into a
    running top ``k + 1``, so memory is one tile and no ``n x n`` matrix is
    built.

    **Ties.** When the ``k``-th and ``(k + 1)``-th neighbours of a sample are
    equally similar (up to two units in the last place, as for duplicated
    rows), its neighbourhood is not unique. Each candidate ``j`` is then in it
    with probability ``p(j)`` under a random order of the tied candidates, and
    the overlap ``s`` in ``s / (2k - s)`` is its expectation
    ``sum_j p_X(j) p_Y(j)``. Two spaces whose neighbourhoods are
    undetermined therefore score near chance, not 1.

    **Magnitude** does not matter: rows are rescaled by powers of two (exact)
    and, for the Euclidean metric, centred where needed, so ``X * 1e30`` gives
    the same score as ``X``. A space whose rows are all identical (or, for the
    cosine, all parallel), or a cosine with an all-zero row, raises
    ``ValueError``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        The samples in the first space.
    Y : array-like of shape (n_samples, n_features_y)
        The same samples, in the same order, in the second space. The widths
        may differ: neighbourhoods are computed within each space.
    n_neighbors : int, default=10
        ``k``; at most ``n_samples - 2`` (with ``n_samples - 1`` every
        neighbourhood is all other samples and the score is always 1).
    metric : {"cosine", "euclidean"}, default="cosine"
        How neighbours are ranked within each space.
    batch_size : int, default=None
        Query rows per block; ``None`` means 1024. A block's similarities are
        computed in tiles of about 2**24 values (64 MiB in float32).
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
    _check_n_neighbors(n_neighbors, X.shape[0])
    device = resolve_device(device)
    space_x = prepare(X, "X", metric, device)
    space_y = prepare(Y, "Y", metric, device)
    shared = np.empty(X.shape[0])
    block_rows = _query_rows(batch_size, X.shape[0])
    with torch.inference_mode():
        n_values = _tile_values(X.shape[0], block_rows)
        buffer_x, buffer_y = (
            space_x.tile_buffer(n_values),
            space_y.tile_buffer(n_values),
        )
        options = {"k": n_neighbors, "block_rows": block_rows}
        for start, stop in row_blocks(X.shape[0], block_rows):
            shared[start:stop] = _shared_neighbors(
                _Neighborhoods(space_x, start, stop, buffer=buffer_x, **options),
                _Neighborhoods(space_y, start, stop, buffer=buffer_y, **options),
            )
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
    more similar than the true counterpart ``Y[i]``. Candidates exactly as
    similar as the counterpart (up to two units in the last place) are ordered
    at random, in expectation: with ``g`` better and ``t`` tied candidates,
    ``1 / rank_i`` is the mean of ``1 / r`` for ``r`` from ``g + 1`` to
    ``g + t + 1``. So a query that ties with every candidate scores at chance
    level, never 1. The score is ``mean(1 / rank_i)``. Similarities are
    computed in tiles of a block of ``batch_size`` queries, each reduced at
    once to counts, so memory is one tile.

    Magnitude does not matter: both spaces are rescaled by powers of two
    (exact; for the Euclidean metric by one common factor and centre, which
    keep every ranking). A space whose rows are all identical (or, for the
    cosine, all parallel), or a cosine with an all-zero row, raises
    ``ValueError``.

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
        Query rows per block; ``None`` means 1024. A block's similarities are
        computed in tiles of about 2**24 values (64 MiB in float32).
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
    # Queries meet keys in one product: one dtype, the wider of the two.
    dtype = np.result_type(X, Y)
    X, Y = X.astype(dtype, copy=False), Y.astype(dtype, copy=False)
    device = resolve_device(device)
    if metric == "cosine":
        queries, keys = prepare_cosine(X, "X", device), prepare_cosine(Y, "Y", device)
    else:
        check_distinct_rows(X, "X", "The Euclidean retrieval")
        check_distinct_rows(Y, "Y", "The Euclidean retrieval")
        frame = euclidean_frame(X, Y)
        queries = prepare_euclidean(X, frame, device)
        keys = prepare_euclidean(Y, frame, device)
    reciprocal_ranks = np.empty(X.shape[0])
    block_rows = _query_rows(batch_size, X.shape[0])
    with torch.inference_mode():
        n_values = _tile_values(X.shape[0], block_rows)
        flags = torch.empty(n_values, dtype=torch.bool, device=keys.points.device)
        buffers = keys.tile_buffer(n_values), flags
        for start, stop in row_blocks(X.shape[0], block_rows):
            reciprocal_ranks[start:stop] = _expected_reciprocal_ranks(
                queries, keys, start, stop, block_rows, buffers
            )
    return float(np.mean(reciprocal_ranks))


def _expected_reciprocal_ranks(
    queries: PreparedSpace,
    keys: PreparedSpace,
    start: int,
    stop: int,
    block_rows: int,
    buffers: tuple[torch.Tensor, torch.Tensor],
) -> np.ndarray:
    """``E[1 / rank]`` of each counterpart, tied candidates in random order."""
    tile_buffer, flag_buffer = buffers
    rows = queries.queries(slice(start, stop))
    better = np.zeros(stop - start, dtype=np.int64)
    at_least = np.zeros(stop - start, dtype=np.int64)
    # The diagonal's tile comes first: it holds the counterparts' similarities.
    for low, high in _key_tiles(keys.n_samples, start, block_rows):
        similarity = keys.similarity(rows, low, high, buffer=tile_buffer)
        if low <= start < high:
            counterpart = similarity[:, start - low : stop - low].diagonal()
            counterpart = counterpart[:, None].clone()  # the buffer is reused
            tolerance = tie_tolerance(counterpart)
            upper, lower = counterpart + tolerance, counterpart - tolerance
        flags = flag_buffer[: similarity.numel()].view(similarity.shape)
        torch.gt(similarity, upper, out=flags)
        better += flags.sum(1, dtype=torch.int32).cpu().numpy()
        torch.ge(similarity, lower, out=flags)
        at_least += flags.sum(1, dtype=torch.int32).cpu().numpy()
    ties = at_least - better - 1
    # The counterpart's rank is uniform on better + 1 .. better + ties + 1:
    # the mean of 1 / rank is a difference of harmonic numbers over ties + 1.
    harmonic = (digamma(better + ties + 2.0) - digamma(better + 1.0)) / (ties + 1)
    return np.where(ties == 0, 1.0 / (better + 1.0), harmonic)
