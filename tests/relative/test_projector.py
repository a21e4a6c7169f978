"""RelativeProjector: reference values, invariances, chunking and bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import csr_matrix
from scipy.spatial.distance import cdist
from scipy.stats import ortho_group

from sklearn_relrep import RelativeProjector

SCIPY_METRIC = {
    "euclidean": "euclidean",
    "l1": "cityblock",
    "linf": "chebyshev",
    "cosine": "cosine",
}
RNG = np.random.default_rng(0)
TOLERANCE = {
    np.float32: dict(rtol=1e-4, atol=1e-4),
    np.float64: dict(rtol=1e-10, atol=1e-10),
}


def _reference(X, anchors, similarity):
    values = cdist(
        X.astype(np.float64), anchors.astype(np.float64), SCIPY_METRIC[similarity]
    )
    return 1.0 - values if similarity == "cosine" else values


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "l1", "linf"])
def test_matches_scipy_cdist(similarity, dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(57, 13)).astype(dtype)
    anchors = rng.normal(size=(9, 13)).astype(dtype)
    R = RelativeProjector(similarity, anchors=anchors, device="cpu").fit(X).transform(X)
    assert R.dtype == dtype
    np.testing.assert_allclose(
        R, _reference(X, anchors, similarity), **TOLERANCE[dtype]
    )


def test_anchors_drawn_from_x_are_rows_of_x():
    X = np.random.RandomState(0).normal(size=(40, 5))
    projector = RelativeProjector(n_anchors=7, random_state=1).fit(X)
    np.testing.assert_array_equal(projector.anchors_, X[projector.anchor_indices_])
    assert len(set(projector.anchor_indices_.tolist())) == 7


def test_random_state_makes_anchor_draws_repeatable():
    X = np.random.RandomState(0).normal(size=(40, 5))
    first = RelativeProjector(n_anchors=7, random_state=3).fit(X).anchor_indices_
    second = RelativeProjector(n_anchors=7, random_state=3).fit(X).anchor_indices_
    other = RelativeProjector(n_anchors=7, random_state=4).fit(X).anchor_indices_
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_anchor_draw_leaves_torch_global_rng_untouched():
    state = torch.get_rng_state()
    X = np.random.RandomState(0).normal(size=(40, 5))
    RelativeProjector(n_anchors=7, anchor_selection="kmeans", random_state=0).fit(X)
    assert torch.equal(state, torch.get_rng_state())


def test_user_callable_similarity():
    def dot(x, anchors):
        return x @ anchors.T

    X = np.random.RandomState(0).normal(size=(20, 4))
    projector = RelativeProjector(dot, n_anchors=5, random_state=0).fit(X)
    np.testing.assert_allclose(projector.transform(X), X @ projector.anchors_.T)
    assert projector.get_feature_names_out()[0] == "dot_a0"


# --- invariances -------------------------------------------------------------------

finite_seeds = st.integers(min_value=0, max_value=2**31 - 1)


def _space(seed, n=30, d=6, k=8):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, d)), rng


def _relative(similarity, X, anchors, **params):
    projector = RelativeProjector(similarity, anchors=anchors, device="cpu", **params)
    return projector.fit(X).transform(X)


def _random_transform(kind, rng, d):
    if kind == "orthogonal":
        Q = ortho_group.rvs(d, random_state=rng)
        return lambda Z: Z @ Q
    if kind == "scale":
        s = rng.uniform(0.1, 10.0)
        return lambda Z: s * Z
    if kind == "translation":
        t = rng.normal(scale=5.0, size=d)
        return lambda Z: Z + t
    if kind == "permutation_sign":
        perm, signs = rng.permutation(d), rng.choice([-1.0, 1.0], size=d)
        return lambda Z: Z[:, perm] * signs
    raise AssertionError(kind)


def _expansion_atol(*arrays):
    """Rounding of euclidean distances computed as |x|^2 + |a|^2 - 2<x, a>.

    Near-zero distances (a sample to itself) carry about sqrt(eps) * |x| of error.
    """
    largest_norm = max(np.linalg.norm(a, axis=1).max() for a in arrays)
    return 4 * np.sqrt(np.finfo(np.float64).eps) * largest_norm


INVARIANCE_GROUPS = {
    "cosine": ["orthogonal", "scale"],
    "euclidean": ["orthogonal", "translation"],
    "l1": ["permutation_sign", "translation"],
    "linf": ["permutation_sign", "translation"],
}


@pytest.mark.parametrize(
    "similarity,kind",
    [(s, kind) for s, kinds in INVARIANCE_GROUPS.items() for kind in kinds],
)
@settings(max_examples=25, deadline=None)
@given(seed=finite_seeds)
def test_invariant_to_its_group(similarity, kind, seed):
    X, rng = _space(seed)
    anchors = X[:8]
    T = _random_transform(kind, rng, X.shape[1])
    np.testing.assert_allclose(
        _relative(similarity, T(X), T(anchors)),
        _relative(similarity, X, anchors),
        rtol=1e-7,
        atol=_expansion_atol(X, T(X)) if similarity == "euclidean" else 1e-9,
    )


@settings(max_examples=25, deadline=None)
@given(seed=finite_seeds)
def test_centred_cosine_is_also_translation_invariant(seed):
    X, rng = _space(seed)
    T = _random_transform("translation", rng, X.shape[1])
    np.testing.assert_allclose(
        _relative("cosine", T(X), T(X[:8]), preprocessing="center"),
        _relative("cosine", X, X[:8], preprocessing="center"),
        atol=1e-9,
    )


@pytest.mark.parametrize("similarity", ["euclidean", "l1", "linf"])
@settings(max_examples=25, deadline=None)
@given(seed=finite_seeds)
def test_scaled_distances_are_rescaling_invariant(similarity, seed):
    X, rng = _space(seed)
    s = rng.uniform(0.1, 10.0)
    np.testing.assert_allclose(
        _relative(similarity, s * X, s * X[:8], output_scaling="scale"),
        _relative(similarity, X, X[:8], output_scaling="scale"),
        rtol=1e-7,
        atol=_expansion_atol(X) if similarity == "euclidean" else 0,
    )


OUT_OF_GROUP = {"cosine": "anisotropic", "l1": "rotation", "linf": "rotation"}


@pytest.mark.parametrize("similarity", sorted(OUT_OF_GROUP))
@settings(max_examples=25, deadline=None)
@given(seed=finite_seeds)
def test_transform_outside_the_group_changes_the_representation(similarity, seed):
    X, rng = _space(seed)
    d = X.shape[1]
    if OUT_OF_GROUP[similarity] == "anisotropic":
        M = np.diag(np.linspace(0.2, 5.0, d))
    else:  # a generic rotation: far from every signed permutation
        M = ortho_group.rvs(d, random_state=rng)
    moved = _relative(similarity, X @ M, X[:8] @ M)
    assert np.abs(moved - _relative(similarity, X, X[:8])).max() > 1e-3


# --- chunking and devices -----------------------------------------------------------


@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "l1", "linf"])
def test_chunked_transform_equals_unchunked(similarity):
    X = np.random.RandomState(0).normal(size=(103, 7)).astype(np.float32)
    full = RelativeProjector(similarity, n_anchors=11, random_state=0, batch_size=1000)
    chunked = RelativeProjector(similarity, n_anchors=11, random_state=0, batch_size=10)
    np.testing.assert_array_equal(full.fit(X).transform(X), chunked.fit(X).transform(X))


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"
)
@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "l1", "linf"])
def test_cuda_equals_cpu(similarity):
    X = np.random.RandomState(0).normal(size=(300, 16))
    cpu = RelativeProjector(similarity, n_anchors=20, random_state=0, device="cpu").fit(
        X
    )
    gpu = RelativeProjector(
        similarity, n_anchors=20, random_state=0, device="cuda"
    ).fit(X)
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), rtol=1e-6, atol=1e-8)


def test_auto_device_is_not_written_back():
    X = np.random.RandomState(0).normal(size=(20, 3))
    projector = RelativeProjector(n_anchors=4, device="auto").fit(X)
    projector.transform(X)
    assert projector.get_params()["device"] == "auto"


def test_cuda_on_cpu_only_machine_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X = np.random.RandomState(0).normal(size=(20, 3))
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        RelativeProjector(n_anchors=4, device="cuda").fit(X).transform(X)


# --- re-anchoring -----------------------------------------------------------------


def test_reanchor_to_a_wider_space_and_leaves_original_unchanged():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(50, 4))
    embed = rng.normal(size=(4, 9))  # an injective linear map into a wider space
    Q = np.linalg.qr(embed.T)[0].T  # orthonormal rows: norms and angles preserved
    projector = RelativeProjector(n_anchors=6, random_state=0).fit(X)
    before = projector.transform(X)
    stitched = projector.reanchor(projector.anchors_ @ Q)
    assert stitched.n_features_in_ == 9
    np.testing.assert_allclose(stitched.transform(X @ Q), before, atol=1e-12)
    np.testing.assert_array_equal(projector.transform(X), before)
    assert projector.n_features_in_ == 4


def test_reanchor_with_other_anchor_count_is_an_error():
    X = np.random.RandomState(0).normal(size=(30, 4))
    projector = RelativeProjector(n_anchors=6, random_state=0).fit(X)
    with pytest.raises(ValueError, match="reanchor got 5 anchors .* fitted with 6"):
        projector.reanchor(X[:5])


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input_is_rejected(bad):
    X = np.ones((10, 3))
    X[2, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        RelativeProjector(n_anchors=2).fit(X)
    fitted = RelativeProjector(n_anchors=2).fit(RNG.random((10, 3)))
    with pytest.raises(ValueError, match="NaN|infinity"):
        fitted.transform(X)


def test_empty_x_is_rejected():
    with pytest.raises(ValueError, match="0 sample"):
        RelativeProjector(n_anchors=2).fit(np.empty((0, 3)))


def test_one_dimensional_x_is_rejected():
    with pytest.raises(ValueError, match="Expected 2D array"):
        RelativeProjector(n_anchors=2).fit(np.arange(5.0))


def test_more_anchors_than_samples_is_rejected():
    with pytest.raises(ValueError, match="n_anchors=11 is larger than n_samples=10"):
        RelativeProjector(n_anchors=11).fit(RNG.random((10, 3)))


def test_explicit_anchors_of_the_wrong_width_are_rejected():
    with pytest.raises(ValueError, match="anchors have 4 features but X has 3"):
        RelativeProjector(anchors=np.ones((2, 4))).fit(RNG.random((10, 3)))


@pytest.mark.parametrize("preprocessing", [None, "l2", "center"])
def test_zero_vector_under_cosine_stays_finite(preprocessing):
    X = np.random.RandomState(0).normal(size=(10, 3))
    X[0] = 0.0
    R = (
        RelativeProjector(anchors=X[:4], preprocessing=preprocessing)
        .fit(X)
        .transform(X)
    )
    assert np.isfinite(R).all()
    if preprocessing is None:
        np.testing.assert_array_equal(R[0], 0.0)


def test_stratified_without_y_is_rejected():
    with pytest.raises(ValueError, match="'stratified' needs y"):
        RelativeProjector(n_anchors=2, anchor_selection="stratified").fit(
            RNG.random((10, 3))
        )


def test_unknown_similarity_name_is_rejected():
    with pytest.raises(ValueError, match="similarity"):
        RelativeProjector("manhattan", n_anchors=2).fit(RNG.random((10, 3)))


def test_callable_with_wrong_shape_is_rejected():
    def bad(x, anchors):
        return x.sum(1)

    fitted = RelativeProjector(bad, n_anchors=2).fit(RNG.random((10, 3)))
    with pytest.raises(ValueError, match=r"'bad' returned \(10,\).*\(10, 2\)"):
        fitted.transform(RNG.random((10, 3)))


def test_sparse_input_is_a_type_error():
    with pytest.raises(TypeError, match="[Ss]parse"):
        RelativeProjector(n_anchors=2).fit(csr_matrix(np.eye(5)))


def test_complex_input_is_rejected():
    with pytest.raises(ValueError, match="[Cc]omplex"):
        RelativeProjector(n_anchors=2).fit(np.ones((5, 2), dtype=complex))


def test_feature_count_change_at_transform_is_rejected():
    fitted = RelativeProjector(n_anchors=2).fit(RNG.random((10, 3)))
    with pytest.raises(ValueError, match="3 features"):
        fitted.transform(RNG.random((10, 4)))
