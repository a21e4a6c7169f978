"""Latent-space similarity metrics against direct n x n formulas and their laws."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist
from scipy.stats import ortho_group, pearsonr, spearmanr
from sklearn.metrics.pairwise import paired_cosine_distances
from sklearn.neighbors import NearestNeighbors

from sklearn_relrep.metrics import (
    _neighbors,
    knn_jaccard_score,
    linear_cka,
    mean_cosine_similarity,
    mean_reciprocal_rank,
    pairwise_distance_correlation,
    rbf_cka,
    svcca,
)

# --- direct references: n x n Gram matrices, brute-force ranks -----------------


def _centered_gram(gram, debiased):
    """H K H, or the U-centring of Kornblith et al.'s debiased CKA code."""
    gram = gram.copy()
    n = gram.shape[0]
    if not debiased:
        means = gram.mean(0)
        return gram - means[:, None] - means[None, :] + means.mean()
    np.fill_diagonal(gram, 0)
    means = gram.sum(0) / (n - 2)
    means -= means.sum() / (2 * (n - 1))
    gram -= means[:, None] + means[None, :]
    np.fill_diagonal(gram, 0)
    return gram


def _gram_cka(gram_x, gram_y, debiased=False):
    cx, cy = _centered_gram(gram_x, debiased), _centered_gram(gram_y, debiased)
    return np.sum(cx * cy) / np.sqrt(np.sum(cx * cx) * np.sum(cy * cy))


def _rbf_gram(X, sigma=None):
    squared = cdist(X, X, "sqeuclidean")
    if sigma is None:
        sigma = np.sqrt(np.median(squared[np.triu_indices(len(X), 1)]))
    return np.exp(-squared / (2 * sigma**2))


def _paired_data(n=60, width_x=7, width_y=11, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, width_x)) + 3.0
    Y = np.tanh(X @ rng.normal(size=(width_x, width_y))) + 0.3 * rng.normal(
        size=(n, width_y)
    )
    return X, Y


ALL_CKA = {
    "linear": linear_cka,
    "debiased": lambda X, Y, **kw: linear_cka(X, Y, debiased=True, **kw),
    "rbf": rbf_cka,
    "rbf_debiased": lambda X, Y, **kw: rbf_cka(X, Y, debiased=True, **kw),
}


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_linear_cka_equals_gram_formula(debiased, batch_size):
    X, Y = _paired_data()
    expected = _gram_cka(X @ X.T, Y @ Y.T, debiased)
    result = linear_cka(X, Y, debiased=debiased, batch_size=batch_size, device="cpu")
    assert result == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("debiased", [False, True])
@pytest.mark.parametrize("batch_size", [None, 9])
def test_rbf_cka_equals_gram_formula(debiased, batch_size):
    X, Y = _paired_data()
    expected = _gram_cka(_rbf_gram(X), _rbf_gram(Y), debiased)
    result = rbf_cka(X, Y, debiased=debiased, batch_size=batch_size, device="cpu")
    assert result == pytest.approx(expected, rel=1e-10)


def test_rbf_cka_explicit_bandwidth_equals_gram_formula():
    X, Y = _paired_data()
    expected = _gram_cka(_rbf_gram(X, sigma=2.0), _rbf_gram(Y, sigma=2.0))
    assert rbf_cka(X, Y, bandwidth=2.0) == pytest.approx(expected, rel=1e-10)


def test_rbf_cka_median_on_a_sample_is_seeded():
    X, Y = _paired_data(n=80)
    first = rbf_cka(X, Y, median_samples=30, random_state=0)
    assert first == rbf_cka(X, Y, median_samples=30, random_state=0)
    assert first == pytest.approx(rbf_cka(X, Y), abs=0.05)
    assert first != rbf_cka(X, Y)


@pytest.mark.parametrize("name", ALL_CKA)
def test_cka_of_a_space_with_itself_is_one(name):
    X, _ = _paired_data()
    assert ALL_CKA[name](X, X) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("name", ALL_CKA)
