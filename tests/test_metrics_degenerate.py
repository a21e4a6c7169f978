"""Degenerate input and extreme magnitudes: a meaningful number or a clear error.

The policy is in the docstring of :mod:`sklearn_relrep.metrics`: magnitude never
matters (exact power-of-two rescaling), spaces without structure raise
``ValueError`` naming the space and the cause, and ties are resolved in
expectation. Every test here failed on the metrics as they were before.
"""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from sklearn_relrep.metrics import (
    knn_jaccard_score,
    linear_cka,
    mean_cosine_similarity,
    mean_reciprocal_rank,
    pairwise_distance_correlation,
    rbf_cka,
    svcca,
)


def _related_spaces(n=120, width=6, dtype=np.float64, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, width))
    Y = np.tanh(X @ rng.normal(size=(width, width))) + 0.3 * rng.normal(size=(n, width))
    return X.astype(dtype), Y.astype(dtype)


NEIGHBOUR_METRICS = {
    "jaccard_cosine": lambda X, Y: knn_jaccard_score(X, Y, n_neighbors=5),
    "jaccard_euclidean": lambda X, Y: knn_jaccard_score(
        X, Y, n_neighbors=5, metric="euclidean"
    ),
    "mrr_cosine": mean_reciprocal_rank,
    "mrr_euclidean": lambda X, Y: mean_reciprocal_rank(X, Y, metric="euclidean"),
}

SCALE_INVARIANT_METRICS = {
    **NEIGHBOUR_METRICS,
    "linear_cka": linear_cka,
    "linear_cka_debiased": lambda X, Y: linear_cka(X, Y, debiased=True),
    "rbf_cka": rbf_cka,
    "svcca": svcca,
    "mean_cosine_similarity": mean_cosine_similarity,
    "distance_correlation": pairwise_distance_correlation,
    "distance_correlation_cosine": lambda X, Y: pairwise_distance_correlation(
        X, Y, metric="cosine", method="spearman"
    ),
}

# (dtype, factor) pairs far outside the range where squares and norms are safe.
EXTREME_SCALES = [
    (np.float32, 2.0**66),  # ~7e19: squares overflow float32
    (np.float32, 2.0**-100),  # ~8e-31: squares underflow float32
    (np.float64, 2.0**665),  # ~1e200
    (np.float64, 2.0**-665),  # ~1e-200
]


@pytest.mark.parametrize("name", SCALE_INVARIANT_METRICS)
@pytest.mark.parametrize("dtype, factor", EXTREME_SCALES)
def test_metrics_give_the_same_score_at_any_magnitude(name, dtype, factor):
    metric = SCALE_INVARIANT_METRICS[name]
    X, Y = _related_spaces(dtype=dtype)
    expected = metric(X, Y)
    factor = dtype(factor)
    # A power of two scales exactly, so the rescaled spaces are the same data.
    if name == "mrr_euclidean":  # compares X with Y: invariant to one common scale
        assert metric(X * factor, Y * factor) == pytest.approx(expected, abs=1e-12)
        return
    assert metric(X * factor, Y) == pytest.approx(expected, abs=1e-12)
    assert metric(X, Y * factor) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", SCALE_INVARIANT_METRICS)
def test_float32_metrics_agree_with_float64_at_1e20(name):
    metric = SCALE_INVARIANT_METRICS[name]
    X, Y = _related_spaces()
    scale = 1e20 if name == "mrr_euclidean" else 1.0
    X32, Y32 = (X * 1e20).astype(np.float32), (Y * scale).astype(np.float32)
    expected = metric(X32.astype(np.float64), Y32.astype(np.float64))
    assert metric(X32, Y32) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("name", SCALE_INVARIANT_METRICS)
@pytest.mark.parametrize("constant", [0.0, 1.0, 1e20])
def test_a_space_of_identical_rows_is_rejected_not_scored(name, constant):
    metric = SCALE_INVARIANT_METRICS[name]
    X, _ = _related_spaces()
    degenerate = np.full_like(X, constant)
    pattern = (
        "all 120 rows of Y are identical"
        "|Y has 120 all-zero rows"
        "|all its rows point in the same direction"
    )
    with pytest.raises(ValueError, match=pattern):
        metric(X, degenerate)


@pytest.mark.parametrize("name", ["jaccard_cosine", "mrr_cosine"])
def test_parallel_rows_have_no_cosine_neighbourhoods(name):
    X, _ = _related_spaces()
    parallel = np.outer(np.arange(1, 121), np.ones(6) + np.arange(6))
    with pytest.raises(ValueError, match="all its rows point in the same direction"):
        NEIGHBOUR_METRICS[name](X, parallel)


