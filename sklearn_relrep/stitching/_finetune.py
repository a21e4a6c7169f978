"""Fine-tuning a (stitched) model on a few labelled samples of the target space."""

from __future__ import annotations

import copy
from numbers import Integral, Real

from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import check_is_fitted

from .._compat import Interval, StrOptions, validate_params
from ._base import BaseStitchingEstimator
from ._callbacks import TrainOnly
from ._ensemble import StitchedEnsemble

__all__ = ["FINETUNE_PARTS", "finetune"]

# Which parts of StitchingNetwork each fine-tuning mode trains; the rest is frozen.
FINETUNE_PARTS = {
    "blender": ("blender",),
    "head": ("head",),
    "all": ("layer_norm", "blender", "head"),
}


@validate_params(
    {
        "train": [StrOptions(set(FINETUNE_PARTS))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither"), None],
    },
    prefer_skip_nested_validation=True,
)
def finetune(
    estimator,
    X,
    y,
    *,
    train: str = "blender",
    max_epochs: int = 10,
    lr: float | None = None,
):
    """Fine-tune a (stitched) model on a few labelled samples of the target space.

    Only the chosen part of the :class:`~sklearn_relrep.nn.StitchingNetwork` is
    trained; every other parameter stays bitwise unchanged. ``"blender"`` trains
    only the blender (with ``aggregation="attention"`` the query/key/value
    projections and their pre-norm, "QKV opt"; with ``"weighted"`` the
    subspace weights), ``"head"`` only the MLP head ("MLP
    opt"), ``"all"`` everything. It runs ``max_epochs`` calls of the stitcher's
    ``partial_fit`` with a :class:`~sklearn_relrep.stitching._callbacks.TrainOnly`
    callback, starting from a fresh optimizer, so that a model gives the same
    result whether it was just trained or saved and loaded. The targets are
    validated as :meth:`fit` validates them; ``class_weight="balanced"`` is
    counted on ``y``. The input estimator is left unchanged, also when the
    fine-tuning diverges (a :class:`ValueError` then says so).

    Parameters
    ----------
    estimator : StitchingClassifier, StitchingRegressor, Pipeline or \
            StitchedEnsemble
        A fitted stitching estimator, a fitted pipeline ending in one (the
        output of :func:`zero_shot_stitch` by any route: a translated pipeline
        is tuned behind its aligner), or an ensemble of such pipelines
        (``route="ensemble"``), whose members are each tuned on the same
        samples.
    X : array-like of shape (n_samples, n_features)
        Target-space samples (raw embeddings when ``estimator`` is a pipeline).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Their targets; classes must have been seen in training.
    train : {"blender", "head", "all"}, default="blender"
        Which part to train.
    max_epochs : int, default=10
        Fine-tuning epochs, at least 1.
    lr : float or None, default=None
        Learning rate; None means the stitcher's ``lr`` parameter, always
        (never the rate of an earlier fine-tuning).

    Returns
    -------
    estimator
        A fine-tuned copy of ``estimator``, with the same parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relrep import (InvariantProductSpace, StitchingClassifier,
    ...                             finetune)
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(
    ...     InvariantProductSpace(n_anchors=8, random_state=0),
    ...     StitchingClassifier(aggregation="attention", max_epochs=5,
    ...                         random_state=0)).fit(X, y)
    >>> tuned = finetune(model, X[::10], y[::10], train="blender", max_epochs=2)
    >>> tuned.predict(X).shape
    (150,)
    """
    if isinstance(max_epochs, bool):
        raise ValueError(f"max_epochs must be a positive int; got {max_epochs!r}.")
    if isinstance(estimator, StitchedEnsemble):
        return _finetune_members(estimator, X, y, train, max_epochs, lr)
    stitcher = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(stitcher, BaseStitchingEstimator):
        raise TypeError(
            "finetune needs a StitchingClassifier, a StitchingRegressor or a "
            f"Pipeline ending in one; got {type(stitcher).__name__}."
        )
    check_is_fitted(stitcher)
    parts = FINETUNE_PARTS[train]
    module = stitcher.net_.module_
    if not any(p.numel() for part in parts for p in getattr(module, part).parameters()):
        raise ValueError(
            f"aggregation_={stitcher.aggregation_!r} has no learnable blender; "
            "fine-tune train='head' or 'all' instead."
        )
    tuned = copy.deepcopy(estimator)
    stitcher = tuned[-1] if isinstance(tuned, Pipeline) else tuned
    if isinstance(tuned, Pipeline):
        X = tuned[:-1].transform(X)
    original = stitcher.get_params(deep=False)
    overrides = {
        "lr": stitcher.lr if lr is None else lr,
        "callbacks": [*(original["callbacks"] or []), TrainOnly(parts)],
    }
    sample_weight = None
    if isinstance(original.get("class_weight"), str):
        # partial_fit refuses "balanced" (one batch of a stream cannot tell the
        # class frequencies); every call here sees all of y, which can.
        overrides["class_weight"] = None
        sample_weight = compute_sample_weight(original["class_weight"], y)
    # set_params also tells partial_fit to start with a fresh optimizer.
    stitcher.set_params(**overrides)
    try:
        for _ in range(max_epochs):
            stitcher.partial_fit(X, y, sample_weight=sample_weight)
    finally:
        stitcher.set_params(**{name: original[name] for name in overrides})
    return tuned


def _finetune_members(ensemble, X, y, train, max_epochs, lr):
    """An ensemble of stitched routes, each member fine-tuned on the same samples."""
    check_is_fitted(ensemble)
    members = [
        (
            name,
            FrozenEstimator(
                finetune(
                    _unfrozen(member), X, y, train=train, max_epochs=max_epochs, lr=lr
                )
            ),
        )
        for (name, _), member in zip(
            ensemble.estimators, ensemble.estimators_, strict=True
        )
    ]
    return StitchedEnsemble(members, weights=ensemble.weights).fit(X, y)


def _unfrozen(member):
    return member.estimator if isinstance(member, FrozenEstimator) else member