def test_cka_is_invariant_to_orthogonal_maps_and_isotropic_scaling(name):
    X, Y = _paired_data()
    Q = ortho_group.rvs(Y.shape[1], random_state=1)
    reference = ALL_CKA[name](X, Y)
    assert ALL_CKA[name](X, 4.5 * Y @ Q) == pytest.approx(reference, rel=1e-9)
    assert ALL_CKA[name](X, Y @ Q) == pytest.approx(reference, rel=1e-9)


@pytest.mark.parametrize("name", ALL_CKA)
def test_cka_is_not_invariant_to_anisotropic_scaling(name):
    X, _ = _paired_data()
    stretched = X * np.geomspace(1, 30, X.shape[1])
    assert ALL_CKA[name](X, stretched) < 0.95


def test_cka_works_on_float32():
    X, Y = _paired_data()
    result = linear_cka(X.astype(np.float32), Y.astype(np.float32))
    assert result == pytest.approx(linear_cka(X, Y), rel=1e-5)


# --- neighbourhoods and retrieval ----------------------------------------------


@pytest.fixture(params=["one_tile", "many_tiles"])
def key_tiles(request, monkeypatch):
    """Similarities of a block in one tile, or in tiles of a few columns."""
    if request.param == "many_tiles":
        monkeypatch.setattr(_neighbors, "_TILE_ENTRIES", 1)
    return request.param


def test_many_tiles_means_several_tiles_per_block(monkeypatch):
    assert _neighbors._key_tiles(100, 0, 100) == [(0, 100)]
    monkeypatch.setattr(_neighbors, "_TILE_ENTRIES", 1)
    assert _neighbors._key_tiles(40, 14, 7) == [(14, 21), (0, 7), (7, 14)] + [
        (21, 28),
        (28, 35),
        (35, 40),
    ]


def _reference_jaccard(X, Y, k, metric):
    scores = []
    neighbors = [
        NearestNeighbors(n_neighbors=k + 1, metric=metric, algorithm="brute")
        .fit(Z)
        .kneighbors(return_distance=False)
        for Z in (X, Y)
    ]
    for row_x, row_y in zip(*neighbors, strict=True):
        set_x, set_y = set(row_x[:k]), set(row_y[:k])
        scores.append(len(set_x & set_y) / len(set_x | set_y))
    return np.mean(scores)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("batch_size", [None, 13])
def test_knn_jaccard_equals_brute_force(metric, batch_size, key_tiles):
    X, Y = _paired_data(n=90)
    expected = _reference_jaccard(X, Y, 5, metric)
    result = knn_jaccard_score(
        X, Y, n_neighbors=5, metric=metric, batch_size=batch_size, device="cpu"
    )
    assert result == pytest.approx(expected, abs=1e-12)
    assert 0.0 < result < 1.0


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_knn_jaccard_of_a_space_with_itself_is_one(metric):
    X, _ = _paired_data()
    Q = ortho_group.rvs(X.shape[1], random_state=2)
    assert knn_jaccard_score(X, X, metric=metric) == 1.0
    assert knn_jaccard_score(X, 3 * X @ Q, metric=metric, n_neighbors=4) == 1.0


def _tie_aware_memberships(Z, k, metric):
    """P(j in the k-NN of i) when the k-th neighbour's ties are ordered at random."""
    similarity = -cdist(Z, Z, metric)
    np.fill_diagonal(similarity, -np.inf)
    kth = -np.sort(-similarity, axis=1)[:, k - 1 : k]
    above = similarity > kth + 1e-12
    band = np.abs(similarity - kth) <= 1e-12
    free_places = k - above.sum(1, keepdims=True)
    return above + band * free_places / band.sum(1, keepdims=True)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("batch_size", [None, 7])
