"""StitchingClassifier and StitchingRegressor: pipelines, layouts, search, errors."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
)

FAST = {"max_epochs": 8, "lr": 1e-2, "hidden_sizes": (32,), "device": "cpu"}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400], y[:400]


def test_pipeline_with_relative_projector(digits):
    X, y = digits
    model = Pipeline(
        [
            ("relative", RelativeProjector(n_anchors=40, random_state=0)),
            ("stitcher", StitchingClassifier(random_state=0, **FAST)),
        ]
    ).fit(X, y)
    assert model[-1].subspace_sizes_ == (40,)
    assert model.score(X, y) > 0.8
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(model.classes_[proba.argmax(1)], model.predict(X))


def test_attention_reads_the_layout_of_the_product_space(digits):
    X, y = digits
    model = Pipeline(
        [
            ("product", InvariantProductSpace(n_anchors=20, random_state=0)),
            ("stitcher", StitchingClassifier(aggregation="attention", **FAST)),
        ]
    ).fit(X, y)
    assert model[-1].subspace_sizes_ == (20, 20, 20, 20)
    assert model.score(X, y) > 0.8


def test_layout_from_pandas_column_names(digits):
    X, y = digits
    space = InvariantProductSpace(["cosine", "l1"], n_anchors=10, random_state=0)
    frame = space.set_output(transform="pandas").fit_transform(X)
    assert isinstance(frame, pd.DataFrame)
    stitcher = StitchingClassifier(aggregation="sum", max_epochs=1).fit(frame, y)
    assert stitcher.subspace_sizes_ == (10, 10)


def test_subspaces_overrides(digits):
    X, y = digits
    assert (
        StitchingClassifier(subspaces=4, max_epochs=1).fit(X, y).subspace_sizes_
        == (16,) * 4
    )
    sizes = StitchingClassifier(subspaces=[60, 4], max_epochs=1).fit(X, y)
    assert sizes.subspace_sizes_ == (60, 4)
    assert StitchingClassifier(max_epochs=1).fit(X, y).subspace_sizes_ == (64,)


def test_string_labels(digits):
    X, y = digits
    names = np.array(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    )[y]
    model = StitchingClassifier(random_state=0, **FAST).fit(X, names)
    assert set(model.classes_) == set(names)
    assert set(model.predict(X)) <= set(names)
    assert model.score(X, names) > 0.8


def test_grid_search_over_similarities_aggregation_and_lr(digits):
    X, y = digits
    pipeline = Pipeline(
        [
            ("product", InvariantProductSpace(n_anchors=12, random_state=0)),
            ("stitcher", StitchingClassifier(max_epochs=2, device="cpu")),
        ]
    )
    grid = {
        "product__similarities": [("cosine",), ("cosine", "euclidean", "l1")],
        "stitcher__aggregation": ["concat", "attention"],
        "stitcher__lr": [1e-3, 1e-2],
    }
    search = GridSearchCV(pipeline, grid, cv=2, n_jobs=2, error_score="raise")
    search.fit(X[:200], y[:200])
    assert len(search.cv_results_["params"]) == 8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_regressor_multi_output_reconstruction(digits):
    X, _ = digits
    pixels = X / 16.0
    model = Pipeline(
        [
            ("relative", RelativeProjector("euclidean", n_anchors=40, random_state=0)),
            ("decoder", StitchingRegressor(random_state=0, **FAST)),
        ]
    ).fit(X, pixels)
    reconstruction = model.predict(X)
    assert reconstruction.shape == pixels.shape
    baseline = ((pixels - pixels.mean(0)) ** 2).mean()
    assert ((reconstruction - pixels) ** 2).mean() < 0.7 * baseline
    single = StitchingRegressor(max_epochs=2).fit(X, pixels[:, 20])
    assert single.predict(X).shape == (len(X),)


def test_early_stopping_stops_and_keeps_a_validation_split(digits):
    X, y = digits
    model = StitchingClassifier(
        early_stopping=True,
        n_iter_no_change=1,
        max_epochs=50,
        lr=0.5,
        random_state=0,
    ).fit(X, y)
    history = model.net_.history
    assert "valid_loss" in history[0]
    assert len(history) < 50


def test_same_random_state_same_predictions_and_global_rng_untouched(digits):
    X, y = digits
    params = dict(aggregation="attention", subspaces=4, dropout=0.2, random_state=3)
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = StitchingClassifier(**params, **FAST).fit(X, y).predict_proba(X)
    second = StitchingClassifier(**params, **FAST).fit(X, y).predict_proba(X)
    assert torch.equal(before, torch.random.get_rng_state())
    np.testing.assert_array_equal(first, second)
    other = StitchingClassifier(**{**params, "random_state": 4}, **FAST).fit(X, y)
    assert not np.array_equal(first, other.predict_proba(X))


def test_verbose_prints_an_epoch_table_and_silent_otherwise(digits, capsys):
    X, y = digits
    StitchingClassifier(max_epochs=2, verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""
    StitchingClassifier(max_epochs=2, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "epoch" in out and "train_loss" in out


def test_clear_errors(digits):
    X, y = digits
    with pytest.raises(NotFittedError):
        StitchingClassifier().predict(X)
    model = StitchingClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="64 features"):
        model.predict(X[:, :10])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        StitchingClassifier(max_epochs=1).fit(bad, y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="does not divide"):
        StitchingClassifier(subspaces=5).fit(X, y)
    with pytest.raises(ValueError, match="adding up"):
        StitchingClassifier(subspaces=[30, 30]).fit(X, y)
    with pytest.raises(ValueError, match="equal width"):
        StitchingClassifier(subspaces=[60, 4], aggregation="attention").fit(X, y)
    with pytest.raises(ValueError, match="divisor"):
        StitchingClassifier(subspaces=4, aggregation="attention", n_heads=3).fit(X, y)
