"""Zero-shot stitching and the full stitching matrix."""

from __future__ import annotations

from collections.abc import Mapping

from joblib import Parallel, delayed
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._routes import (
    check_route,
    relative_step_index,
    select_route,
    stitch_by_route,
)

__all__ = ["stitching_matrix", "zero_shot_stitch"]


def zero_shot_stitch(
    estimator: Pipeline,
    anchors,
    *,
    route: str = "auto",
    anchors_A=None,
    anchor_targets=None,
    aligner=None,
    cv: int = 5,
):
    """Make a pipeline trained on space A predict from encoder B, training nothing.

    ``anchors`` are B's embeddings of the same anchor samples that A's model
    knows (its relative step's ``anchors_``, or ``anchors_A``). The route says
    how they are used:

    - ``"reanchor"``: the relative step is re-anchored on ``anchors``; every
      later step (blender, head) is reused as it is.
    - ``"translate"``: an aligner fitted from B's anchors onto A's
      (``LinearAligner(alpha="auto")`` unless ``aligner`` says otherwise) is put
      in front of the unchanged pipeline, under the step name ``"translate"``;
      any fitted pipeline stitches this way, relative or absolute.
    - ``"ensemble"``: a :class:`~sklearn_relrep.StitchedEnsemble` averaging the
      two routes' probabilities (classifiers) or predictions (regressors).
    - ``"auto"``: the route chosen by :func:`~sklearn_relrep.select_route`,
      which scores each on held-out anchors; ``"translate"`` for an absolute
      pipeline, the only route it has.

    The original pipeline is left unchanged and still works on space A.

    Parameters
    ----------
    estimator : Pipeline
        A fitted pipeline on space A. For ``"reanchor"`` and ``"ensemble"`` its
        first step is a relative transformer
        (:class:`~sklearn_relrep.RelativeProjector` or
        :class:`~sklearn_relrep.InvariantProductSpace`).
    anchors : array-like of shape (n_anchors, n_features_B)
        The parallel anchors embedded by encoder B, in the order of A's anchors.
        ``n_features_B`` may differ from A's width.
    route : {"auto", "reanchor", "translate", "ensemble"}, default="auto"
        How B's space reaches the model.
    anchors_A : array-like of shape (n_anchors, n_features_A), default=None
        A's embeddings of the same anchors, needed to translate into an absolute
        pipeline; a relative pipeline's default is its relative step's
        ``anchors_``.
    anchor_targets : array-like of shape (n_anchors,) or (n_anchors, n_targets), \
            default=None
        The anchors' true targets, for ``"auto"``; without them, the route is
        scored against the model's own predictions on A's anchors.
    aligner : estimator, default=None
        The translation map, a transformer fitted as
        ``aligner.fit(anchors, anchors_A)``; ``None`` means
        ``LinearAligner(alpha="auto")``.
    cv : int, default=5
        Folds of anchors that ``"auto"`` holds out in turn.

    Returns
    -------
    Pipeline or StitchedEnsemble
        A fitted model that takes B's embeddings.

    Raises
    ------
    ValueError
        If the route needs a relative step the pipeline lacks, the anchors of
        the two spaces differ in number, or ``route`` is unknown.

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
    >>> stitched = zero_shot_stitch(model, model[0].anchors_ @ Q, route="reanchor")
    >>> bool((stitched.predict(X @ Q) == model.predict(X)).all())
    True
    """
    if not isinstance(estimator, Pipeline):
        raise TypeError(
            f"zero_shot_stitch expects a fitted Pipeline, got {type(estimator)!r}."
        )
    check_route(route)
    check_is_fitted(estimator)
    if route == "auto":
        if relative_step_index(estimator) is None:
            route = "translate"
        else:
            route = select_route(
                estimator,
                anchors,
                anchors_A=anchors_A,
                anchor_targets=anchor_targets,
                aligner=aligner,
                cv=cv,
            ).route
    return stitch_by_route(
        estimator, anchors, route, anchors_A=anchors_A, aligner=aligner
    )


def _scores(estimator, X, y) -> dict:
    predictions = estimator.predict(X)
    if is_classifier(estimator):
        return {
            "accuracy": accuracy_score(y, predictions),
            "macro_f1": f1_score(y, predictions, average="macro"),
        }
    return {"mse": mean_squared_error(y, predictions)}


def _score_pair(train_space, test_space, estimator, anchors, X, y, stitch) -> dict:
    if train_space == test_space or anchors is None:
        model = estimator
    else:
        model = zero_shot_stitch(
            estimator, anchors[test_space], anchors_A=anchors[train_space], **stitch
        )
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
    route: str = "auto",
    anchor_targets=None,
    aligner=None,
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
    route : {"auto", "reanchor", "translate", "ensemble"}, default="auto"
        The stitching route of every off-diagonal cell, as
        :func:`zero_shot_stitch` takes it (the train space's entry of
        ``anchors`` is its ``anchors_A``).
    anchor_targets : array-like of shape (n_anchors,) or (n_anchors, n_targets), \
            default=None
        The anchors' true targets, for ``route="auto"`` (see
        :func:`zero_shot_stitch`).
    aligner : estimator, default=None
        The translation map of the ``"translate"`` and ``"ensemble"`` routes;
        ``None`` means ``LinearAligner(alpha="auto")``.
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
    check_route(route)
    if anchors is not None:
        missing = (set(estimators) | set(X_test)) - set(anchors)
        if missing:
            raise ValueError(f"No anchors given for spaces {sorted(missing)}.")
    stitch = dict(route=route, anchor_targets=anchor_targets, aligner=aligner)
    records = Parallel(n_jobs=n_jobs)(
        delayed(_score_pair)(
            train_space, test_space, estimator, anchors, X, y_test, stitch
        )
        for train_space, estimator in estimators.items()
        for test_space, X in X_test.items()
    )
    try:
        import pandas as pd
    except ImportError:
        return records
    return pd.DataFrame.from_records(records)
