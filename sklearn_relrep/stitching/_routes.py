"""Stitching routes: the ways a model fitted on space A comes to read space B.

Every route needs the same inputs, parallel anchors embedded by both encoders:

- ``"reanchor"``: the relative step is re-anchored on B's anchors and every
  later step is reused (relative pipelines only);
- ``"translate"``: a map from B's anchors onto A's is fitted and put in front
  of the unchanged pipeline (any pipeline, relative or absolute);
- ``"ensemble"``: the average of the two (relative pipelines only);
- ``"auto"``: the route that predicts best on held-out anchors
  (:func:`select_route`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import KFold
from sklearn.pipeline import Pipeline

from ._alignment import LinearAligner
from ._ensemble import StitchedEnsemble

__all__ = [
    "ROUTES",
    "check_route",
    "RouteSelection",
    "reanchor",
    "relative_step_index",
    "select_route",
    "stitch_by_route",
]

ROUTES = ("auto", "reanchor", "translate", "ensemble")
# In this order a tie goes to the simpler route.
_CANDIDATES = ("reanchor", "translate", "ensemble")
_TRANSLATE_STEP = "translate"


def check_route(route) -> None:
    """Refuse a route that is not one of ``ROUTES``, before any work."""
    if route not in ROUTES:
        raise ValueError(f"route must be one of {ROUTES}; got {route!r}.")


def relative_step_index(pipeline: Pipeline) -> int | None:
    """Index of the pipeline's relative step, which must come first; None if none."""
    for index, (name, step) in enumerate(pipeline.steps):
        if hasattr(step, "reanchor"):
            if index:
                raise ValueError(
                    f"The relative step {name!r} must be the first step: steps "
                    "before it were fitted on the training space and cannot be "
                    "carried to another encoder."
                )
            return index
    return None


def reanchor(estimator: Pipeline, anchors) -> Pipeline:
    """The pipeline with its relative step re-anchored on ``anchors``."""
    index = relative_step_index(estimator)
    if index is None:
        raise ValueError(
            "route='reanchor' needs a pipeline whose first step is a relative "
            "transformer (an estimator with a `reanchor` method such as "
            "RelativeProjector or InvariantProductSpace); for an absolute pipeline "
            "use route='translate' with anchors_A=."
        )
    steps = [(name, copy.deepcopy(step)) for name, step in estimator.steps]
    name, relative = estimator.steps[index]
    steps[index] = (name, relative.reanchor(anchors))
    return Pipeline(steps, memory=estimator.memory, verbose=estimator.verbose)


def _source_anchors(estimator: Pipeline, anchors, anchors_A):
    """A's embeddings of the anchors: given, or the relative step's ``anchors_``."""
    if anchors_A is None:
        index = relative_step_index(estimator)
        if index is None:
            raise ValueError(
                "Translating into an absolute pipeline's space needs that space's "
                "anchors: pass anchors_A=, encoder A's embeddings of the same "
                "anchor samples, row for row."
            )
        anchors_A = estimator.steps[index][1].anchors_
    n_source, n_target = len(anchors_A), len(anchors)
    if n_source != n_target:
        raise ValueError(
            f"anchors has {n_target} rows but anchors_A has {n_source}; parallel "
            "anchors are the same samples embedded by each encoder, row for row."
        )
    return anchors_A


def _new_aligner(aligner):
    """An unfitted copy of the user's aligner, or the default translation map."""
    return clone(aligner) if aligner is not None else LinearAligner(alpha="auto")


def _source_rows(rows, source: Pipeline):
    """``rows`` of space A as the source pipeline reads them.

    A pipeline fitted on named columns gets a DataFrame with those names, so
    that it reads A's anchors (stored as an array) without a feature-name
    warning.
    """
    names = getattr(source[0], "feature_names_in_", None)
    if names is None:
        return rows
    import pandas as pd  # a source fitted on named columns was fitted on a DataFrame

    return pd.DataFrame(np.asarray(rows), columns=names)


def _fitted_aligner(aligner, anchors, anchors_A, source: Pipeline):
    """The translation map from B's anchors onto A's, fitted; its output is
    named like the source's input features when those have names."""
    target = _source_rows(anchors_A, source)
    fitted = _new_aligner(aligner).fit(anchors, target)
    return fitted.set_output(transform="pandas") if target is not anchors_A else fitted


