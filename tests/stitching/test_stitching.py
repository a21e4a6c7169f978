"""StitchingClassifier and StitchingRegressor: pipelines, layouts, search, errors."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
)
from sklearn_relrep._layout import infer_layout
from sklearn_relrep.stitching import _base as _stitching_base
from sklearn_relrep.stitching._base import PRODUCT_AGGREGATION

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
    assert model[-1].layout_.widths == (40,)
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
    assert model[-1].layout_.widths == (20, 20, 20, 20)
    assert model.score(X, y) > 0.8


def test_layout_from_pandas_column_names(digits):
    X, y = digits
    space = InvariantProductSpace(["cosine", "l1"], n_anchors=10, random_state=0)
    frame = space.set_output(transform="pandas").fit_transform(X)
    assert isinstance(frame, pd.DataFrame)
    stitcher = StitchingClassifier(aggregation="sum", max_epochs=1).fit(frame, y)
    assert stitcher.layout_ == space.layout_


def test_subspaces_overrides(digits):
    X, y = digits
    split = StitchingClassifier(subspaces=4, max_epochs=1).fit(X, y)
    assert split.subspace_widths_.tolist() == [16] * 4
    assert split.aggregation_ == PRODUCT_AGGREGATION
    sizes = StitchingClassifier(subspaces=[60, 4], max_epochs=1).fit(X, y)
    assert sizes.subspace_widths_.tolist() == [60, 4]
    assert sizes.aggregation_ == "concat"
    single = StitchingClassifier(max_epochs=1).fit(X, y)
    assert single.subspace_widths_.tolist() == [64]
    assert single.aggregation_ == "concat"


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


# the layout contract ------------------------------------------------------------


@pytest.fixture(scope="module")
def product(digits):
    X, y = digits
    space = InvariantProductSpace(["cosine", "l1"], n_anchors=8, random_state=0)
    return space.fit(X), space.transform(X), y


def test_layout_survives_a_scaler_when_given_explicitly(product):
    space, Z, y = product
    scaled = StandardScaler().fit_transform(Z)
    assert infer_layout(scaled) is None
    for subspaces in (space, space.layout_, [8, 8], 2):
        model = StitchingClassifier(subspaces=subspaces, max_epochs=1).fit(scaled, y)
        assert model.subspace_widths_.tolist() == [8, 8]
        assert model.aggregation_ == PRODUCT_AGGREGATION
    named = StitchingClassifier(subspaces=space, max_epochs=1).fit(scaled, y)
    assert named.layout_ == space.layout_
    assert named.subspace_names_.dtype == object
    assert named.subspace_widths_.dtype.kind == "i"


def test_a_dropped_layout_warns_when_blending_was_asked_for(product):
    _, Z, y = product
    scaled = StandardScaler().fit_transform(Z)
    with pytest.warns(UserWarning, match="subspaces=space.layout_"):
        StitchingClassifier(aggregation="attention", max_epochs=1).fit(scaled, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        auto = StitchingClassifier(max_epochs=1).fit(scaled, y)
        StitchingClassifier(subspaces=1, aggregation="sum", max_epochs=1).fit(Z, y)
    assert auto.aggregation_ == "concat" and auto.aggregation == "auto"


def test_fitted_space_as_subspaces_through_clone(product):
    space, Z, y = product
    with pytest.raises(ValueError, match="FrozenEstimator"):
        clone(StitchingClassifier(subspaces=space, max_epochs=1)).fit(Z, y)
    frozen = clone(StitchingClassifier(subspaces=FrozenEstimator(space), max_epochs=1))
    assert frozen.fit(np.asarray(Z), y).layout_ == space.layout_


def test_aggregation_auto_follows_the_product_constant(product, monkeypatch):
    _, Z, y = product
    model = StitchingClassifier(max_epochs=1).fit(Z, y)
    assert model.aggregation_ == PRODUCT_AGGREGATION == "weighted"
    assert model.get_params()["aggregation"] == "auto"
    monkeypatch.setattr(_stitching_base, "PRODUCT_AGGREGATION", "attention")
    assert StitchingClassifier(max_epochs=1).fit(Z, y).aggregation_ == "attention"


def test_layout_is_read_only(product):
    _, Z, y = product
    model = StitchingClassifier(max_epochs=1).fit(Z, y)
    with pytest.raises(AttributeError):
        model.layout_ = None
    assert not hasattr(StitchingClassifier(), "layout_")


@pytest.mark.parametrize(
    "subspaces, error",
    [
        (2.0, ValueError),
        ("two", ValueError),
        (0, ValueError),
        (-1, ValueError),
        ([2.5, 61.5], ValueError),
        ([0, 64], ValueError),
        ([True, 63], ValueError),
        ([], ValueError),
        (RelativeProjector(), ValueError),
        (StandardScaler().fit(np.eye(3)), TypeError),
    ],
)
def test_invalid_subspaces_are_refused_before_training(digits, subspaces, error):
    X, y = digits
    model = StitchingClassifier(subspaces=subspaces, max_epochs=1)
    with pytest.raises(error, match="subspaces"):
        model.fit(X, y)
    assert not hasattr(model, "net_")


# the state protocol ----------------------------------------------------------


def _restored(model):
    return type(model)(**model.get_params())._set_state(model._get_state())


def test_state_round_trip_predicts_identically(product):
    space, Z, y = product
    classifier = StitchingClassifier(max_epochs=2, random_state=0).fit(Z, y)
    state = classifier._get_state()
    assert set(state) == {
        "subspace_names_",
        "subspace_widths_",
        "aggregation_",
        "n_features_in_",
        "classes_",
        "n_iter_",
        "module_state",
    }
    assert all(isinstance(v, np.ndarray) for v in state["module_state"].values())
    restored = _restored(classifier)
    np.testing.assert_array_equal(
        restored.predict_proba(Z), classifier.predict_proba(Z)
    )
    assert restored.layout_ == classifier.layout_ == space.layout_

    regressor = StitchingRegressor(max_epochs=1, random_state=0).fit(Z, y * 1.0)
    assert (regressor.y_ndim_, regressor.n_outputs_) == (1, 1)
    restored = _restored(regressor)
    assert restored.predict(Z).ndim == 1
    np.testing.assert_array_equal(restored.predict(Z), regressor.predict(Z))
    two_d = StitchingRegressor(max_epochs=1).fit(Z, y[:, None] * 1.0)
    assert _restored(two_d).predict(Z).shape == (len(Z), 1)


def test_state_is_checked_before_anything_is_set(product):
    _, Z, y = product
    model = StitchingClassifier(max_epochs=1, random_state=0).fit(Z, y)
    state = model._get_state()

    def fresh():
        return StitchingClassifier(**model.get_params())

    with pytest.raises(ValueError, match="unknown keys \\['predict'\\]"):
        fresh()._set_state({**state, "predict": "x"})
    with pytest.raises(ValueError, match="lacks \\['classes_'\\]"):
        fresh()._set_state({k: v for k, v in state.items() if k != "classes_"})
    weights = dict(state["module_state"])
    key = next(k for k in weights if k.startswith("head"))
    weights[key] = weights[key][:-1]
    target = fresh()
    with pytest.raises(ValueError, match=key.replace(".", "\\.")):
        target._set_state({**state, "module_state": weights})
    assert not hasattr(target, "net_") and not hasattr(target, "classes_")
    nan = {k: np.full_like(v, np.nan) for k, v in state["module_state"].items()}
    with pytest.raises(ValueError, match="non-finite"):
        fresh()._set_state({**state, "module_state": nan})
    with pytest.raises(ValueError, match="do not fit"):
        StitchingClassifier(hidden_sizes=(7,))._set_state(state)
    with pytest.raises(ValueError, match="layout"):
        fresh()._set_state({**state, "subspace_widths_": np.array([8, -8])})
    with pytest.raises(ValueError, match="classes_"):
        fresh()._set_state({**state, "classes_": np.array([3])})


def test_subspace_dropout_is_wired_to_the_module(product):
    _, Z, y = product
    model = StitchingClassifier(subspace_dropout=0.3, max_epochs=1).fit(Z, y)
    assert model.net_.module_.subspace_dropout.p == 0.3
    with pytest.raises(ValueError, match="subspace_dropout"):
        StitchingClassifier(subspace_dropout=1.0).fit(Z, y)


def test_fits_in_concurrent_threads_match_serial_fits(digits):
    """torch's global RNG is shared by threads; seeded fits must not interleave."""
    X, y = digits

    def fit(seed):
        model = StitchingClassifier(max_epochs=3, dropout=0.3, random_state=seed)
        return model.fit(X, y).predict_proba(X)

    serial = [fit(seed) for seed in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(fit, range(4)))
    for expected, got in zip(serial, threaded, strict=True):
        np.testing.assert_array_equal(got, expected)
