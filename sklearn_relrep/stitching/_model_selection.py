"""Model selection by zero-shot stitched score.

In-domain cross-validation picks the configuration that is most accurate on the
encoder it was trained on. Stitching needs something else: the configuration
whose trained model still works once re-anchored on *another* encoder. The
scorer below measures exactly that inside an ordinary
:class:`~sklearn.model_selection.GridSearchCV`.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import check_scoring
from sklearn.utils.validation import check_array

from .._backend import as_numpy
from ._routes import check_route, relative_step_index
from ._zero_shot import zero_shot_stitch

__all__ = ["StitchedScorer", "make_stitched_scorer"]


class StitchedScorer:
    """Score a fitted pipeline by its zero-shot stitched score on a second space.

    Use :func:`make_stitched_scorer` to build one; see there for the design.

    Parameters
    ----------
    X_source : ndarray of shape (n_samples, n_features_source)
        The training rows as the searched pipeline sees them (space A).
    X_target : ndarray of shape (n_samples, n_features_target)
        The same rows embedded by the other encoder (space B), in the same order.
    scoring : str, callable or None
        The metric, as :func:`sklearn.metrics.check_scoring` accepts it.
    route : str
        The stitching route, as :func:`zero_shot_stitch` takes it.
    """

    def __init__(self, X_source, X_target, scoring=None, route="reanchor"):
        self.X_source = X_source
        self.X_target = X_target
        self.scoring = scoring
        self.route = route
        self._row_index = None

    def __getstate__(self):  # the lookup table is rebuilt where it is needed
        return {**self.__dict__, "_row_index": None}

    def _lookup(self) -> dict:
        if self._row_index is None:
            keys = _row_keys(self.X_source)
            index: dict = {}
            for i, key in enumerate(keys):
                first = index.setdefault(key, i)
                if first != i and not np.array_equal(
                    self.X_target[first], self.X_target[i]
                ):
                    index[key] = -1  # equal in A, different in B: not parallel
            self._row_index = index
        return self._row_index

    def _rows(self, X, what: str) -> np.ndarray:
        lookup = self._lookup()
        rows = np.fromiter((lookup.get(key, -2) for key in _row_keys(X)), dtype=np.intp)
        if (rows == -2).any():
            raise ValueError(
                f"{int((rows == -2).sum())} of the {rows.size} rows of {what} are "
                "not rows of X_source. The stitched scorer finds each sample by its "
                "values: pass GridSearchCV the very X_source given to "
                "make_stitched_scorer, with the relative step first in the pipeline "
                "and its anchors drawn from X (or taken from X_source)."
            )
        if (rows == -1).any():
            raise ValueError(
                f"Some rows of {what} appear several times in X_source with "
                "different X_target rows, so X_source and X_target are not "
                "parallel embeddings of the same samples."
            )
        return rows

    def __call__(self, estimator, X, y, sample_weight=None) -> float:
        """The stitched score of a fitted pipeline on validation rows of space A.

        Parameters
        ----------
        estimator : Pipeline
            Fitted, with a relative step first (as :func:`zero_shot_stitch`
            requires).
        X : array-like of shape (n_samples, n_features_source)
            Validation rows, in space A, taken from ``X_source``.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Their targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed on to the metric.

        Returns
        -------
        float
            The score of the re-anchored pipeline on the same rows in space B.
        """
        index = relative_step_index(estimator)
        if index is None:
            raise ValueError(
                "The stitched scorer needs pipelines whose first step is a relative "
                "transformer: its anchors_ say which rows are the anchors."
            )
        relative = estimator.steps[index][1]
        anchors = self.X_target[self._rows(relative.anchors_, "the anchors_")]
        stitched = zero_shot_stitch(estimator, anchors, route=self.route)
        X_target = self.X_target[self._rows(X, "X")]
        scorer = check_scoring(stitched, scoring=self.scoring)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        return scorer(stitched, X_target, y, **kwargs)

    def __repr__(self) -> str:
        return (
            f"make_stitched_scorer(<{self.X_source.shape[0]} rows>, "
            f"scoring={self.scoring!r}, route={self.route!r})"
        )


def _row_keys(X) -> list[bytes]:
    rows = np.ascontiguousarray(check_array(as_numpy(X), dtype=np.float64, copy=False))
    return [row.tobytes() for row in rows]


def make_stitched_scorer(
    X_source, X_target, *, scoring=None, route: str = "reanchor"
) -> StitchedScorer:
    """A scorer that rates a pipeline by how well it stitches to another encoder.

    Pass it as ``scoring=`` to :class:`~sklearn.model_selection.GridSearchCV`
    (or ``cross_validate``) to pick the configuration that stitches best rather
    than the one that is best in its own space. For each fitted candidate and
    validation fold the scorer

    1. stitches the candidate with :func:`~sklearn_relrep.zero_shot_stitch`
       (by ``route``: re-anchoring by default), using space B's embeddings of
       the candidate's own anchors, and
    2. scores the stitched pipeline on space B's embeddings of the fold's
       validation rows.

    **How rows are matched.** A scikit-learn scorer only sees the fitted
    estimator and the validation rows, not their positions in the full data,
    and inside a fold the candidate's ``anchor_indices_`` count the fold's
    training rows, not the full set's. So the scorer finds every row (the
    validation rows and the fitted ``anchors_``) *by its values* in
    ``X_source`` and takes the same row of ``X_target``. This works with plain
    ``GridSearchCV``, any CV splitter, ``n_jobs`` and metadata routing, with no
    index column or custom splitter. It needs that ``X_source`` is the very
    array passed to ``fit``, that the relative step is the first step (its
    ``anchors_`` are then rows of ``X``), and that equal rows of ``X_source``
    stand for equal inputs; a row that cannot be matched raises a
    ``ValueError``.

    Parameters
    ----------
    X_source : array-like of shape (n_samples, n_features_source)
        The training data as given to the search's ``fit`` (space A).
    X_target : array-like of shape (n_samples, n_features_target)
        The same samples embedded by the other encoder (space B), row ``i``
        standing for the same input as row ``i`` of ``X_source``.
    scoring : str, callable or None, default=None
        The metric of the stitched pipeline, as
        :func:`sklearn.metrics.check_scoring` accepts it; ``None`` uses the
        pipeline's ``score`` (accuracy for classifiers, R² for regressors).
    route : {"reanchor", "translate", "ensemble", "auto"}, default="reanchor"
        The stitching route each candidate is scored by. The default rates the
        relative representation itself; ``"auto"`` rates what
        :func:`~sklearn_relrep.zero_shot_stitch` would deliver by default.

    Returns
    -------
    StitchedScorer
        A callable ``scorer(estimator, X, y, sample_weight=None)``.

    See Also
    --------
    zero_shot_stitch : The re-anchoring each candidate goes through.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relrep import RelativeProjector, make_stitched_scorer
    >>> X_a, y = load_iris(return_X_y=True)
    >>> X_b = (5.0 - X_a * [1, -1, 1, -1])[:, ::-1]  # flipped, moved, permuted
    >>> search = GridSearchCV(
    ...     make_pipeline(RelativeProjector(n_anchors=20, random_state=0),
    ...                   LogisticRegression(max_iter=1000)),
    ...     {"relativeprojector__similarity": ["cosine", "l1"]},
    ...     scoring=make_stitched_scorer(X_a, X_b),
    ... ).fit(X_a, y)
    >>> search.best_params_
    {'relativeprojector__similarity': 'l1'}
    """
    X_source = check_array(as_numpy(X_source), dtype=None, input_name="X_source")
    X_target = check_array(as_numpy(X_target), dtype=None, input_name="X_target")
    if X_source.shape[0] != X_target.shape[0]:
        raise ValueError(
            f"X_source has {X_source.shape[0]} rows but X_target has "
            f"{X_target.shape[0]}; they must embed the same samples, in the same "
            "order."
        )
    check_route(route)
    return StitchedScorer(X_source, X_target, scoring=scoring, route=route)
