"""skorch's plain options and fitted shortcuts on the stitchers (issue 20 item 5)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from skorch.callbacks import EpochScoring
from skorch.dataset import ValidSplit
from skorch.history import History

from sklearn_relrep import (
    StitchingClassifier,
    StitchingRegressor,
    load_stitcher,
    save_stitcher,
)
from sklearn_relrep.nn import StitchingNetwork

FAST = {"max_epochs": 2, "hidden_sizes": (8,), "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 12)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def _fitted(cls, data, **params):
    X, y = data
    target = y if cls is StitchingClassifier else X[:, 0] + X[:, 1]
    return cls(**{**FAST, **params}).fit(X, target), target


@pytest.mark.parametrize("caching", [False, True, "auto"])
def test_use_caching_is_taken_and_reaches_the_net(data, caching):
    model, _ = _fitted(StitchingClassifier, data, use_caching=caching)
    assert model.net_.use_caching == caching
    assert model.get_params()["use_caching"] == caching
    assert clone(model).get_params()["use_caching"] == caching
    assert clone(model).set_params(use_caching=not caching).use_caching == (not caching)


def test_torch_load_kwargs_reach_the_net_and_its_pickle(data):
    X, _ = data
    options = {"weights_only": True}
    model, _ = _fitted(StitchingClassifier, data, torch_load_kwargs=options)
    assert model.net_.torch_load_kwargs == options
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("use_caching", "always", "must be 'auto', True or False"),
        ("torch_load_kwargs", ["weights_only"], "must be None or a dict"),
        ("torch_load_kwargs", {"map_location": "cpu"}, "set device instead"),
    ],
)
def test_invalid_skorch_options_are_refused(data, option, value, message):
    model = StitchingClassifier(**FAST, **{option: value})
    with pytest.raises(ValueError, match=message):
        model.fit(*data)
    assert not hasattr(model, "net_")


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"compile": True}, "torch.compile's compile time"),
        ({"compile__dynamic": True}, "'_orig_mod"),
        ({"predict_nonlinearity": None}, "compute their outputs themselves"),
    ],
)
def test_skorch_options_that_do_not_apply_are_refused_with_the_reason(
    data, params, reason
):
    for model in (
        StitchingClassifier(**FAST, **params),
        StitchingClassifier(**FAST).set_params(**params),
    ):
        with pytest.raises(ValueError, match=reason):
            model.fit(*data)
        assert not hasattr(model, "net_")


@pytest.mark.parametrize("cls", [StitchingClassifier, StitchingRegressor])
def test_history_and_module_are_the_nets(data, cls):
    assert not hasattr(cls(), "history_") and not hasattr(cls(), "module_")
    model, _ = _fitted(cls, data)
    assert isinstance(model.history_, History)
    assert model.history_ is model.net_.history
    assert isinstance(model.module_, StitchingNetwork)
    assert model.module_ is model.net_.module_
    assert len(model.history_) == model.n_iter_ == FAST["max_epochs"]


def test_n_iter_counts_the_epochs_run_before_early_stopping(data):
    model, _ = _fitted(
        StitchingClassifier,
        data,
        max_epochs=60,
        early_stopping=True,
        n_iter_no_change=1,
        lr=0.5,
    )
    assert model.n_iter_ == len(model.history_) < 60


@pytest.mark.parametrize("cls", [StitchingClassifier, StitchingRegressor])
def test_n_iter_adds_up_over_warm_starts_and_partial_fit(data, cls):
    X, _ = data
    model, target = _fitted(cls, data)
    model.set_params(warm_start=True).fit(X, target)
    assert model.n_iter_ == 4
    model.partial_fit(X, target)
    assert model.n_iter_ == 5 == len(model.history_)
    model.set_params(warm_start=False).fit(X, target)
    assert model.n_iter_ == 2


def test_n_iter_and_skorch_options_survive_save_stitcher(tmp_path, data):
    X, y = data
    model, _ = _fitted(
        StitchingClassifier, data, use_caching=False, torch_load_kwargs=None
    )
    model.set_params(warm_start=True).fit(X, y)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert loaded.n_iter_ == model.n_iter_ == 4
    assert loaded.use_caching is False
    assert len(loaded.history_) == 0  # the history is not saved
    loaded.fit(X, y)
    assert loaded.n_iter_ == 6


def test_a_pickled_stitcher_keeps_its_history_and_n_iter(data):
    model, _ = _fitted(StitchingRegressor, data)
    restored = pickle.loads(pickle.dumps(model))
    assert restored.n_iter_ == model.n_iter_
    assert restored.history_[:, "train_loss"] == model.history_[:, "train_loss"]


@pytest.mark.parametrize(
    ("cls", "scoring"),
    [(StitchingClassifier, "accuracy"), (StitchingRegressor, "r2")],
)
def test_scoring_callbacks_take_scikit_learn_scorer_names(data, cls, scoring):
    model, _ = _fitted(
        cls,
        data,
        early_stopping=True,
        callbacks=[EpochScoring(scoring, lower_is_better=False, name="valid_score")],
    )
    scores = model.history_[:, "valid_score"]
    assert len(scores) == model.n_iter_
    assert all(np.isfinite(score) and score <= 1 for score in scores)


def test_the_validation_accuracy_is_the_models_accuracy_on_its_holdout(data):
    X, y = data
    split = ValidSplit(0.3, stratified=True, random_state=0)
    model, _ = _fitted(
        StitchingClassifier,
        data,
        train_split=split,
        callbacks=[EpochScoring("accuracy", name="valid_acc")],
    )
    _, holdout = split(X, y)
    rows = holdout.indices
    assert model.history_[-1, "valid_acc"] == model.score(X[rows], y[rows])