@pytest.mark.parametrize(
    "metric", [mean_cosine_similarity, knn_jaccard_score, mean_reciprocal_rank]
)
def test_a_zero_row_makes_the_cosine_undefined(metric):
    X, Y = _related_spaces()
    Y[7] = 0.0
    with pytest.raises(ValueError, match="Y has 1 all-zero rows"):
        metric(X, Y)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_tied_neighbourhoods_score_their_expected_overlap_not_one(metric):
    # 19 identical rows and one other: every neighbourhood is a random draw from
    # tied candidates, in both spaces independently.
    rng = np.random.RandomState(0)
    X = np.tile(rng.normal(size=5), (20, 1))
    X[19] = rng.normal(size=5)
    k = 3
    # rows 0-18: 3 of 18 tied others, E[overlap] = 18 (3/18)^2 = 1/2;
    # row 19: 3 of 19 tied others, E[overlap] = 9/19.
    expected = (19 * 0.5 / (2 * k - 0.5) + (9 / 19) / (2 * k - 9 / 19)) / 20
    score = knn_jaccard_score(X, X.copy(), n_neighbors=k, metric=metric)
    assert score == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_tied_candidates_give_the_expected_reciprocal_rank_not_one(metric):
    rng = np.random.RandomState(0)
    groups = rng.normal(size=(2, 4))
    X = np.repeat(groups, 10, axis=0)
    # Each counterpart ties with 9 identical candidates: rank uniform on 1..10.
    expected = np.mean(1.0 / np.arange(1, 11))
    assert mean_reciprocal_rank(X, X.copy(), metric=metric) == pytest.approx(
        expected, abs=1e-12
    )


@pytest.mark.parametrize("n_neighbors", [19, 20])
def test_jaccard_rejects_neighbourhoods_that_hold_every_other_sample(n_neighbors):
    X, Y = _related_spaces(n=21)
    with pytest.raises(ValueError, match="must be at most n_samples - 2 = 19"):
        knn_jaccard_score(X, Y, n_neighbors=n_neighbors + 1)
    assert knn_jaccard_score(X, Y, n_neighbors=19) < 1.0


def _reference_jaccard_float64(X, Y, k, metric):
    """Brute force with all distances in float64 (no ties in this data)."""
    scores = []
    for_each_space = []
    for Z in (X, Y):
        distances = cdist(Z, Z, metric)
        np.fill_diagonal(distances, np.inf)
        for_each_space.append(np.argsort(distances, axis=1)[:, :k])
    for row_x, row_y in zip(*for_each_space, strict=True):
        shared = len(set(row_x) & set(row_y))
        scores.append(shared / (2 * k - shared))
    return np.mean(scores)


@pytest.mark.parametrize("offset", [1e2, 1e3, 1e4])
def test_euclidean_neighbourhoods_keep_translation_invariance_in_float32(offset):
    X, Y = _related_spaces(n=150)
    X32 = (X + offset).astype(np.float32)
    Y32 = (Y - offset).astype(np.float32)
    expected = _reference_jaccard_float64(
        X32.astype(np.float64), Y32.astype(np.float64), 5, "euclidean"
    )
    assert knn_jaccard_score(
        X32, Y32, n_neighbors=5, metric="euclidean"
    ) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("offset", [1e2, 1e3, 1e4])
def test_euclidean_retrieval_keeps_translation_invariance_in_float32(offset):
    X, _ = _related_spaces(n=150)
    noise = np.random.RandomState(1).normal(scale=0.5, size=X.shape)
    X32, Y32 = (X + offset).astype(np.float32), (X + noise + offset).astype(np.float32)
    similarity = -cdist(X32.astype(np.float64), Y32.astype(np.float64))
    ranks = 1 + np.sum(similarity > np.diag(similarity)[:, None], axis=1)
    expected = np.mean(1 / ranks)
    assert mean_reciprocal_rank(X32, Y32, metric="euclidean") == pytest.approx(
        expected, abs=1e-12
    )


def test_cka_error_for_a_constant_space_does_not_blame_the_scale():
    X, _ = _related_spaces()
    for metric in (linear_cka, rbf_cka, svcca):
        assert metric(X * 1e-200, X) == pytest.approx(1.0)
        with pytest.raises(ValueError, match="all 120 rows of X are identical"):
            metric(np.ones_like(X), X)


@pytest.mark.parametrize(
    "bandwidth, match", [(1e-8, "underflows to 0"), (1e12, "rounds to 1")]
)
def test_rbf_cka_rejects_a_bandwidth_that_leaves_no_structure(bandwidth, match):
    X, Y = _related_spaces()
    with pytest.raises(ValueError, match=match):
        rbf_cka(X, Y, bandwidth=bandwidth)


def test_debiased_cka_explains_a_non_positive_self_similarity():
    X = np.array([[0.0], [0.0], [0.0], [1.0]])
    with pytest.raises(ValueError, match="debiased HSIC of X with itself"):
        linear_cka(X, np.arange(4.0)[:, None], debiased=True)


@pytest.mark.parametrize("name", SCALE_INVARIANT_METRICS)
def test_metrics_leave_their_inputs_unchanged(name):
    X, Y = _related_spaces()
    X_before, Y_before = X.copy(), Y.copy()
    SCALE_INVARIANT_METRICS[name](X * 2.0**70, Y)
    SCALE_INVARIANT_METRICS[name](X, Y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(Y, Y_before)


@pytest.mark.parametrize("name", SCALE_INVARIANT_METRICS)
def test_spaces_of_different_dtypes_are_compared(name):
    metric = SCALE_INVARIANT_METRICS[name]
    X, Y = _related_spaces()
    expected = metric(X.astype(np.float32).astype(np.float64), Y)
    assert metric(X.astype(np.float32), Y) == pytest.approx(expected, abs=1e-6)