def test_knn_jaccard_with_ties_equals_the_expected_overlap(
    metric, batch_size, key_tiles
):
    rng = np.random.RandomState(0)
    # Small integer coordinates: many exactly tied distances, duplicated rows.
    X = rng.randint(-2, 3, size=(40, 2)).astype(float)
    Y = rng.randint(-2, 3, size=(40, 3)).astype(float)
    X[X.sum(1) == 0] = 1.0  # no zero rows for the cosine
    Y[Y.sum(1) == 0] = 1.0
    shared = np.sum(
        _tie_aware_memberships(X, 4, metric) * _tie_aware_memberships(Y, 4, metric),
        axis=1,
    )
    expected = np.mean(shared / (8 - shared))
    result = knn_jaccard_score(
        X, Y, n_neighbors=4, metric=metric, batch_size=batch_size
    )
    assert result == pytest.approx(expected, abs=1e-12)
    # Row order must not matter once ties are resolved in expectation.
    order = rng.permutation(40)
    assert knn_jaccard_score(
        X[order], Y[order], n_neighbors=4, metric=metric
    ) == pytest.approx(result, abs=1e-12)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_mrr_with_ties_equals_the_expected_reciprocal_rank(metric, key_tiles):
    rng = np.random.RandomState(0)
    X = rng.randint(1, 3, size=(30, 2)).astype(float)
    Y = rng.randint(1, 3, size=(30, 2)).astype(float)
    similarity = -cdist(X, Y, metric)
    counterpart = np.diag(similarity)[:, None]
    better = np.sum(similarity > counterpart + 1e-12, axis=1)
    ties = np.sum(np.abs(similarity - counterpart) <= 1e-12, axis=1) - 1
    expected = np.mean(
        [
            np.mean(1.0 / np.arange(g + 1, g + t + 2))
            for g, t in zip(better, ties, strict=True)
        ]
    )
    assert ties.max() > 5
    assert mean_reciprocal_rank(X, Y, metric=metric) == pytest.approx(
        expected, abs=1e-12
    )


def _reference_mrr(X, Y, metric):
    similarity = -cdist(X, Y, metric)
    ranks = 1 + np.sum(similarity > np.diag(similarity)[:, None], axis=1)
    return np.mean(1 / ranks)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("batch_size", [None, 11])
def test_mrr_equals_brute_force(metric, batch_size, key_tiles):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(70, 6))
    Y = X + 0.8 * rng.normal(size=X.shape)
    result = mean_reciprocal_rank(X, Y, metric=metric, batch_size=batch_size)
    assert result == pytest.approx(_reference_mrr(X, Y, metric), abs=1e-12)
    assert 1 / 70 < result < 1.0


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_mrr_of_a_space_with_itself_is_one(metric):
    X, _ = _paired_data()
    assert mean_reciprocal_rank(X, X, metric=metric) == 1.0


# --- paired metrics ------------------------------------------------------------


def test_mean_cosine_equals_paired_cosine_distances():
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(30, 5)), rng.normal(size=(30, 5))
    expected = 1 - paired_cosine_distances(X, Y).mean()
    assert mean_cosine_similarity(X, Y) == pytest.approx(expected, rel=1e-12)
    assert mean_cosine_similarity(X, 2 * X) == pytest.approx(1.0)
    assert mean_cosine_similarity(X, -X) == pytest.approx(-1.0)


