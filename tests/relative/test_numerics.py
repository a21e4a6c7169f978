"""Numerics of the relative transformers that once failed silently (issue 9).

Each test is named after the behaviour it guards and failed on the code before
the fix: cancellation far from the origin, overflow and underflow, anchors that
k-means could not fill, aliased anchors, thread counts changed behind the
user's back, and parameters that slipped through validation.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    zero_shot_stitch,
)

SCIPY_METRICS = {"euclidean": "euclidean", "l1": "cityblock", "linf": "chebyshev"}


def _reference(similarity, X, anchors):
    X, anchors = X.astype(np.float64), anchors.astype(np.float64)
    if similarity == "cosine":
        return 1.0 - cdist(X, anchors, "cosine")
    return cdist(X, anchors, SCIPY_METRICS[similarity])


@pytest.mark.parametrize("shift", [0.0, 1e2, 1e3, 1e4])
def test_float32_euclidean_keeps_its_translation_invariance(shift):
    rng = np.random.RandomState(0)
    X = (shift + rng.normal(size=(300, 384))).astype(np.float32)
    anchors = (shift + rng.normal(size=(40, 384))).astype(np.float32)
    out = RelativeProjector("euclidean", anchors=anchors).fit(X).transform(X)
    np.testing.assert_allclose(out, _reference("euclidean", X, anchors), rtol=1e-3)


def test_float32_euclidean_resolves_near_duplicates_of_spread_out_anchors():
    """Centring cannot help points close to each other but far from the mean."""
    rng = np.random.RandomState(0)
    anchors = rng.uniform(-1e3, 1e3, size=(200, 384)).astype(np.float32)
    X = anchors + np.float32(0.01)
    out = RelativeProjector("euclidean", anchors=anchors).fit(X).transform(X)
    np.testing.assert_allclose(out, _reference("euclidean", X, anchors), rtol=1e-3)


def test_float32_euclidean_distance_of_a_row_to_itself_is_zero_in_1e5_dimensions():
    rng = np.random.RandomState(0)
    anchors = rng.uniform(-1.0, 1.0, size=(12, 100_000)).astype(np.float32)
    out = RelativeProjector("euclidean", anchors=anchors).fit(anchors)
    distances = out.transform(anchors)
    np.testing.assert_array_equal(np.diag(distances), 0.0)
    expected = _reference("euclidean", anchors, anchors)
    np.testing.assert_allclose(distances, expected, rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cosine_of_rows_with_a_norm_below_1e_12_ignores_their_scale(dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 2))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    anchors = rng.normal(size=(4, 2)).astype(dtype)
    projector = RelativeProjector("cosine", anchors=anchors).fit(X.astype(dtype))
    tiny = (X * 6e-13).astype(dtype)  # norm 6e-13, no entry below 4e-13
    X = X.astype(dtype)
    np.testing.assert_allclose(
        projector.transform(tiny), projector.transform(X), rtol=1e-5, atol=1e-6
    )


def test_stitch_to_a_far_shifted_float32_space_predicts_identically():
    rng = np.random.RandomState(1)
    centers = rng.normal(scale=4.0, size=(3, 32))
    y = rng.randint(3, size=400)
    X = (centers[y] + rng.normal(size=(400, 32))).astype(np.float32)
    model = make_pipeline(
        RelativeProjector("euclidean", n_anchors=30, random_state=0),
        LogisticRegression(max_iter=1000),
    ).fit(X, y)
    assert model.score(X, y) > 0.95
    shifted = X + np.float32(1e4)
    stitched = zero_shot_stitch(model, shifted[model[0].anchor_indices_])
    np.testing.assert_array_equal(stitched.predict(shifted), model.predict(X))


@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "l1", "linf"])
@pytest.mark.parametrize("magnitude", [1e-30, 1e-25, 1e-13, 1e20, 1e30])
def test_extreme_float32_magnitudes_stay_correct(similarity, magnitude):
    """Overflowing squares, underflowing norms: exact power-of-two rescaling."""
    rng = np.random.RandomState(2)
    X = (magnitude * rng.normal(size=(60, 24))).astype(np.float32)
    anchors = (magnitude * rng.normal(size=(7, 24))).astype(np.float32)
    out = RelativeProjector(similarity, anchors=anchors).fit(X).transform(X)
    expected = _reference(similarity, X, anchors)
    assert np.isfinite(out).all()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(out / scale, expected / scale, atol=1e-5)


def test_huge_rows_do_not_reach_a_stitcher_as_nan():
    """The product space is scale-invariant, so the stitched predictions agree."""
    rng = np.random.RandomState(3)
    y = rng.randint(2, size=120)
    X = (rng.normal(size=(120, 8)) + 3.0 * y[:, None]).astype(np.float32)
    model = make_pipeline(
        InvariantProductSpace(n_anchors=12, random_state=0),
        StitchingClassifier(max_epochs=3, random_state=0, device="cpu"),
    ).fit(X, y)
    huge = X * np.float32(2.0**64)  # row norms ~ 1e20: squares overflow float32
    space = model[0].reanchor(huge[model[0].anchor_indices_])
    Z, Z_huge = model[0].transform(X), space.transform(huge)
    assert np.isfinite(Z_huge).all()
    np.testing.assert_allclose(Z_huge, Z, atol=1e-4)
    proba = model[-1].predict_proba(Z_huge)
    assert np.isfinite(proba).all()


def test_overflowing_output_is_a_clear_error_not_a_nan():
    X = np.array([[3e38, -3e38], [-3e38, 3e38], [1.0, 1.0]], dtype=np.float32)
    projector = RelativeProjector("l1", anchors=X[:2]).fit(X)
    with pytest.raises(ValueError, match="overflows.*float64"):
        projector.transform(X)
    assert np.isfinite(projector.transform(X.astype(np.float64))).all()


def test_kmeans_anchor_selection_always_returns_n_anchors():
    X = np.repeat(np.arange(5.0)[:, None], 8, axis=0) * np.ones((1, 3))
    projector = RelativeProjector(
        n_anchors=12, anchor_selection="kmeans", random_state=0
    ).fit(X)
    assert projector.anchors_.shape == (12, 3)
    assert len(set(projector.anchor_indices_.tolist())) == 12


def test_anchors_are_copied_at_fit():
    rng = np.random.RandomState(4)
    X, anchors = rng.normal(size=(20, 3)), rng.normal(size=(4, 3))
    projector = RelativeProjector(anchors=anchors).fit(X)
    before = projector.transform(X)
    anchors += 100.0
    np.testing.assert_array_equal(projector.transform(X), before)
    reanchored = projector.reanchor(anchors)
    anchors -= 50.0
    np.testing.assert_array_equal(reanchored.anchors_, anchors + 50.0)


@pytest.mark.parametrize("similarity", ["l1", "linf"])
def test_transform_leaves_torch_and_numba_thread_counts_alone(similarity):
    numba = pytest.importorskip("numba")
    X = np.random.RandomState(5).normal(size=(300, 16)).astype(np.float32)
    projector = RelativeProjector(similarity, n_anchors=10, random_state=0).fit(X)
    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    try:
        projector.transform(X)
        assert torch.get_num_threads() == 1
        assert numba.get_num_threads() == numba_threads
    finally:
        torch.set_num_threads(torch_threads)


@pytest.mark.parametrize("name", ["n_anchors", "batch_size"])
def test_bool_counts_are_rejected_before_any_work(name):
    with pytest.raises(TypeError, match=f"{name}.*not the bool True"):
        RelativeProjector(**{name: True}).fit(np.ones((5, 2)))


def test_unsupported_device_is_rejected_at_fit():
    with pytest.raises(ValueError, match="device='meta' is not supported"):
        RelativeProjector(n_anchors=2, device="meta").fit(np.ones((5, 2)))


def test_stratified_anchors_need_one_dimensional_labels():
    X = np.random.RandomState(6).normal(size=(20, 3))
    with pytest.raises(ValueError, match="1-D class labels"):
        RelativeProjector(n_anchors=4, anchor_selection="stratified").fit(
            X, np.zeros((20, 2))
        )


def test_layout_before_fit_is_a_not_fitted_error():
    with pytest.raises(NotFittedError):
        InvariantProductSpace().layout_  # noqa: B018


def test_dataframe_anchors_keep_feature_names_consistent(recwarn):
    rng = np.random.RandomState(7)
    columns = [f"f{i}" for i in range(4)]
    A = pd.DataFrame(rng.normal(size=(30, 4)), columns=columns)
    B = pd.DataFrame(rng.normal(size=(30, 4)), columns=[f"g{i}" for i in range(4)])
    space = InvariantProductSpace(n_anchors=5, random_state=0).fit(A)
    moved = space.reanchor(B.iloc[space.anchor_indices_])
    moved.transform(B)
    assert list(moved.feature_names_in_) == list(B.columns)
    model = make_pipeline(
        InvariantProductSpace(n_anchors=5, random_state=0),
        LogisticRegression(max_iter=500),
    ).fit(A, np.arange(30) % 2)
    stitched = zero_shot_stitch(model, B.iloc[model[0].anchor_indices_])
    stitched.predict(B)
    stitched.predict(B)
    assert not [w for w in recwarn if "feature names" in str(w.message)]


def test_stitcher_reads_huge_and_tiny_relative_values_like_ordinary_ones():
    """Its per-subspace LayerNorm is scale-free, so exact rescaling changes nothing."""
    rng = np.random.RandomState(8)
    y = rng.randint(2, size=80)
    Z = rng.normal(size=(80, 12)) + y[:, None]
    stitcher = StitchingClassifier(
        subspaces=3, max_epochs=2, random_state=0, device="cpu"
    ).fit(Z, y)
    expected = stitcher.predict_proba(Z)
    for factor in (2.0**100, 2.0**-100, 1e300):
        # Only the LayerNorm's eps (1e-5, against block variances of order 0.1
        # once rescaled) tells the two apart.
        np.testing.assert_allclose(
            stitcher.predict_proba(Z * factor), expected, atol=2e-4
        )


# the euclidean kernel at matmul speed (issue 21, item 2) ---------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_euclidean_resolves_near_duplicates_in_far_clusters_wider_than_a_matmul_block(
    dtype,
):
    """Two clusters far from the anchors' mean, rows wider than ``_DOT_BLOCK``."""
    from sklearn_relrep.relative._expansion import _DOT_BLOCK

    rng = np.random.RandomState(9)
    d = _DOT_BLOCK + 300
    shift = 1e4 if dtype == np.float32 else 1e8
    anchors = (
        rng.normal(size=(30, d)) + shift * np.where(np.arange(30) % 2, 1, -1)[:, None]
    )
    near = anchors[rng.randint(30, size=40)] + 1e-2 * rng.normal(size=(40, d))
    far = anchors[rng.randint(30, size=40)] + rng.normal(size=(40, d))
    X, anchors = np.vstack([near, far]).astype(dtype), anchors.astype(dtype)
    out = RelativeProjector("euclidean", anchors=anchors).fit(X).transform(X)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, _reference("euclidean", X, anchors), rtol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_euclidean_rows_at_or_next_to_the_anchors_mean_are_measured_exactly(dtype):
    """Zero and underflowing squared row norms take the careful magnitude test."""
    rng = np.random.RandomState(10)
    base = rng.randint(-9, 10, size=(4, 16))
    anchors = np.vstack([base, -base]).astype(dtype)  # mean exactly 0
    tiny = np.finfo(dtype).tiny ** 0.75
    X = np.vstack([np.zeros((2, 16)), tiny * rng.normal(size=(3, 16))]).astype(dtype)
    out = RelativeProjector("euclidean", anchors=anchors).fit(X).transform(X)
    np.testing.assert_allclose(out, _reference("euclidean", X, anchors), rtol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_only_squared_norms_in_the_safe_range_prove_rows_moderate(dtype):
    from sklearn_relrep.relative._kernels import _moderate_squares

    info = torch.finfo(dtype)
    for squares in ([0.0, 1.0], [info.tiny, 1.0], [1.0, info.max], [1.0, float("inf")]):
        assert not _moderate_squares(torch.tensor(squares, dtype=dtype), 16)
    assert _moderate_squares(torch.tensor([1e-6, 1.0, 1e6], dtype=dtype), 16)
    assert _moderate_squares(torch.zeros(0, dtype=dtype), 16)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_euclidean_kernel_leaves_the_callers_rows_and_anchors_unchanged(dtype):
    from sklearn_relrep.relative._kernels import prepare_similarity

    generator = torch.Generator().manual_seed(11)
    anchors = 1e3 + torch.randn(7, 20, generator=generator, dtype=dtype)
    x = torch.cat([anchors[:3] + 1e-3, 1e3 + torch.randn(5, 20, dtype=dtype)])
    x_before, anchors_before = x.clone(), anchors.clone()
    out = prepare_similarity("euclidean", anchors)(x)
    torch.testing.assert_close(out, torch.cdist(x, anchors), rtol=1e-3, atol=0)
    assert torch.equal(x, x_before) and torch.equal(anchors, anchors_before)
