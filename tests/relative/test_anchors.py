"""Anchor selection strategies."""

import numpy as np
import pytest

from sklearn_relrep import RelativeProjector
from sklearn_relrep.relative._anchors import select_anchor_indices

rng = np.random.RandomState(0)
X = rng.normal(size=(200, 4))
y = np.repeat(np.array(["a", "b", "c", "d"]), [100, 50, 30, 20])


@pytest.mark.parametrize("strategy", ["random", "stratified", "farthest", "kmeans"])
def test_every_strategy_returns_distinct_rows(strategy):
    idx = select_anchor_indices(X, 20, strategy, y=y, random_state=0)
    assert idx.shape == (20,)
    assert len(set(idx.tolist())) == 20
    assert idx.min() >= 0 and idx.max() < 200


def test_stratified_follows_class_proportions():
    idx = select_anchor_indices(X, 20, "stratified", y=y, random_state=0)
    _, counts = np.unique(y[idx], return_counts=True)
    np.testing.assert_array_equal(counts, [10, 5, 3, 2])


def test_farthest_point_sampling_spreads_out_more_than_random():
    def min_gap(idx):
        d = np.linalg.norm(X[idx, None] - X[None, idx], axis=-1)
        return d[~np.eye(len(idx), dtype=bool)].min()

    farthest = select_anchor_indices(X, 15, "farthest", random_state=0)
    random = select_anchor_indices(X, 15, "random", random_state=0)
    assert min_gap(farthest) > min_gap(random)


def test_farthest_handles_duplicate_rows():
    duplicated = np.repeat(X[:3], 5, axis=0)
    idx = select_anchor_indices(duplicated, 6, "farthest", random_state=0)
    assert len(set(idx.tolist())) == 6


def test_kmeans_anchors_are_nearest_to_their_centroids():
    blobs = np.concatenate([rng.normal(c, 0.1, size=(30, 2)) for c in (-5, 0, 5)])
    idx = select_anchor_indices(blobs, 3, "kmeans", random_state=0)
    assert sorted(np.round(blobs[idx].mean(1)).tolist()) == [-5, 0, 5]


def test_stratified_through_the_projector_uses_y():
    projector = RelativeProjector(
        n_anchors=20, anchor_selection="stratified", random_state=0
    )
    projector.fit(X, y)
    assert set(y[projector.anchor_indices_]) == {"a", "b", "c", "d"}


def test_y_of_the_wrong_length_is_rejected():
    with pytest.raises(ValueError, match="y has 3 samples but X has 200"):
        select_anchor_indices(X, 5, "stratified", y=y[:3])
