"""Alignment baselines: exact recovery, reference solvers, stitching by translation."""

import numpy as np
import pytest
import scipy.sparse
import sklearn
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import KFold, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_relrep import LinearAligner, ProcrustesAligner, RelativeProjector


def _anchors(n=40, width=5, seed=0):
    return np.random.RandomState(seed).normal(size=(n, width))


def test_procrustes_recovers_a_similarity_transform():
    A = _anchors()
    Q = ortho_group.rvs(5, random_state=1)
    B = 1.7 * A @ Q - 4.0
    aligner = ProcrustesAligner().fit(A[:20], B[:20])
    assert aligner.scale_ == pytest.approx(1.7)
    np.testing.assert_allclose(aligner.rotation_, Q, atol=1e-10)
    np.testing.assert_allclose(aligner.transform(A[20:]), B[20:], atol=1e-10)


def test_procrustes_options_match_scipy():
    A = _anchors()
    B = A @ ortho_group.rvs(5, random_state=1) + 0.3 * _anchors(seed=2) + 2.0
    plain = ProcrustesAligner(center=False, scale=False).fit(A, B)
    expected, _ = orthogonal_procrustes(A, B)
    np.testing.assert_allclose(plain.rotation_, expected, atol=1e-10)
    np.testing.assert_allclose(plain.transform(A), A @ expected, atol=1e-10)

    centered = ProcrustesAligner(scale=False).fit(A, B)
    expected, _ = orthogonal_procrustes(A - A.mean(0), B - B.mean(0))
    np.testing.assert_allclose(centered.rotation_, expected, atol=1e-10)
    assert centered.scale_ == 1.0
    distances = np.linalg.norm(A[0] - A[1])
    mapped = centered.transform(A[:2])
    assert np.linalg.norm(mapped[0] - mapped[1]) == pytest.approx(distances)


def test_procrustes_scale_is_the_least_squares_factor():
    A = _anchors()
    B = 3.0 * A @ ortho_group.rvs(5, random_state=1) + _anchors(seed=2)
    aligner = ProcrustesAligner().fit(A, B)
    residual = aligner.transform(A) - B
    rotated = (A - A.mean(0)) @ aligner.rotation_
    for nudged_scale in (aligner.scale_ * 0.99, aligner.scale_ * 1.01):
        nudged = nudged_scale * rotated + B.mean(0) - B
        assert np.sum(residual**2) < np.sum(nudged**2)


@pytest.mark.parametrize("widths", [(4, 7), (7, 4)])
def test_procrustes_across_widths_is_the_zero_padded_solution(widths):
    width_a, width_b = widths
    rng = np.random.RandomState(0)
    A, B = rng.normal(size=(30, width_a)), rng.normal(size=(30, width_b))
    aligner = ProcrustesAligner(center=False, scale=False).fit(A, B)
    padded = max(widths)
    pad = lambda Z: np.hstack([Z, np.zeros((len(Z), padded - Z.shape[1]))])  # noqa: E731
    expected, _ = orthogonal_procrustes(pad(A), pad(B))
    np.testing.assert_allclose(
        aligner.rotation_, expected[:width_a, :width_b], atol=1e-10
    )
    gram = aligner.rotation_ @ aligner.rotation_.T
    if width_a > width_b:
        gram = aligner.rotation_.T @ aligner.rotation_
    np.testing.assert_allclose(gram, np.eye(min(widths)), atol=1e-10)


def test_procrustes_embeds_into_a_wider_space_exactly():
    A = _anchors()
    embedding = ortho_group.rvs(8, random_state=3)[:5]
    aligner = ProcrustesAligner().fit(A[:20], 2 * A[:20] @ embedding + 1)
    np.testing.assert_allclose(aligner.transform(A[20:]), 2 * A[20:] @ embedding + 1)
    assert aligner.get_feature_names_out().tolist()[:2] == [
        "procrustesaligner0",
        "procrustesaligner1",
    ]


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_linear_aligner_equals_least_squares_and_ridge(fit_intercept):
    A, B = _anchors(), _anchors(width=3, seed=1)
    ols = LinearAligner(fit_intercept=fit_intercept).fit(A, B)
    reference = LinearRegression(fit_intercept=fit_intercept).fit(A, B)
    np.testing.assert_allclose(ols.transform(A), reference.predict(A), atol=1e-10)

    ridge = LinearAligner(alpha=5.0, fit_intercept=fit_intercept).fit(A, B)
    reference = Ridge(alpha=5.0, fit_intercept=fit_intercept).fit(A, B)
    np.testing.assert_allclose(ridge.coef_, reference.coef_.T, atol=1e-10)
    np.testing.assert_allclose(ridge.transform(A), reference.predict(A), atol=1e-10)


def test_linear_aligner_with_few_anchors_is_minimum_norm():
    A, B = _anchors(n=6, width=10), _anchors(n=6, width=4, seed=1)
    aligner = LinearAligner(fit_intercept=False).fit(A, B)
    np.testing.assert_allclose(aligner.coef_, np.linalg.pinv(A) @ B, atol=1e-10)
    np.testing.assert_allclose(aligner.transform(A), B, atol=1e-10)


