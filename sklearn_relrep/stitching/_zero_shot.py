"""Zero-shot stitching and the full stitching matrix."""

from __future__ import annotations

import copy
from collections.abc import Mapping

from joblib import Parallel, delayed
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

__all__ = ["stitching_matrix", "zero_shot_stitch"]


def _relative_step_index(pipeline: Pipeline) -> int:
    for index, (_, step) in enumerate(pipeline.steps):
        if hasattr(step, "reanchor"):
            if index:
                raise ValueError(
                    f"The relative step {pipeline.steps[index][0]!r} must be the "
                    "first step: steps before it were fitted on the training space "
                    "and cannot be carried to another encoder."
                )
            return index
    raise ValueError(
        "The pipeline has no relative step (an estimator with a `reanchor` method "
        "such as RelativeProjector or InvariantProductSpace); absolute "
        "representations cannot be stitched."
    )


def zero_shot_stitch(estimator: Pipeline, anchors) -> Pipeline:
    """Make a pipeline trained on space A predict from encoder B, training nothing.

    The relative step is re-anchored on ``anchors``, B's embeddings of the same
    anchor samples; every later step (blender, head) is reused as it is. The
    original pipeline is left unchanged and still works on space A.

    Parameters
    ----------
    estimator : Pipeline
        A fitted pipeline whose first step is a relative transformer
        (:class:`~sklearn_relrep.RelativeProjector` or
        :class:`~sklearn_relrep.InvariantProductSpace`).
    anchors : array-like of shape (n_anchors, n_features_B)
        The parallel anchors embedded by encoder B, in the order of the fitted
        ``anchors_``. ``n_features_B`` may differ from A's width.

    Returns
    -------
    Pipeline
        A fitted pipeline that takes B's embeddings.

    Raises
    ------
    ValueError
        If the pipeline has no leading relative step, or the number of anchors
        differs from the fitted one.

    See Also
    --------
    stitching_matrix : Every train space against every test space.
    finetune : Adjust the stitched model with a few labelled target samples.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relrep import RelativeProjector, zero_shot_stitch
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(RelativeProjector(n_anchors=20, random_state=0),
    ...                       LogisticRegression()).fit(X, y)
    >>> Q = ortho_group.rvs(4, random_state=0)
    >>> stitched = zero_shot_stitch(model, model[0].anchors_ @ Q)
    >>> bool((stitched.predict(X @ Q) == model.predict(X)).all())
    True
    """
    if not isinstance(estimator, Pipeline):
        raise TypeError(
            f"zero_shot_stitch expects a fitted Pipeline, got {type(estimator)!r}."
        )
    check_is_fitted(estimator)
    index = _relative_step_index(estimator)
    steps = [(name, copy.deepcopy(step)) for name, step in estimator.steps]
    name, relative = estimator.steps[index]
    steps[index] = (name, relative.reanchor(anchors))
    return Pipeline(steps, memory=estimator.memory, verbose=estimator.verbose)


def _scores(estimator, X, y) -> dict:
    predictions = estimator.predict(X)
    if is_classifier(estimator):
        return {
            "accuracy": accuracy_score(y, predictions),
            "macro_f1": f1_score(y, predictions, average="macro"),
        }
    return {"mse": mean_squared_error(y, predictions)}


def _score_pair(train_space, test_space, estimator, anchors, X, y) -> dict:
    if train_space == test_space or anchors is None:
        model = estimator
    else:
        model = zero_shot_stitch(estimator, anchors[test_space])
    return {
        "train_space": train_space,
        "test_space": test_space,
        **_scores(model, X, y),
    }


def stitching_matrix(
    estimators: Mapping[str, Pipeline],
    anchors: Mapping[str, object] | None,
    X_test: Mapping[str, object],
    y_test,
    *,
    n_jobs: int | None = None,
):
    """Evaluate every train space's model on every test space by zero-shot stitching.

    Parameters
    ----------
    estimators : mapping of str to Pipeline
        Fitted pipelines, one per training space, keyed by space name.
    anchors : mapping of str to array-like, or None
        The same anchor samples embedded in each space, each of shape
        (n_anchors, n_features_space). None applies each model to every test
        space as it is, without stitching: the baseline of a model on absolute
        embeddings, for spaces of one width.
    X_test : mapping of str to array-like of shape (n_samples, n_features_space)
        The same test samples embedded in each space.
    y_test : array-like of shape (n_samples,) or (n_samples, n_targets)
        Their targets.
    n_jobs : int or None, default=None
        Number of (train space, test space) pairs evaluated in parallel, through
        :class:`joblib.Parallel`: ``None`` means 1 unless in a
        :func:`joblib.parallel_backend` context (dask, ray or spark backends
        apply unchanged), ``-1`` means all processors. The result does not
        depend on it.

    Returns
    -------
    pandas.DataFrame or list of dict
        One row per (train_space, test_space), with ``accuracy`` and
        ``macro_f1`` for classifiers, ``mse`` for regressors. A DataFrame when
        pandas is installed. The diagonal is the model on its own space.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relrep import RelativeProjector, stitching_matrix
    >>> X, y = load_iris(return_X_y=True)
    >>> spaces = {"a": X, "b": 3 * X[:, ::-1]}
    >>> rows = np.random.RandomState(0).choice(len(X), 20, replace=False)
    >>> models = {s: make_pipeline(RelativeProjector(anchors=Z[rows]),
    ...                            LogisticRegression()).fit(Z, y)
    ...           for s, Z in spaces.items()}
    >>> table = stitching_matrix(models, {s: Z[rows] for s, Z in spaces.items()},
    ...                          spaces, y)
    >>> table[["train_space", "test_space"]].values.tolist()
    [['a', 'a'], ['a', 'b'], ['b', 'a'], ['b', 'b']]
    """
    if anchors is not None:
        missing = (set(estimators) | set(X_test)) - set(anchors)
        if missing:
            raise ValueError(f"No anchors given for spaces {sorted(missing)}.")
    records = Parallel(n_jobs=n_jobs)(
        delayed(_score_pair)(train_space, test_space, estimator, anchors, X, y_test)
        for train_space, estimator in estimators.items()
        for test_space, X in X_test.items()
    )
    try:
        import pandas as pd
    except ImportError:
        return records
    return pd.DataFrame.from_records(records)
