"""Fine-tuning a (stitched) model on a few labelled samples of the target space."""

from __future__ import annotations

import copy

from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._stitching_base import FINETUNE_PARTS, BaseStitchingEstimator

__all__ = ["finetune"]


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
    only the attention's query/key/value projections with
    ``aggregation="attention"`` ("QKV opt"), ``"head"`` only the MLP head ("MLP
    opt"), ``"all"`` everything. The input estimator is left unchanged.

    Parameters
    ----------
    estimator : StitchingClassifier, StitchingRegressor or Pipeline
        A fitted stitching estimator, or a fitted pipeline ending in one (for
        example the output of :func:`zero_shot_stitch`).
    X : array-like of shape (n_samples, n_features)
        Target-space samples (raw embeddings when ``estimator`` is a pipeline).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Their targets; classes must have been seen in training.
    train : {"blender", "head", "all"}, default="blender"
        Which part to train.
    max_epochs : int, default=10
        Fine-tuning epochs.
    lr : float or None, default=None
        Learning rate; the estimator's ``lr`` when None.

    Returns
    -------
    estimator
        A fine-tuned copy of ``estimator``.

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
    if train not in FINETUNE_PARTS:
        raise ValueError(f"train={train!r} is not one of {sorted(FINETUNE_PARTS)}.")
    tuned = copy.deepcopy(estimator)
    stitcher = tuned[-1] if isinstance(tuned, Pipeline) else tuned
    if not isinstance(stitcher, BaseStitchingEstimator):
        raise TypeError(
            "finetune needs a StitchingClassifier, a StitchingRegressor or a "
            f"Pipeline ending in one; got {type(stitcher).__name__}."
        )
    check_is_fitted(stitcher)
    if isinstance(tuned, Pipeline):
        X = tuned[:-1].transform(X)
    stitcher._finetune(X, y, train=train, max_epochs=max_epochs, lr=lr)
    return tuned
