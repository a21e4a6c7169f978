"""Property: every metric returns a finite score within its bounds, or raises.

Hypothesis draws paired spaces in float32 and float64 with magnitudes from 1e-30
to 1e30 (per row as well as per space), exact zeros, duplicated rows and
constant columns. Whatever it draws, each public metric either returns a finite
float inside its documented range or raises ``ValueError`` (the policy in
:mod:`sklearn_relrep.metrics`); NaN, infinity, a numpy floating-point warning
or any other exception fails. The seed is fixed (``derandomize=True``).
"""

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_relrep.metrics import (
    knn_jaccard_score,
    linear_cka,
    mean_cosine_similarity,
    mean_reciprocal_rank,
    pairwise_distance_correlation,
    rbf_cka,
    svcca,
)

# name -> (metric(X, Y, Z) with Z of X's width, lowest, highest)
METRICS = {
    "linear_cka": (lambda X, Y, Z: linear_cka(X, Y), 0.0, 1.0),
    "linear_cka_debiased": (
        lambda X, Y, Z: linear_cka(X, Y, debiased=True),
        -1.0,
        1.0,
    ),
    "rbf_cka": (lambda X, Y, Z: rbf_cka(X, Y), 0.0, 1.0),
    "rbf_cka_debiased": (lambda X, Y, Z: rbf_cka(X, Y, debiased=True), -1.0, 1.0),
    "svcca": (lambda X, Y, Z: svcca(X, Y), 0.0, 1.0),
    "distance_correlation": (
        lambda X, Y, Z: pairwise_distance_correlation(X, Y),
        -1.0,
        1.0,
    ),
    "distance_correlation_cosine_spearman": (
        lambda X, Y, Z: pairwise_distance_correlation(
            X, Y, metric="cosine", method="spearman"
        ),
        -1.0,
        1.0,
    ),
    "jaccard_cosine": (
        lambda X, Y, Z: knn_jaccard_score(X, Y, n_neighbors=2),
        0.0,
        1.0,
    ),
    "jaccard_euclidean": (
        lambda X, Y, Z: knn_jaccard_score(X, Y, n_neighbors=2, metric="euclidean"),
        0.0,
        1.0,
    ),
    "mrr_cosine": (lambda X, Y, Z: mean_reciprocal_rank(X, Z), 0.0, 1.0),
    "mrr_euclidean": (
        lambda X, Y, Z: mean_reciprocal_rank(X, Z, metric="euclidean"),
        0.0,
        1.0,
    ),
    "mean_cosine_similarity": (
        lambda X, Y, Z: mean_cosine_similarity(X, Z),
        -1.0,
        1.0,
    ),
}


@st.composite
def spaces(draw, n_samples, width, dtype):
    """``mantissa * 10**exponent``, the exponent drawn per space and per row."""
    mantissa = draw(
        arrays(
            np.float64,
            (n_samples, width),
            elements=st.floats(-1.0, 1.0, width=32),
        )
    )
    exponent = draw(st.integers(-27, 27))
    row_exponents = draw(arrays(np.int64, (n_samples, 1), elements=st.integers(-3, 3)))
    offset = draw(st.sampled_from([0.0, 0.0, 1.0, -100.0]))
    return ((mantissa + offset) * 10.0 ** (exponent + row_exponents)).astype(dtype)


@st.composite
def paired_spaces(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n_samples = draw(st.integers(4, 10))
    width_x, width_y = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    X = draw(spaces(n_samples, width_x, dtype))
    Y = draw(spaces(n_samples, width_y, dtype))
    Z = draw(spaces(n_samples, width_x, dtype))
    return X, Y, Z


@settings(
    derandomize=True,
    deadline=None,
    max_examples=120,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(paired_spaces())
def test_every_metric_is_finite_and_bounded_or_raises_value_error(data):
    X, Y, Z = data
    for name, (metric, lowest, highest) in METRICS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            try:
                value = metric(X, Y, Z)
            except ValueError:
                continue
        assert isinstance(value, float), name
        assert np.isfinite(value), f"{name} returned {value}"
        assert lowest <= value <= highest, f"{name} returned {value}"