def _translate(estimator: Pipeline, anchors, anchors_A, aligner) -> Pipeline:
    aligner = _fitted_aligner(aligner, anchors, anchors_A, estimator)
    if _TRANSLATE_STEP in estimator.named_steps:
        raise ValueError(
            f"The pipeline already has a step named {_TRANSLATE_STEP!r}; rename it "
            "before translating."
        )
    steps = [(name, copy.deepcopy(step)) for name, step in estimator.steps]
    return Pipeline(
        [(_TRANSLATE_STEP, aligner), *steps],
        memory=estimator.memory,
        verbose=estimator.verbose,
    )


def _ensemble(reanchored: Pipeline, translated: Pipeline, anchors, targets):
    members = [
        ("reanchor", FrozenEstimator(reanchored)),
        ("translate", FrozenEstimator(translated)),
    ]
    # Frozen members are kept as they are: fit only checks that they agree.
    return StitchedEnsemble(members).fit(anchors, targets)


def stitch_by_route(
    estimator: Pipeline, anchors, route: str, *, anchors_A=None, aligner=None
):
    """``estimator`` made to read B's space by one explicit route (not "auto")."""
    if route == "reanchor":
        return reanchor(estimator, anchors)
    anchors_A = _source_anchors(estimator, anchors, anchors_A)
    translated = _translate(estimator, anchors, anchors_A, aligner)
    if route == "translate":
        return translated
    reanchored = reanchor(estimator, anchors)
    targets = estimator.predict(_source_rows(anchors_A, estimator))
    return _ensemble(reanchored, translated, anchors, targets)


@dataclass(frozen=True)
class RouteSelection:
    """What :func:`select_route` measured, and the route it chose.

    Attributes
    ----------
    route : str
        The chosen route.
    scores : dict of str to float
        Each candidate route's held-out score: accuracy for classifiers, minus
        the mean squared error for regressors (higher is better).
    criterion : str
        ``"anchor targets"`` when ``anchor_targets`` were given, else
        ``"source predictions"``: the source model's own predictions on A's
        anchors stand in for labels.
    n_splits : int
        Number of folds the anchors were split into: ``cv``, or the number of
        anchors when there are fewer.
    log_likelihoods : dict of str to float
        Mean log-probability of the target class per route (classifiers only;
        reported, not used to choose).
    """

    route: str
    scores: dict
    criterion: str
    n_splits: int
    log_likelihoods: dict = field(default_factory=dict)


def _held_out_predictions(estimator, anchors, anchors_A, aligner, n_splits):
    """Each candidate's predictions on anchors it did not fit on.

    The translation is refitted without each fold's anchors. In a relative
    pipeline every anchor is also a column of the features, and an anchor
    matches itself exactly (cosine 1, distance 0) as no other sample does: its
    own column is replaced by that column's mean over the other anchors, so that
    held-out anchors are scored like ordinary samples by every route.
    """
    predict = "predict_proba" if is_classifier(estimator) else "predict"
    index = relative_step_index(estimator)
    if index is None:
        steps, relative = estimator, None
    else:
        relative, steps = estimator[0], estimator[1:]
    splits = list(KFold(n_splits).split(anchors))
    translated = []
    for kept, held_out in splits:
        mapped = _fitted_aligner(
            aligner, anchors[kept], anchors_A[kept], estimator
        ).transform(anchors[held_out])
        translated.append(relative.transform(mapped) if relative else mapped)
    order = np.argsort(np.concatenate([held_out for _, held_out in splits]))
    features = {"translate": np.concatenate(translated)[order]}
    if relative is not None:
        features["reanchor"] = relative.reanchor(anchors).transform(anchors)
        features = {
            r: _without_self_matches(f, len(anchors)) for r, f in features.items()
        }
    candidates = {
        route: np.asarray(getattr(steps, predict)(values), dtype=np.float64)
        for route, values in features.items()
    }
    if relative is not None:
        candidates["ensemble"] = (candidates["reanchor"] + candidates["translate"]) / 2
    return candidates


def _without_self_matches(features, n_anchors: int):
    """Relative features of the anchors themselves, each one's own column imputed.

    Row ``i`` is anchor ``i``; in every block of ``n_anchors`` columns (one per
    similarity), column ``i`` of that row becomes the mean of column ``i`` over
    the other rows.
    """
    features = features.copy()
    if features.shape[1] % n_anchors:
        return features
    rows = np.arange(n_anchors)
    for start in range(0, features.shape[1], n_anchors):
        block = np.asarray(features[:, start : start + n_anchors])
        others = (block.sum(axis=0) - block[rows, rows]) / max(n_anchors - 1, 1)
        features[rows, start + rows] = others
    return features