@pytest.mark.parametrize("Aligner", [ProcrustesAligner, LinearAligner])
def test_one_dimensional_target_is_a_space_of_width_one(Aligner):
    A = _anchors()
    aligner = Aligner().fit(A, A[:, 0] * 2.0)
    assert aligner.transform(A).shape == (40, 1)


@pytest.mark.parametrize("Aligner", [ProcrustesAligner, LinearAligner])
def test_bad_anchors_are_rejected(Aligner):
    A = _anchors()
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Aligner().fit(A, A[:-1])
    with pytest.raises(ValueError, match="requires y to be passed"):
        Aligner().fit(A, None)
    bad = A.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Aligner().fit(A, bad)
    with pytest.raises(ValueError, match="5 features"):
        Aligner().fit(A, A).transform(A[:, :3])


def test_translation_and_relative_stitching_in_the_same_pipeline():
    """Decoder trained on space A; test data from space B, stitched two ways."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    encode_a = PCA(24, random_state=0).fit(X_train)
    rng = np.random.RandomState(0)
    mixing = ortho_group.rvs(32, random_state=0)[:24]

    def encode_b(samples):  # another "encoder": rotated, rescaled, shifted, noisy
        latent = encode_a.transform(samples)
        latent = latent + 0.05 * latent.std() * rng.normal(size=latent.shape)
        return 0.1 * latent @ mixing + 5.0

    train_a, test_a, test_b = (
        encode_a.transform(X_train),
        encode_a.transform(X_test),
        encode_b(X_test),
    )
    anchors = X_train[rng.choice(len(X_train), 100, replace=False)]
    anchors_a, anchors_b = encode_a.transform(anchors), encode_b(anchors)

    decoder = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    decoder.fit(train_a, y_train)
    accuracy_a = decoder.score(test_a, y_test)
    assert accuracy_a > 0.9

    for aligner in (ProcrustesAligner(), LinearAligner(alpha=1e-3)):
        aligner.fit(anchors_b, anchors_a)
        assert decoder.score(aligner.transform(test_b), y_test) > accuracy_a - 0.03
    # Without alignment B's coordinates mean nothing to A's decoder.
    assert decoder.score(test_b[:, :24], y_test) < 0.5

    projector = RelativeProjector(anchors=anchors_a, preprocessing="center")
    relative = make_pipeline(projector, LogisticRegression(max_iter=1000))
    relative.fit(train_a, y_train)
    relative_b = projector.reanchor(anchors_b)
    stitched = relative[1:].score(relative_b.transform(test_b), y_test)
    assert stitched > relative.score(test_a, y_test) - 0.03


# --- sample weights and metadata routing ----------------------------------------

ALIGNERS = [
    ProcrustesAligner(),
    ProcrustesAligner(center=False, scale=False),
    LinearAligner(),
    LinearAligner(alpha=2.0, fit_intercept=False),
]


def _weighted_anchors(seed=0):
    rng = np.random.RandomState(seed)
    A = rng.normal(size=(30, 5))
    B = A @ rng.normal(size=(5, 6)) + 0.5 * rng.normal(size=(30, 6)) + 1.0
    return A, B, rng.randint(0, 4, size=30)


def _fitted_maps(aligner):
    return aligner.coef_, aligner.source_mean_, aligner.target_mean_


@pytest.mark.parametrize("aligner", ALIGNERS, ids=repr)
def test_zero_weight_drops_an_anchor(aligner):
    A, B, weights = _weighted_anchors()
    weighted = clone(aligner).fit(A, B, sample_weight=weights)
    kept = weights > 0
    unweighted_on_kept = clone(aligner).fit(
        A[kept], B[kept], sample_weight=weights[kept]
    )
    for got, expected in zip(
        _fitted_maps(weighted), _fitted_maps(unweighted_on_kept), strict=True
    ):
        np.testing.assert_allclose(got, expected, atol=1e-10)
    assert not np.allclose(weighted.coef_, clone(aligner).fit(A, B).coef_)


@pytest.mark.parametrize("aligner", ALIGNERS, ids=repr)
def test_integer_weight_repeats_an_anchor(aligner):
    A, B, weights = _weighted_anchors()
    weighted = clone(aligner).fit(A, B, sample_weight=weights)
    repeated = np.repeat(np.arange(len(A)), weights)
    unweighted_repeated = clone(aligner).fit(A[repeated], B[repeated])
    for got, expected in zip(
        _fitted_maps(weighted), _fitted_maps(unweighted_repeated), strict=True
    ):
        np.testing.assert_allclose(got, expected, atol=1e-10)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weighted_linear_aligner_equals_weighted_least_squares_and_ridge(
    fit_intercept,
):
    A, B, _ = _weighted_anchors()
    weights = np.random.RandomState(1).uniform(0.1, 3.0, size=len(A))
    for alpha, Reference in ((0.0, LinearRegression), (3.0, Ridge)):
        options = {"fit_intercept": fit_intercept}
        if alpha:
            options["alpha"] = alpha
        reference = Reference(**options).fit(A, B, sample_weight=weights)
        aligner = LinearAligner(alpha=alpha, fit_intercept=fit_intercept)
        aligner.fit(A, B, sample_weight=weights)
        np.testing.assert_allclose(
            aligner.transform(A), reference.predict(A), atol=1e-9
        )


def test_weighted_procrustes_is_the_weighted_zero_padded_solution():
    A, B, _ = _weighted_anchors()
    weights = np.random.RandomState(1).uniform(0.1, 3.0, size=len(A))
    aligner = ProcrustesAligner().fit(A, B, sample_weight=weights)
    mean_a = np.average(A, axis=0, weights=weights)
    mean_b = np.average(B, axis=0, weights=weights)
    root = np.sqrt(weights)[:, None]
    padded = np.hstack([root * (A - mean_a), np.zeros((len(A), 1))])
    rotation, _ = orthogonal_procrustes(padded, root * (B - mean_b))
    np.testing.assert_allclose(aligner.rotation_, rotation[:5], atol=1e-10)

    def weighted_loss(scale):
        residual = scale * (A - mean_a) @ aligner.rotation_ + mean_b - B
        return np.sum(weights * np.sum(residual**2, axis=1))

    best = weighted_loss(aligner.scale_)
    assert best < weighted_loss(aligner.scale_ * 1.01)
    assert best < weighted_loss(aligner.scale_ * 0.99)
    unweighted = ProcrustesAligner().fit(A, B)
    assert best < np.sum(weights * np.sum((unweighted.transform(A) - B) ** 2, axis=1))


@pytest.mark.parametrize("Aligner", [ProcrustesAligner, LinearAligner])
def test_bad_sample_weights_are_rejected(Aligner):
    A, B, _ = _weighted_anchors()
    with pytest.raises(ValueError, match="(?i)negative"):
        Aligner().fit(A, B, sample_weight=-np.ones(len(A)))
    with pytest.raises(ValueError, match="(?i)sample_weight|non-zero"):
        Aligner().fit(A, B, sample_weight=np.zeros(len(A)))
    with pytest.raises(ValueError, match="(?i)sample_weight.shape|shape"):
        Aligner().fit(A, B, sample_weight=np.ones(len(A) - 1))


@pytest.mark.parametrize("Aligner", [ProcrustesAligner, LinearAligner])
def test_pipeline_routes_sample_weight_to_the_aligner(Aligner):
    A, B, weights = _weighted_anchors()
    with sklearn.config_context(enable_metadata_routing=True):
        pipeline = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            Aligner().set_fit_request(sample_weight=True),
        )
        pipeline.fit(A, B, sample_weight=weights)
        scaled = StandardScaler().fit_transform(A)
        expected = Aligner().fit(scaled, B, sample_weight=weights)
        np.testing.assert_allclose(pipeline[-1].coef_, expected.coef_, atol=1e-12)
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            make_pipeline(Aligner()).fit(A, B, sample_weight=weights)


def _negated_squared_error(aligner, X, y):
    return -np.mean((aligner.transform(X) - y) ** 2)


@pytest.mark.parametrize("Aligner", [ProcrustesAligner, LinearAligner])
def test_cross_validate_routes_sample_weight_to_each_fold(Aligner):
    A, B, weights = _weighted_anchors()
    folds = KFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(
            Aligner().set_fit_request(sample_weight=True),
            A,
            B,
            cv=folds,
            scoring=_negated_squared_error,
            params={"sample_weight": weights},
            return_estimator=True,
        )
    for (train, _), fitted in zip(folds.split(A), result["estimator"], strict=True):
        expected = Aligner().fit(A[train], B[train], sample_weight=weights[train])
        np.testing.assert_allclose(fitted.coef_, expected.coef_, atol=1e-12)
        unweighted = Aligner().fit(A[train], B[train])
        assert not np.allclose(fitted.coef_, unweighted.coef_)


@pytest.mark.parametrize("Aligner", [ProcrustesAligner, LinearAligner])
def test_sparse_target_space_is_rejected_with_the_fix(Aligner):
    A, B, _ = _weighted_anchors()
    with pytest.raises(TypeError, match=r"y is a sparse .*pass y.toarray\(\)"):
        Aligner().fit(A, scipy.sparse.csr_matrix(B))


@pytest.mark.parametrize("Aligner", [LinearAligner, ProcrustesAligner])
def test_outputs_are_named_after_the_target_spaces_columns(Aligner):
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    source = rng.normal(size=(20, 3))
    target = pd.DataFrame(rng.normal(size=(20, 3)), columns=["u", "v", "w"])
    aligner = Aligner().fit(source, target)
    assert list(aligner.get_feature_names_out()) == ["u", "v", "w"]
    prefix = type(aligner).__name__.lower()
    refitted = aligner.fit(source, target.to_numpy())
    assert list(refitted.get_feature_names_out()) == [f"{prefix}{i}" for i in range(3)]
