"""pairwise_space_similarity: the K x K matrix of a metric, through joblib."""

import builtins

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config

from sklearn_relrep.metrics import (
    knn_jaccard_score,
    linear_cka,
    mean_reciprocal_rank,
    pairwise_distance_correlation,
    pairwise_space_similarity,
)


def _spaces(n=80, seed=0):
    rng = np.random.RandomState(seed)
    base = rng.normal(size=(n, 6))
    return {
        "base": base,
        "rotated": base @ np.linalg.qr(rng.normal(size=(6, 6)))[0],
        "nonlinear": np.tanh(base @ rng.normal(size=(6, 4))),
        "noisy": base + 0.8 * rng.normal(size=base.shape),
        "unrelated": rng.normal(size=(n, 6)),
    }


def test_each_entry_is_the_metric_of_that_pair():
    spaces = _spaces()
    matrix = pairwise_space_similarity(spaces, linear_cka)
    assert isinstance(matrix, pd.DataFrame)
    assert list(matrix.index) == list(matrix.columns) == list(spaces)
    for a, X in spaces.items():
        for b, Y in spaces.items():
            assert matrix.loc[a, b] == pytest.approx(linear_cka(X, Y), abs=1e-12)
    assert matrix.loc["base", "rotated"] == pytest.approx(1.0)
    assert matrix.loc["base", "unrelated"] < 0.3


@pytest.mark.parametrize(
    "metric, params",
    [
        (linear_cka, {}),
        (knn_jaccard_score, {"n_neighbors": 5}),
        (pairwise_distance_correlation, {"n_pairs": 500, "random_state": 0}),
    ],
)
def test_symmetric_metrics_give_an_exactly_symmetric_matrix(metric, params):
    matrix = pairwise_space_similarity(_spaces(), metric, **params).to_numpy()
    np.testing.assert_array_equal(matrix, matrix.T)
    assert matrix[0, 4] < matrix[0, 1]


def test_an_asymmetric_metric_computes_both_directions():
    spaces = {name: Z[:, :4] for name, Z in _spaces().items()}
    matrix = pairwise_space_similarity(spaces, mean_reciprocal_rank)
    assert matrix.loc["base", "noisy"] == mean_reciprocal_rank(
        spaces["base"], spaces["noisy"]
    )
    assert matrix.loc["noisy", "base"] == mean_reciprocal_rank(
        spaces["noisy"], spaces["base"]
    )
    assert matrix.loc["base", "noisy"] != matrix.loc["noisy", "base"]


def test_one_and_two_jobs_give_identical_matrices():
    spaces = _spaces()
    serial = pairwise_space_similarity(spaces, knn_jaccard_score, n_neighbors=5)
    parallel = pairwise_space_similarity(
        spaces, knn_jaccard_score, n_jobs=2, n_neighbors=5
    )
    pd.testing.assert_frame_equal(serial, parallel, check_exact=True)
    with parallel_config(backend="threading"):
        threaded = pairwise_space_similarity(
            spaces, knn_jaccard_score, n_jobs=2, n_neighbors=5
        )
    pd.testing.assert_frame_equal(serial, threaded, check_exact=True)


def test_without_pandas_the_matrix_is_an_ndarray(monkeypatch):
    # Only the import fails: scikit-learn < 1.7 reads sys.modules["pandas"].
    real_import = builtins.__import__

    def import_without_pandas(name, *args, **kwargs):
        if name.split(".")[0] == "pandas":
            raise ImportError("No module named 'pandas'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", import_without_pandas)
    matrix = pairwise_space_similarity(
        {"a": _spaces()["base"], "b": _spaces()["noisy"]}
    )
    assert type(matrix) is np.ndarray
    assert matrix.shape == (2, 2)


def test_spaces_of_different_lengths_are_rejected_by_name():
    spaces = _spaces()
    spaces["short"] = spaces["base"][:50]
    with pytest.raises(ValueError, match="numbers of rows differ.*'short': 50"):
        pairwise_space_similarity(spaces)


def test_spaces_must_be_a_mapping_of_names():
    with pytest.raises(ValueError, match="spaces"):
        pairwise_space_similarity([np.eye(3), np.eye(3)])
    with pytest.raises(ValueError, match="spaces\\['b'\\]"):
        pairwise_space_similarity({"a": np.eye(3), "b": np.full((3, 3), np.nan)})