@pytest.mark.parametrize("method", ["pearson", "spearman"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_distance_correlation_with_all_pairs_equals_pdist(method, metric):
    X, Y = _paired_data(n=40)
    correlate = pearsonr if method == "pearson" else spearmanr
    expected = correlate(pdist(X, metric), pdist(Y, metric))[0]
    result = pairwise_distance_correlation(X, Y, metric=metric, method=method)
    assert result == pytest.approx(expected, rel=1e-10)


def test_distance_correlation_on_sampled_pairs_is_seeded_and_close():
    X, Y = _paired_data(n=300)
    exact = pearsonr(pdist(X), pdist(Y))[0]
    sampled = pairwise_distance_correlation(X, Y, n_pairs=5000, random_state=0)
    assert sampled == pairwise_distance_correlation(X, Y, n_pairs=5000, random_state=0)
    assert sampled != exact
    assert sampled == pytest.approx(exact, abs=0.05)


def _reference_svcca(X, Y, n_components):
    bases = []
    for Z in (X, Y):
        centered = Z - Z.mean(0)
        left, values, _ = np.linalg.svd(centered, full_matrices=False)
        explained = np.cumsum(values**2) / np.sum(values**2)
        kept = np.searchsorted(explained, n_components) + 1
        bases.append(left[:, :kept])
    return np.linalg.svd(bases[0].T @ bases[1], compute_uv=False).mean()


@pytest.mark.parametrize("n_components", [0.5, 0.9, 0.99])
def test_svcca_equals_svd_then_cca(n_components):
    X, Y = _paired_data(n=200, width_x=12, width_y=9)
    expected = _reference_svcca(X, Y, n_components)
    assert svcca(X, Y, n_components=n_components) == pytest.approx(expected, rel=1e-8)


def test_svcca_is_invariant_to_invertible_linear_maps():
    X, Y = _paired_data(n=200)
    mixing = np.random.RandomState(3).normal(size=(Y.shape[1], Y.shape[1]))
    assert svcca(X, X @ mixing[:7, :7], n_components=1.0) == pytest.approx(1.0)
    assert svcca(X, Y @ mixing, n_components=1.0) == pytest.approx(
        svcca(X, Y, n_components=1.0), rel=1e-8
    )
    assert svcca(X, Y, n_components=2) < svcca(X, Y, n_components=1.0)


# --- bounds and errors ---------------------------------------------------------

BOUNDED = {
    linear_cka: (0, 1),
    lambda X, Y: linear_cka(X, Y, debiased=True): (-1, 1),
    rbf_cka: (0, 1),
    lambda X, Y: rbf_cka(X, Y, debiased=True): (-1, 1),
    lambda X, Y: knn_jaccard_score(X, Y, n_neighbors=3): (0, 1),
    lambda X, Y: mean_reciprocal_rank(X, Y[:, : X.shape[1]]): (1 / 12, 1),
    lambda X, Y: mean_cosine_similarity(X, Y[:, : X.shape[1]]): (-1, 1),
    pairwise_distance_correlation: (-1, 1),
    svcca: (0, 1),
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("metric", BOUNDED, ids=range(len(BOUNDED)))
def test_every_result_is_within_its_bounds(metric, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(12, 3))
    for Y in (rng.normal(size=(12, 5)), np.hstack([X, X]), -np.hstack([X, X])):
        low, high = BOUNDED[metric]
        assert low <= metric(X, Y) <= high


METRICS = [
    linear_cka,
    rbf_cka,
    knn_jaccard_score,
    mean_reciprocal_rank,
    mean_cosine_similarity,
    pairwise_distance_correlation,
    svcca,
]


@pytest.mark.parametrize("metric", METRICS)
def test_mismatched_number_of_samples_is_rejected(metric):
    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="X has 20 rows and Y has 19"):
        metric(X, X[:19])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_rejected(metric, bad):
    X = np.random.RandomState(0).normal(size=(20, 3))
    Y = X.copy()
    Y[4, 1] = bad
    with pytest.raises(ValueError, match="Input Y contains (NaN|infinity)"):
        metric(X, Y)


@pytest.mark.parametrize("n_neighbors", [9, 10, 11])
def test_too_many_neighbours_is_rejected(n_neighbors):
    X = np.random.RandomState(0).normal(size=(10, 3))
    with pytest.raises(
        ValueError, match=f"n_neighbors={n_neighbors} must be at most n_samples - 2 = 8"
    ):
        knn_jaccard_score(X, X, n_neighbors=n_neighbors)


@pytest.mark.parametrize("metric", [mean_reciprocal_rank, mean_cosine_similarity])
def test_direct_comparisons_need_equal_widths(metric):
    X = np.random.RandomState(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="same width; got 3 and 2"):
        metric(X, X[:, :2])


def test_debiased_cka_needs_four_samples():
    X = np.random.RandomState(0).normal(size=(3, 2))
    with pytest.raises(ValueError, match="at least 4 paired samples"):
        linear_cka(X, X, debiased=True)


def test_unknown_options_are_rejected():
    X = np.random.RandomState(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="metric"):
        knn_jaccard_score(X, X, n_neighbors=3, metric="manhattan")
    with pytest.raises(ValueError, match="Unknown device"):
        linear_cka(X, X, device="not-a-device")
