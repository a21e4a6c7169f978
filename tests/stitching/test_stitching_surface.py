"""The skorch surface of the stitchers: callbacks, criterion, optimizer, prefixes."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback
from skorch.dataset import ValidSplit

from sklearn_relrep import StitchingClassifier, StitchingRegressor
from sklearn_relrep.nn import StitchingNetwork
from sklearn_relrep.stitching import _base as _stitching_base
from sklearn_relrep.stitching import _params as _stitching_params

FAST = {"max_epochs": 2, "hidden_sizes": (8,), "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 12)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    return X, y


class EpochCounter(Callback):
    def __init__(self, step=1):
        self.step = step

    def initialize(self):
        self.count_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.count_ += self.step


def test_history_is_recorded_when_silent(data, capsys):
    X, y = data
    model = StitchingClassifier(verbose=0, **{**FAST, "max_epochs": 3}).fit(X, y)
    assert capsys.readouterr().out == ""
    losses = model.net_.history[:, "train_loss"]
    assert len(losses) == 3 and np.isfinite(losses).all()


def test_callbacks_and_their_prefixed_options(data):
    X, y = data
    counter = EpochCounter()
    model = StitchingClassifier(
        callbacks=[("counter", counter)], callbacks__counter__step=5, **FAST
    ).fit(X, y)
    assert counter.step == 5 and counter.count_ == 10
    assert model.get_params()["callbacks__counter__step"] == 5


def test_criterion_class_and_options(data):
    X, y = data
    model = StitchingRegressor(
        criterion=torch.nn.HuberLoss, criterion__delta=0.25, **FAST
    ).fit(X, y * 1.0)
    assert isinstance(model.net_.criterion_, torch.nn.HuberLoss)
    assert model.net_.criterion_.delta == 0.25
    assert model.net_.criterion_.reduction == "none"
    smoothed = StitchingClassifier(criterion__label_smoothing=0.2, **FAST).fit(X, y)
    assert smoothed.net_.criterion_.label_smoothing == 0.2
    with pytest.raises(ValueError, match="reduction='none'"):
        StitchingClassifier(criterion=torch.nn.CrossEntropyLoss(), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="criterion__reduction"):
        StitchingClassifier(criterion__reduction="sum", **FAST).fit(X, y)


def test_optimizer_as_a_class_or_a_name(data):
    X, y = data
    model = StitchingClassifier(
        optimizer=torch.optim.RMSprop, optimizer__momentum=0.9, **FAST
    ).fit(X, y)
    assert isinstance(model.net_.optimizer_, torch.optim.RMSprop)
    assert model.net_.optimizer_.param_groups[0]["momentum"] == 0.9
    sgd = StitchingClassifier(optimizer="sgd", lr=0.05, **FAST).fit(X, y)
    assert isinstance(sgd.net_.optimizer_, torch.optim.SGD)
    assert sgd.net_.optimizer_.param_groups[0]["lr"] == 0.05
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        StitchingClassifier(optimizer=dict, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="optimizer__bogus"):
        StitchingClassifier(optimizer__bogus=1, **FAST).fit(X, y)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
def test_named_optimizers_run_fused_on_the_cpu_unless_told_otherwise(data, optimizer):
    X, y = data
    model = StitchingClassifier(optimizer=optimizer, **FAST).fit(X, y)
    assert model.net_.optimizer_.param_groups[0]["fused"] is True
    looped = StitchingClassifier(
        optimizer=optimizer, optimizer__foreach=True, **FAST
    ).fit(X, y)
    group = looped.net_.optimizer_.param_groups[0]
    assert group["foreach"] is True and not group["fused"]
    single = StitchingClassifier(optimizer=optimizer, optimizer__fused=False, **FAST)
    assert not single.fit(X, y).net_.optimizer_.param_groups[0]["fused"]
    custom = StitchingClassifier(optimizer=torch.optim.Adam, **FAST).fit(X, y)
    assert not custom.net_.optimizer_.param_groups[0]["fused"]


def test_train_split_and_iterator_options(data):
    X, y = data
    split = StitchingClassifier(train_split=ValidSplit(3), **FAST).fit(X, y)
    assert "valid_loss" in split.net_.history[-1]
    dropped = StitchingClassifier(
        batch_size=16, iterator_train__drop_last=True, **FAST
    ).fit(X, y)
    assert len(dropped.net_.history[-1, "batches"]) == 90 // 16
    ordered = StitchingClassifier(iterator_train__shuffle=False, **FAST).fit(X, y)
    assert ordered.net_.iterator_train__shuffle is False
    loader = StitchingClassifier(
        iterator_train__num_workers=0, iterator_train__pin_memory=False, **FAST
    ).fit(X, y)
    assert np.isfinite(loader.net_.history[:, "train_loss"]).all()
    with pytest.raises(ValueError, match="random_state"):
        StitchingClassifier(iterator_train__seed=1, **FAST).fit(X, y)


def test_prefixed_parameters_survive_get_set_params_and_clone(data):
    X, y = data
    model = StitchingClassifier(optimizer="sgd", optimizer__momentum=0.5)
    assert model.get_params()["optimizer__momentum"] == 0.5
    model.set_params(optimizer__momentum=0.8, iterator_train__drop_last=True)
    copy = clone(model)
    assert copy.get_params()["optimizer__momentum"] == 0.8
    assert copy.get_params()["iterator_train__drop_last"] is True
    assert "optimizer__momentum=0.8" in repr(copy)
    search = GridSearchCV(
        StitchingClassifier(optimizer="sgd", **FAST),
        {"optimizer__momentum": [0.0, 0.9]},
        cv=2,
        error_score="raise",
    ).fit(X, y)
    assert search.best_estimator_.net_.optimizer_.param_groups[0]["momentum"] in (
        0.0,
        0.9,
    )


def test_module_options_reach_the_network(data, monkeypatch):
    X, y = data

    class TemperedNetwork(StitchingNetwork):
        def __init__(self, *args, temperature=1.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.temperature = temperature

    monkeypatch.setattr(_stitching_base, "StitchingNetwork", TemperedNetwork)
    monkeypatch.setattr(
        _stitching_params,
        "_MODULE_OPTIONS",
        {*_stitching_params._MODULE_OPTIONS, "temperature"},
    )
    model = StitchingClassifier(module__temperature=0.5, **FAST).fit(X, y)
    assert model.net_.module_.temperature == 0.5


@pytest.mark.parametrize(
    "params, match",
    [
        ({"module__hidden_sizes": (4,)}, "hidden_sizes"),
        ({"module__sizes": [6, 6]}, "subspaces"),
        ({"module__bogus": 1}, "module__bogus"),
        ({"optimizer__lr": 0.1}, "lr"),
        ({"foo": 1}, "foo"),
        ({"hidden_sizes": (-5,)}, "hidden_sizes"),
        ({"hidden_sizes": (2.5,)}, "hidden_sizes"),
        ({"hidden_sizes": (0,)}, "hidden_sizes"),
        ({"hidden_sizes": (True,)}, "hidden_sizes"),
        ({"device": "meta"}, "device"),
        ({"device": "bogus"}, "device"),
        ({"aggregation": "bogus"}, "aggregation"),
    ],
)
def test_bad_options_are_refused_before_training(data, params, match):
    X, y = data
    model = StitchingClassifier(**{**FAST, **params})
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(X, y)
    assert not hasattr(model, "net_")
