"""Dask adapters: lazy transforms and predictions, anchor-only fits, cheap tokens.

Every estimator method that reads rows gets one line at its top,
``if is_dask_collection(X): return lazy_method(self, "transform", X)``, and
everything else lives here. dask is imported lazily, only when a dask collection
is actually passed, so it is never required.

- :func:`lazy_method` maps a fitted estimator's method over the row blocks of a
  dask array (or the partitions of a dask DataFrame). Each block goes through
  the same chunked numpy code as an in-memory call; the output declares its
  ``chunks``, ``dtype`` and ``meta``; column chunks are merged first and 0-row
  blocks are handled.
- :func:`lazy_score` computes the predictions (one value per row) and scores
  them with the metric of the estimator's ``score``.
- :func:`estimator_token` hashes an estimator's parameters and fitted state, so
  dask names graphs without pickling the model (``__dask_tokenize__``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import NotFittedError

from ._backend import as_numpy

__all__ = [
    "DaskScoreMixin",
    "DaskTokenMixin",
    "estimator_token",
    "is_dask_collection",
    "lazy_method",
    "lazy_score",
]


def is_dask_collection(X) -> bool:
    """Whether ``X`` is a dask collection; never imports dask itself.

    Parameters
    ----------
    X : object
        Anything passed to an estimator.

    Returns
    -------
    bool
        True for a dask array, DataFrame, Series or other dask collection.

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_collection(np.zeros((2, 2)))
    False
    """
    if "dask" not in sys.modules:  # nobody can have built a dask collection
        return False
    import dask

    _register_tokenizer()
    return dask.is_dask_collection(X)


class DaskTokenMixin:
    """Let dask name an estimator by :func:`estimator_token`.

    dask calls ``__dask_tokenize__``, unless a tokenizer is registered for a
    base class: dask-ml registers one for every scikit-learn estimator, from
    its parameters alone, which would give two differently fitted estimators
    one name. This package's tokenizer is registered for the classes with this
    mixin when this module is imported after dask, and again by
    :func:`is_dask_collection` (which the estimators' methods call), which also
    replaces a tokenizer that dask cached for one of them in between.
    """

    def __dask_tokenize__(self):
        return estimator_token(self)


def _tokenize(estimator: DaskTokenMixin) -> str:
    return estimator.__dask_tokenize__()


def _register_tokenizer() -> None:
    from dask.base import normalize_token

    pending = [DaskTokenMixin]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        if normalize_token.dispatch(cls) is not _tokenize:  # also undoes a cache
            normalize_token.register(cls, _tokenize)


if "dask" in sys.modules:  # imported first: register before any estimator exists
    _register_tokenizer()


def _dask_kind(X, method: str) -> str:
    """``"array"`` for a 2-D dask array, ``"frame"`` for a dask DataFrame."""
    import dask.array as da

    if isinstance(X, da.Array) and X.ndim == 2:
        return "array"
    # dask.dataframe needs pandas and pyarrow; a collection of that kind can
    # only exist when it is already imported.
    dataframe = sys.modules.get("dask.dataframe")
    if dataframe is not None and isinstance(X, dataframe.DataFrame):
        return "frame"
    raise TypeError(
        f"{method} accepts a 2-D dask array or a dask DataFrame, got "
        f"{type(X).__name__}"
        + (f" with {X.ndim} dimension(s)" if isinstance(X, da.Array) else "")
        + "; reshape it, or call .compute() to pass in-memory data."
    )


# lazy methods ------------------------------------------------------------------


def _apply_to_block(block, method, empty):
    if block.shape[0] == 0:
        return empty
    return np.asarray(method(block), dtype=empty.dtype)


def _apply_to_partition(partition, method, empty):
    """``method(partition)`` as a pandas object with the dtypes of ``empty``.

    pandas converts the values itself, so that labels whose dtype numpy cannot
    express (pandas' ``str`` dtype for string labels) keep the declared dtype.
    """
    import pandas as pd

    if len(partition) == 0:
        return empty
    values = method(partition)
    if empty.ndim == 1:
        return pd.Series(
            values, index=partition.index, name=empty.name, dtype=empty.dtype
        )
    frame = pd.DataFrame(values, index=partition.index, columns=empty.columns)
    return frame.astype(empty.dtypes.iloc[0])


def _output_columns(estimator, method: str):
    if method == "transform":
        return list(estimator.get_feature_names_out())
    if method in ("predict_proba", "predict_log_proba", "decision_function"):
        classes = getattr(estimator, "classes_", None)
        return None if classes is None else list(classes)
    return None


def _probe(estimator, method: str, X, kind: str) -> np.ndarray:
    """The method's output on one row of zeros: its trailing shape and dtype.

    It also runs the estimator's own input checks (width, feature names) before
    any graph is built.
    """
    if kind == "frame":
        from dask.dataframe.utils import meta_nonempty

        row = meta_nonempty(X._meta).iloc[:1]
    else:
        row = np.zeros((1, X.shape[1]), dtype=X.dtype)
    return np.asarray(getattr(estimator, method)(row))


def _transform_output(estimator, X, kind: str) -> np.ndarray:
    """A 1-row stand-in for ``transform``'s output, without running the kernels."""
    n_features = X.shape[1]
    if n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    dtypes = list(X._meta.dtypes) if kind == "frame" else [X.dtype]
    dtype = np.float32 if all(d == np.float32 for d in dtypes) else np.float64
    return np.zeros((1, len(estimator.get_feature_names_out())), dtype=dtype)


def lazy_method(estimator, method: str, X, *, layout=None):
    """Return ``getattr(estimator, method)(X)`` as a lazy dask collection.

    The estimator's method is applied to every row block of ``X`` (a numpy block
    of a dask array, or a pandas partition of a dask DataFrame), so each block
    goes through the same chunked code as an in-memory call.

    Parameters
    ----------
    estimator : fitted estimator
        Its ``method`` must map ``n`` rows to ``n`` outputs.
    method : {"transform", "predict", "predict_proba", ...}
        The method to apply.
    X : dask.array.Array of shape (n_samples, n_features) or dask DataFrame
        The input. A dask array whose columns are split over several chunks is
        rechunked to one column chunk first.
    layout : SubspaceLayout, default=None
        Set as the ``layout`` attribute of a dask array output, as
        :class:`~sklearn_relrep.SubspaceArray` carries it, so that the next
        step of a pipeline finds the subspaces (a dask DataFrame output carries
        them in its column names).

    Returns
    -------
    dask.array.Array, dask DataFrame or dask Series
        For a dask array: a dask array with ``X``'s row chunks, of shape
        ``(n_samples,)`` or ``(n_samples, n_outputs)``. For a dask DataFrame:
        a dask DataFrame (2-D outputs; columns named by
        ``get_feature_names_out()`` for ``transform``, by ``classes_`` for
        ``predict_proba``) or a dask Series (1-D outputs), with ``X``'s index
        and partitions.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> from sklearn_relrep import RelativeProjector
    >>> X = np.random.RandomState(0).normal(size=(100, 8))
    >>> projector = RelativeProjector(n_anchors=5, random_state=0).fit(X)
    >>> lazy = projector.transform(da.from_array(X, chunks=(30, 4)))
    >>> lazy.chunks
    ((30, 30, 30, 10), (5,))
    >>> np.allclose(lazy.compute(), projector.transform(X))
    True
    """
    import dask.base

    kind = _dask_kind(X, method)
    if method == "transform":
        output = _transform_output(estimator, X, kind)
    else:
        output = _probe(estimator, method, X, kind)
    name = f"{type(estimator).__name__.lower()}-{method}-" + dask.base.tokenize(
        estimator, method, X
    )
    bound = getattr(estimator, method)
    if kind == "frame":
        import pandas as pd

        # pandas chooses the dtype of the template (string labels become its
        # ``str`` dtype under pandas 3), as it would for in-memory output.
        columns = _output_columns(estimator, method)
        if output.ndim == 1:
            meta = pd.Series(output[:0], name=None)
        else:
            meta = pd.DataFrame(
                output[:0],
                columns=columns if columns is not None else range(output.shape[1]),
            )
        return X.map_partitions(_apply_to_partition, bound, meta, meta=meta)
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    meta = output[:0]
    if output.ndim == 1:
        chunks, dropped = (X.chunks[0],), {"drop_axis": 1}
    else:
        chunks, dropped = (X.chunks[0], (output.shape[1],)), {}
    lazy = X.map_blocks(
        _apply_to_block,
        method=bound,
        empty=meta,
        meta=meta,
        name=name,
        chunks=chunks,
        dtype=meta.dtype,
        **dropped,
    )
    if layout is not None:
        lazy.layout = layout
    return lazy


def lazy_score(estimator, X, y, sample_weight=None) -> float:
    """The estimator's default score on dask data, as a computed float.

    Only the predictions (one value, or one row of ``n_outputs`` values, per
    sample), ``y`` and ``sample_weight`` are computed, in one pass; ``X`` and
    the intermediate representations stay distributed. The metric is the one of
    :meth:`sklearn.base.ClassifierMixin.score` (accuracy) or
    :meth:`sklearn.base.RegressorMixin.score` (R²).

    Parameters
    ----------
    estimator : fitted classifier or regressor
        Its ``predict`` accepts dask collections.
    X : dask array or dask DataFrame
        The samples.
    y : array-like or dask collection of shape (n_samples,) or (n_samples, n_outputs)
        True targets.
    sample_weight : array-like or dask collection of shape (n_samples,), default=None
        Sample weights.

    Returns
    -------
    float
        The score.
    """
    import dask
    from sklearn.metrics import accuracy_score, r2_score

    predictions = lazy_method(estimator, "predict", X)
    predictions, y, sample_weight = dask.compute(predictions, y, sample_weight)
    metric = accuracy_score if is_classifier(estimator) else r2_score
    return float(metric(y, predictions, sample_weight=sample_weight))


class DaskScoreMixin:
    """Give an estimator a ``score`` that accepts dask collections.

    Place it first in the bases, before :class:`~sklearn.base.ClassifierMixin`
    or :class:`~sklearn.base.RegressorMixin`, whose ``score`` it calls for
    in-memory data.
    """

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifiers) or R² (regressors) of ``self.predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), dask array or DataFrame
            Test samples. For dask collections only the predictions are
            computed, and the score is returned as a float.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets; a dask collection is computed.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        float
            The score, as scikit-learn's mixins define it.
        """
        if is_dask_collection(X):
            return lazy_score(self, X, y, sample_weight)
        # Predictions are numpy arrays; tensors ``y`` follow them (older
        # scikit-learn refuses to mix namespaces under array API dispatch).
        if sample_weight is not None:
            sample_weight = as_numpy(sample_weight)
        return super().score(X, as_numpy(y), sample_weight=sample_weight)


# tokens -------------------------------------------------------------------------


def _update(digest, value) -> None:
    """Feed ``value`` into ``digest``, hashing arrays by their bytes."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    elif isinstance(value, np.ndarray):
        digest.update(f"ndarray:{value.dtype.str}:{value.shape};".encode())
        if value.dtype.hasobject:
            _update(digest, value.tolist())
        else:
            digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.generic):
        _update(digest, value.item())
    elif isinstance(value, Mapping):
        digest.update(f"mapping:{len(value)};".encode())
        for key in sorted(value, key=repr):
            _update(digest, key)
            _update(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}:{len(value)};".encode())
        for item in value:
            _update(digest, item)
    elif isinstance(value, type):
        digest.update(f"class:{value.__module__}.{value.__qualname__};".encode())
    elif hasattr(value, "module_"):  # a fitted skorch net: its weights
        _update(digest, dict(value.module_.state_dict()))
    elif isinstance(value, BaseEstimator):
        digest.update(estimator_token(value).encode())
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        _update(digest, value.detach().cpu().numpy())
    elif hasattr(value, "state_dict"):  # a torch module
        _update(digest, dict(value.state_dict()))
    else:  # callables, devices, layouts...: dask's own normalisation
        import dask.base

        digest.update(f"{type(value).__qualname__}:".encode())
        digest.update(dask.base.tokenize(value).encode())


