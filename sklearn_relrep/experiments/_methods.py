"""The representations compared by every experiment, as unfitted pipelines."""

from __future__ import annotations

from dataclasses import dataclass

from sklearn.pipeline import Pipeline

from .._relative import InvariantProductSpace, RelativeProjector
from .._stitching import StitchingClassifier, StitchingRegressor

__all__ = ["Method", "default_methods"]

SINGLE_SIMILARITIES = ("cosine", "euclidean", "l1", "linf")
LEARNED_AGGREGATIONS = ("concat", "sum", "mlp_sum", "weighted", "attention")


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
        The stitcher's learned aggregation of the subspaces.
    """

    name: str
    similarities: tuple[str, ...] | None
    aggregation: str = "concat"

    @property
    def is_relative(self) -> bool:
        return self.similarities is not None

    def build(self, *, task: str, n_anchors: int, seed: int, device: str, head: dict):
        """An unfitted pipeline: relative step (if any), then a stitcher."""
        estimator_class = (
            StitchingClassifier if task == "classification" else StitchingRegressor
        )
        stitcher = estimator_class(
            aggregation=self.aggregation, random_state=seed, device=device, **head
        )
        if not self.is_relative:
            return Pipeline([("stitcher", stitcher)])
        relative = self.relative_step(n_anchors=n_anchors, seed=seed, device=device)
        return Pipeline([("relative", relative), ("stitcher", stitcher)])

    def relative_step(self, *, n_anchors: int, seed: int, device: str):
        """The unfitted relative transformer of a relative method."""
        common = dict(n_anchors=n_anchors, random_state=seed, device=device)
        if len(self.similarities) == 1:
            return RelativeProjector(self.similarities[0], **common)
        return InvariantProductSpace(self.similarities, **common)


def default_methods(aggregations=LEARNED_AGGREGATIONS) -> list[Method]:
    """Absolute baseline, each single similarity, the product with each aggregation."""
    return [
        Method("absolute", None),
        *(Method(s, (s,)) for s in SINGLE_SIMILARITIES),
        *(Method(f"product/{a}", SINGLE_SIMILARITIES, a) for a in aggregations),
    ]
