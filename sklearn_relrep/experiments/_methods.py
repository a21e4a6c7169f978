"""The representations compared by every experiment, as unfitted pipelines."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from .. import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
)

__all__ = ["Method", "default_methods", "head_params"]

SINGLE_SIMILARITIES = ("cosine", "euclidean", "l1", "linf")
PRODUCT_AGGREGATIONS = ("concat", "weighted", "attention")


@dataclass(frozen=True)
class Method:
    """One row of the result tables: how embeddings become the head's input.

    Parameters
    ----------
    name : str
        The row label, e.g. ``"cosine"`` or ``"product/attention"``.
    similarities : tuple of str or None
        ``None`` for the absolute baseline (no relative step), one name for a
        single relative projection, several for a product space.
    aggregation : str
        The stitcher's aggregation of the subspaces (``"auto"``: the
        estimator's default).
    learner : {"stitch", "logreg"}
        A stitching estimator, or a plain ``LogisticRegression`` (the baseline:
        the product space's default output scaling standardises each subspace
        with its own anchors' statistics).
    preprocessing : str or None
        Preprocessing of a single projection (``None`` is the reference
        behaviour); a product space always uses its defaults.
    """

    name: str
    similarities: tuple[str, ...] | None
    aggregation: str = "auto"
    learner: str = "stitch"
    preprocessing: str | None = None

    @property
    def is_relative(self) -> bool:
        return self.similarities is not None

    @property
    def is_single(self) -> bool:
        return self.is_relative and len(self.similarities) == 1

    def build(self, *, task: str, n_anchors: int, seed: int, device: str, head: dict):
        """An unfitted pipeline: relative step (if any), then a learner."""
        if self.learner == "logreg":
            if task != "classification":
                raise ValueError(f"{self.name}: logistic regression classifies only.")
            learner = LogisticRegression(max_iter=3000)
        else:
            estimator_class = (
                StitchingClassifier if task == "classification" else StitchingRegressor
            )
            learner = estimator_class(
                aggregation=self.aggregation, random_state=seed, device=device, **head
            )
        if not self.is_relative:
            return Pipeline([("stitcher", learner)])
        relative = self.relative_step(n_anchors=n_anchors, seed=seed, device=device)
        return Pipeline([("relative", relative), ("stitcher", learner)])

    def relative_step(self, *, n_anchors: int, seed: int, device: str):
        """The unfitted relative transformer of a relative method."""
        common = dict(n_anchors=n_anchors, random_state=seed, device=device)
        if self.is_single:
            return RelativeProjector(
                self.similarities[0], preprocessing=self.preprocessing, **common
            )
        return InvariantProductSpace(self.similarities, **common)


def single_methods() -> list[Method]:
    """Each similarity alone (reference settings), plus the centred cosine."""
    return [
        Method("cosine", ("cosine",)),
        Method("cosine/center", ("cosine",), preprocessing="center"),
        *(Method(s, (s,)) for s in SINGLE_SIMILARITIES[1:]),
    ]


def default_methods(
    aggregations=PRODUCT_AGGREGATIONS, *, logistic_baseline: bool = True
) -> list[Method]:
    """Absolute baseline, the singles, the product with each aggregation.

    With ``logistic_baseline`` the last row is ``product/logreg``: a plain
    logistic regression on the product space's features.
    """
    methods = [
        Method("absolute", None),
        *single_methods(),
        *(Method(f"product/{a}", SINGLE_SIMILARITIES, a) for a in aggregations),
    ]
    if logistic_baseline:
        methods.append(Method("product/logreg", SINGLE_SIMILARITIES, learner="logreg"))
    return methods


def head_params(settings) -> dict:
    """Stitcher parameters of a size preset; ``max_epochs=None`` keeps the default."""
    if getattr(settings, "max_epochs", None) is None:
        return {}
    return dict(max_epochs=settings.max_epochs)
