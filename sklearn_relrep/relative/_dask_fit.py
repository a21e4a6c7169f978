"""The relative transformers' fit on a dask collection: only the anchors are read.

:meth:`~sklearn_relrep.RelativeProjector.fit` hands a dask array or DataFrame
to :func:`fit_from_dask`, which draws the anchor indices from the number of rows
(and ``y``) alone and computes only the anchor rows.
"""

from __future__ import annotations

import numpy as np

from .._dask import _dask_kind, is_dask_collection
from ._anchors import select_anchor_indices

__all__ = ["fit_from_dask"]

# The anchor selections that read every row, which a dask fit never computes.
_NEEDS_IN_MEMORY_DATA = ("farthest", "kmeans")


def fit_from_dask(estimator, X, y=None):
    """Fit a relative transformer on a dask collection, computing only the anchors.

    The anchor indices are drawn as :meth:`fit` draws them on in-memory data,
    from the number of rows and ``y`` alone (``"random"`` and
    ``"stratified"``), so the same ``random_state`` gives the same anchors on
    both. Only the anchor rows are then computed, and the transformer is fitted
    on them as explicit anchors (the ``anchors`` parameter is left as it is).
    With ``anchors=`` given, one row is read to check the input.

    Parameters
    ----------
    estimator : BaseRelativeSpace
        The unfitted transformer.
    X : dask array of shape (n_samples, n_features) or dask DataFrame
        Embeddings to draw anchors from. Unknown row chunk sizes (a dask
        DataFrame's partition lengths) are computed first.
    y : array-like or dask collection of shape (n_samples,), default=None
        Labels for ``anchor_selection="stratified"``; computed when lazy.

    Returns
    -------
    estimator
        The fitted transformer, with ``anchor_indices_`` into the rows of ``X``.

    Raises
    ------
    ValueError
        For ``anchor_selection="farthest"`` or ``"kmeans"``, which need every
        row in memory.
    """
    import dask

    kind = _dask_kind(X, "fit")
    array = X.to_dask_array(lengths=True) if kind == "frame" else X
    if np.isnan(array.shape[0]):
        array = array.compute_chunk_sizes()

    def as_input(rows):
        if kind == "frame":
            import pandas as pd

            return pd.DataFrame(rows, columns=X.columns)
        return rows

    if estimator.anchors is not None:
        return estimator._fit(as_input(array[:1].compute()))
    if estimator.anchor_selection in _NEEDS_IN_MEMORY_DATA:
        raise ValueError(
            f"anchor_selection={estimator.anchor_selection!r} needs every row of X "
            "in memory, but X is a dask collection. Use anchor_selection='random' "
            "or 'stratified' (only the anchor rows are computed), pass explicit "
            "anchors=, or pass X.compute()."
        )
    if is_dask_collection(y):
        (y,) = dask.compute(y)
    indices = select_anchor_indices(
        array,  # only its shape is read by the random and stratified draws
        estimator.n_anchors,
        estimator.anchor_selection,
        y=None if y is None else np.asarray(y),
        random_state=estimator.random_state,
    )
    order = np.argsort(indices, kind="stable")
    rows = np.empty((indices.size, array.shape[1]), dtype=array.dtype)
    rows[order] = array[indices[order]].compute()
    estimator._fit(as_input(rows), anchors=rows)
    estimator.anchor_indices_ = indices
    return estimator
