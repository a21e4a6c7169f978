"""One metric over every pair of K spaces: the K x K similarity matrix."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Integral

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils.validation import check_array

from .._backend import as_numpy
from .._compat import StrOptions, validate_params
from ._cka import linear_cka, rbf_cka
from ._neighbors import knn_jaccard_score
from ._paired import mean_cosine_similarity, pairwise_distance_correlation, svcca

__all__ = ["pairwise_space_similarity"]

# metric(X, Y) == metric(Y, X) for these (with the same parameters).
_SYMMETRIC_METRICS = frozenset(
    {
        knn_jaccard_score,
        linear_cka,
        mean_cosine_similarity,
        pairwise_distance_correlation,
        rbf_cka,
        svcca,
    }
)


def _validated_spaces(spaces: Mapping) -> dict:
    arrays = {
        name: check_array(
            as_numpy(space),
            dtype=(np.float64, np.float32),
            input_name=f"spaces[{name!r}]",
        )
        for name, space in spaces.items()
    }
    n_rows = {name: array.shape[0] for name, array in arrays.items()}
    if len(set(n_rows.values())) > 1:
        raise ValueError(
            "Every space must hold the same samples in the same order, but the "
            f"numbers of rows differ: {n_rows}."
        )
    return arrays


@validate_params(
    {
        "spaces": [Mapping],
        "metric": [callable],
        "symmetric": ["boolean", StrOptions({"auto"})],
        "n_jobs": [Integral, None],
    },
    prefer_skip_nested_validation=True,
)
def pairwise_space_similarity(
    spaces: Mapping[str, object],
    metric: Callable = linear_cka,
    *,
    symmetric: bool | str = "auto",
    n_jobs: int | None = None,
    **metric_params,
):
    """A similarity metric between every pair of K spaces, in parallel.

    Entry ``(a, b)`` is ``metric(spaces[a], spaces[b], **metric_params)``: the
    K x K matrix that compares K encoders (or layers, or seeds) on the same
    samples. The calls run through :class:`joblib.Parallel`, so any joblib
    backend applies unchanged: processes (the default ``loky``), threads, or a
    cluster under ``joblib.parallel_backend("dask")``, ``"ray"`` or
    ``"spark"``.

    Parameters
    ----------
    spaces : mapping of str to array-like of shape (n_samples, n_features_k)
        The spaces by name; every space holds the same samples in the same
        order (widths may differ where the metric allows it).
    metric : callable, default=linear_cka
        ``metric(X, Y, **metric_params) -> float``, e.g. any function of
        :mod:`sklearn_relrep.metrics`.
    symmetric : bool or "auto", default="auto"
        Whether ``metric(X, Y) == metric(Y, X)``. Then only the pairs ``a <= b``
        are computed and the matrix is mirrored, so it is exactly symmetric.
        ``"auto"`` is True for the symmetric metrics of this package (all but
        :func:`mean_reciprocal_rank`) and False for any other callable.
    n_jobs : int, default=None
        Parallel calls; ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context, -1 means all processors.
    **metric_params
        Passed to every call of ``metric`` (e.g. ``n_neighbors=10`` or
        ``random_state=0``; fix ``random_state`` for reproducible results).

    Returns
    -------
    pandas.DataFrame or ndarray of shape (K, K)
        Rows are the first argument of ``metric``, columns the second, both in
        the order of ``spaces``. A DataFrame labelled by the names when pandas
        is installed, else an ndarray.

    Raises
    ------
    ValueError
        If the spaces hold different numbers of rows, or a value is invalid
        for ``metric``.

    See Also
    --------
    linear_cka : The default metric.
    sklearn.metrics.pairwise_distances : The same idea for samples, not spaces.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep.metrics import pairwise_space_similarity
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 5))
    >>> spaces = {"a": X, "b": 2 * X + 1, "c": rng.normal(size=(100, 3))}
    >>> matrix = pairwise_space_similarity(spaces)
    >>> matrix.round(2)
          a     b     c
    a  1.00  1.00  0.05
    b  1.00  1.00  0.05
    c  0.05  0.05  1.00
    """
    arrays = _validated_spaces(spaces)
    names = list(arrays)
    if symmetric == "auto":
        symmetric = metric in _SYMMETRIC_METRICS
    pairs = [
        (i, j)
        for i in range(len(names))
        for j in range(len(names))
        if not symmetric or i <= j
    ]
    values = Parallel(n_jobs=n_jobs)(
        delayed(metric)(arrays[names[i]], arrays[names[j]], **metric_params)
        for i, j in pairs
    )
    matrix = np.empty((len(names), len(names)))
    for (i, j), value in zip(pairs, values, strict=True):
        matrix[i, j] = value
        if symmetric:
            matrix[j, i] = value
    try:
        import pandas as pd
    except ImportError:
        return matrix
    return pd.DataFrame(matrix, index=names, columns=names)