def select_route(
    estimator: Pipeline,
    anchors,
    *,
    anchors_A=None,
    anchor_targets=None,
    aligner=None,
    cv: int = 5,
) -> RouteSelection:
    """Choose a stitching route by how each predicts held-out anchors of space B.

    The anchors are split into ``cv`` contiguous folds (anchors drawn at random
    are in random order). For each fold the translation is fitted on the other
    anchors and predicts the fold's B embeddings; the re-anchored model predicts
    them too, and the ensemble averages the two. Each route is scored against
    ``anchor_targets`` when given (anchors drawn from the training rows have
    known labels: ``y[relative.anchor_indices_]``), otherwise against the
    source model's own predictions on A's anchors, which needs no label. The
    best score wins; ties go to the simpler route (re-anchor, then translate).

    Parameters
    ----------
    estimator : Pipeline
        A fitted pipeline on space A (relative or absolute).
    anchors : array-like of shape (n_anchors, n_features_B)
        B's embeddings of the anchors.
    anchors_A : array-like of shape (n_anchors, n_features_A), default=None
        A's embeddings of the same anchors; defaults to the relative step's
        ``anchors_``.
    anchor_targets : array-like of shape (n_anchors,) or (n_anchors, n_targets), \
            default=None
        The anchors' true targets, if known.
    aligner : estimator, default=None
        The translation map, fitted as ``aligner.fit(anchors_B, anchors_A)``;
        ``None`` means ``LinearAligner(alpha="auto")``.
    cv : int, default=5
        Number of folds; with fewer anchors than ``cv``, each anchor is held
        out on its own (leave-one-out).

    Returns
    -------
    RouteSelection
        The chosen route and every candidate's score.

    Examples
    --------
    >>> from scipy.stats import ortho_group
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relrep import RelativeProjector, select_route
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(RelativeProjector(n_anchors=30, random_state=0),
    ...                       LogisticRegression(max_iter=500)).fit(X, y)
    >>> Q = ortho_group.rvs(4, random_state=0)
    >>> selection = select_route(model, model[0].anchors_ @ Q)
    >>> sorted(selection.scores)
    ['ensemble', 'reanchor', 'translate']
    """
    anchors = np.asarray(anchors)
    anchors_A = np.asarray(_source_anchors(estimator, anchors, anchors_A))
    if not isinstance(cv, int) or isinstance(cv, bool) or cv < 2:
        raise ValueError(f"cv must be an int of at least 2; got {cv!r}.")
    if len(anchors) < 2:
        raise ValueError(
            f"Choosing a route holds anchors out, which needs at least 2 anchors; "
            f"got {len(anchors)}. Pass an explicit route."
        )
    n_splits = min(cv, len(anchors))
    if anchor_targets is None:
        targets = estimator.predict(_source_rows(anchors_A, estimator))
        criterion = "source predictions"
    else:
        targets, criterion = np.asarray(anchor_targets), "anchor targets"
        if len(targets) != len(anchors):
            raise ValueError(
                f"anchor_targets has {len(targets)} rows for {len(anchors)} anchors."
            )
    candidates = _held_out_predictions(estimator, anchors, anchors_A, aligner, n_splits)
    if is_classifier(estimator):
        scores, log_likelihoods = _classification_scores(
            candidates, targets, estimator.classes_
        )
    else:
        targets = targets.reshape(len(anchors), -1)
        scores = {
            route: -float(np.mean((values.reshape(targets.shape) - targets) ** 2))
            for route, values in candidates.items()
        }
        log_likelihoods = {}
    best = max(_CANDIDATES, key=lambda route: scores.get(route, -np.inf))
    return RouteSelection(best, scores, criterion, n_splits, log_likelihoods)


def _classification_scores(candidates, targets, classes):
    unknown = np.setdiff1d(targets, classes)
    if unknown.size:
        raise ValueError(
            f"anchor_targets holds classes the model never saw: {unknown.tolist()}."
        )
    columns = np.searchsorted(classes, targets)
    scores, log_likelihoods = {}, {}
    for route, probabilities in candidates.items():
        scores[route] = float(np.mean(classes[probabilities.argmax(1)] == targets))
        chosen = probabilities[np.arange(len(targets)), columns]
        log_likelihoods[route] = float(np.mean(np.log(np.clip(chosen, 1e-12, 1))))
    return scores, log_likelihoods
