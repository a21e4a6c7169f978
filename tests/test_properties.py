"""Property: every numeric output is finite, or the call raises (issue 9, item 8).

The last property (issue 19, item 2) is about accuracy rather than finiteness:
every similarity, in float32 and float64, matches float64 scipy on inputs built
to make the fast kernels cancel.

Inputs that pass validation span magnitudes from 1e-30 to 1e30 in float32 and
float64. Each public transformer and stitcher either returns finite numbers or
raises a ``ValueError`` that names the cause; it never returns NaN or inf. The
metrics have their own property test in ``tests/test_metrics*.py``. Examples are
drawn from a fixed seed (``derandomize``) so CI runs are repeatable.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.pipeline import make_pipeline

from sklearn_relrep import (
    InvariantProductSpace,
    LinearAligner,
    ProcrustesAligner,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
    zero_shot_stitch,
)

SIMILARITIES = ("cosine", "euclidean", "l1", "linf")
PROPERTY_SETTINGS = settings(
    derandomize=True,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def embeddings(draw, min_rows=6):
    """A float32 or float64 matrix whose rows span many orders of magnitude."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n_rows = draw(st.integers(min_rows, 14))
    n_features = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**16))
    exponents = draw(st.lists(st.integers(-30, 30), min_size=n_rows, max_size=n_rows))
    rng = np.random.RandomState(seed)
    base = rng.normal(size=(n_rows, n_features))
    if draw(st.booleans()):
        base[rng.randint(n_rows)] = 0.0
    return (base * 10.0 ** np.asarray(exponents)[:, None]).astype(dtype)


def _finite_or_value_error(call):
    try:
        out = call()
    except ValueError:
        return None
    assert np.all(np.isfinite(np.asarray(out))), "a non-finite output"
    return out


@PROPERTY_SETTINGS
@given(
    X=embeddings(),
    similarity=st.sampled_from(SIMILARITIES),
    options=st.fixed_dictionaries(
        {
            "preprocessing": st.sampled_from([None, "center", "standard", "l2"]),
            "output_scaling": st.sampled_from([None, "scale", "standard", "layer"]),
            "orientation": st.sampled_from(["raw", "similarity"]),
        }
    ),
)
def test_relative_projector_output_is_finite(X, similarity, options):
    projector = RelativeProjector(
        similarity, n_anchors=4, random_state=0, device="cpu", **options
    )
    fitted = _finite_or_value_error(lambda: projector.fit(X).anchors_)
    if fitted is not None:
        _finite_or_value_error(lambda: projector.transform(X))


@PROPERTY_SETTINGS
@given(X=embeddings(), scale=st.sampled_from([1e-30, 1e-12, 1.0, 1e12, 1e30]))
def test_product_space_and_its_stitch_are_finite(X, scale):
    space = InvariantProductSpace(n_anchors=4, random_state=0, device="cpu")
    if _finite_or_value_error(lambda: space.fit(X).anchors_) is None:
        return
    _finite_or_value_error(lambda: space.transform(X))
    other = (X * scale).astype(X.dtype)
    moved = _finite_or_value_error(
        lambda: space.reanchor(other[space.anchor_indices_]).transform(other)
    )
    if moved is not None:
        assert moved.shape == (X.shape[0], 16)


@pytest.mark.parametrize("stitcher", [StitchingClassifier, StitchingRegressor])
@settings(
    derandomize=True,
    deadline=None,
    max_examples=8,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
@given(X=embeddings(min_rows=8))
def test_stitcher_predictions_are_finite(stitcher, X):
    y = np.arange(X.shape[0]) % 2
    model = make_pipeline(
        RelativeProjector("euclidean", n_anchors=4, random_state=0, device="cpu"),
        stitcher(max_epochs=1, batch_size=8, random_state=0, device="cpu"),
    )
    if _finite_or_value_error(lambda: model.fit(X, y)[0].anchors_) is None:
        return
    _finite_or_value_error(lambda: model.predict(X))
    stitched = zero_shot_stitch(model, (2.0 * X[model[0].anchor_indices_]))
    _finite_or_value_error(lambda: stitched.predict(2.0 * X))


@pytest.mark.parametrize("aligner", [ProcrustesAligner, LinearAligner])
@PROPERTY_SETTINGS
@given(X=embeddings(min_rows=8), scale=st.sampled_from([1e-30, 1.0, 1e30]))
def test_aligner_maps_are_finite(aligner, X, scale):
    rng = np.random.RandomState(0)
    Y = (X @ rng.normal(size=(X.shape[1], X.shape[1]))).astype(X.dtype) * scale
    fitted = _finite_or_value_error(lambda: aligner().fit(X, Y).transform(X))
    if fitted is not None:
        assert fitted.shape == Y.shape


SCIPY_METRICS = {"cosine": "cosine", "euclidean": "euclidean"}
SCIPY_METRICS.update(l1="cityblock", linf="chebyshev")


@st.composite
def adversarial_pairs(draw):
    """Rows and anchors that defeat a naive matmul expansion.

    A shared offset up to 1e4 (constant or per feature), anchors spread from 1e-3
    to 1e3 around it, rows that are anchors plus noise from 0 (exact duplicates)
    to the spread, wide rows (up to 20 000 features), and rows rescaled by
    powers of ten from 1e-12 to 1e12 (mixed magnitudes).
    """
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    d = draw(st.sampled_from([1, 3, 40, 384, 3000, 20000]))
    n_anchors, n_rows = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    shift = draw(st.sampled_from([0.0, 1.0, 1e2, 1e4]))
    offset = shift * (rng.uniform(-1, 1, d) if draw(st.booleans()) else np.ones(d))
    spread = 10.0 ** draw(st.integers(-3, 3))
    anchors = offset + spread * rng.normal(size=(n_anchors, d))
    noise = 10.0 ** rng.randint(-8, 1, size=(n_rows, 1)) * (rng.rand(n_rows, 1) > 0.2)
    rows = anchors[rng.randint(n_anchors, size=n_rows)]
    rows = rows + spread * noise * rng.normal(size=(n_rows, d))
    if draw(st.booleans()):
        rows *= 10.0 ** rng.randint(-12, 13, size=(n_rows, 1))
    return rows.astype(dtype), anchors.astype(dtype)


@pytest.mark.parametrize("similarity", SIMILARITIES)
@settings(derandomize=True, deadline=None, max_examples=30)
@given(pair=adversarial_pairs())
def test_every_similarity_matches_float64_scipy_on_adversarial_inputs(similarity, pair):
    """Within 1e-3 relative, or 1e-6 of the pair's magnitude absolute (issue 19)."""
    X, anchors = pair
    out = RelativeProjector(similarity, anchors=anchors).fit(X).transform(X)
    X64, anchors64 = X.astype(np.float64), anchors.astype(np.float64)
    expected = cdist(X64, anchors64, SCIPY_METRICS[similarity])
    magnitude = np.maximum(
        np.abs(X64).max(1, keepdims=True), np.abs(anchors64).max(1)[None]
    )
    if similarity == "cosine":
        expected, magnitude = 1.0 - expected, 1.0
    assert out.dtype == X.dtype
    error = np.abs(out - expected)
    worst = np.max(error / (1e-3 * np.abs(expected) + 1e-6 * magnitude))
    assert worst <= 1.0, f"error {worst:.3g} times the tolerance"