def _fitted_state(estimator) -> dict:
    get_state = getattr(estimator, "_get_state", None)
    if get_state is not None:
        try:
            return get_state()
        except NotFittedError:
            return {}
    return {k: v for k, v in vars(estimator).items() if k.endswith("_")}


def estimator_token(estimator) -> str:
    """A hash of an estimator's class, parameters and fitted state.

    dask calls it (through ``__dask_tokenize__``) to name the graphs that the
    estimator is part of. Arrays and network weights are hashed by their bytes;
    nothing is pickled. Two estimators with equal parameters and equal fitted
    state get the same token; refitting or changing a parameter changes it.

    Parameters
    ----------
    estimator : BaseEstimator
        Fitted or not.

    Returns
    -------
    str
        A hex digest.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep import RelativeProjector
    >>> X = np.random.RandomState(0).normal(size=(20, 3))
    >>> a = RelativeProjector(n_anchors=4, random_state=0).fit(X)
    >>> b = RelativeProjector(n_anchors=4, random_state=0).fit(X)
    >>> estimator_token(a) == estimator_token(b)
    True
    >>> estimator_token(a) == estimator_token(b.set_params(similarity="l1"))
    False
    """
    digest = hashlib.sha256()
    cls = type(estimator)
    digest.update(f"{cls.__module__}.{cls.__qualname__};".encode())
    _update(digest, estimator.get_params(deep=False))
    _update(digest, _fitted_state(estimator))
    return digest.hexdigest()
