"""Training that cannot give a sound model is refused, and says why (issue 19).

Diverging training (item 1), ``class_weight="balanced"`` in ``partial_fit``
(item 3), and messages that named the wrong problem (item 12).
"""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sklearn_relrep import (
    StitchingClassifier,
    StitchingRegressor,
    SubspaceArray,
    SubspaceLayout,
    finetune,
)

FAST = {"max_epochs": 2, "hidden_sizes": (8,), "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 12))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    return X, y


def _weights(model):
    return {k: v.clone() for k, v in model.net_.module_.state_dict().items()}


def _assert_same_weights(model, weights):
    state = model.net_.module_.state_dict()
    assert state.keys() == weights.keys()
    assert all(torch.equal(state[k], weights[k]) for k in weights)


# item 1: diverging training ----------------------------------------------------------


def test_regression_targets_beyond_float32_are_refused(data):
    X, _ = data
    huge = X[:, 0] * 1e39  # finite in float64, infinite in float32
    model = StitchingRegressor(**FAST)
    with pytest.raises(ValueError, match="beyond the range of float32.*Scale"):
        model.fit(X, huge)
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    fitted = StitchingRegressor(**FAST).fit(X, X[:, 0])
    weights = _weights(fitted)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        fitted.partial_fit(X, huge)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        finetune(fitted, X, huge, train="head")
    _assert_same_weights(fitted, weights)


@pytest.mark.parametrize(
    ("Estimator", "target"),
    [(StitchingRegressor, lambda X, y: X[:, 0]), (StitchingClassifier, None)],
)
def test_diverging_fit_raises_and_leaves_the_estimator_unfitted(
    data, Estimator, target
):
    X, y = data
    y = y if target is None else target(X, y)
    model = Estimator(**{**FAST, "lr": 1e12})
    with pytest.raises(ValueError, match=r"Training diverged: .*epoch \d+.*Lower lr"):
        model.fit(X, y)
    assert not hasattr(model, "net_")
    with pytest.raises(NotFittedError):
        check_is_fitted(model)


def test_diverging_partial_fit_keeps_the_previous_weights_and_history(data):
    X, _ = data
    target = X[:, 0]
    model = StitchingRegressor(**FAST).partial_fit(X, target).partial_fit(X, target)
    weights, predictions = _weights(model), model.predict(X)
    # Finite in float32, but its squared error is not: the loss overflows.
    with pytest.raises(ValueError, match=r"Training diverged: train_loss=\S+ at epo"):
        model.partial_fit(X, target * 1e30)
    _assert_same_weights(model, weights)
    assert len(model.net_.history) == 2
    np.testing.assert_array_equal(model.predict(X), predictions)
    with pytest.raises(ValueError, match="Training diverged"):
        model.set_params(lr=1e-2).partial_fit(X, target * 1e30)  # a fresh net_
    _assert_same_weights(model, weights)
    model.partial_fit(X, target)
    assert len(model.net_.history) == 3
    assert np.isfinite(model.predict(X)).all()


def test_diverging_warm_start_keeps_the_previous_model(data):
    X, y = data
    model = StitchingClassifier(warm_start=True, **FAST).fit(X, y)
    weights, proba = _weights(model), model.predict_proba(X)
    with pytest.raises(ValueError, match="Training diverged"):
        model.set_params(lr=1e12).fit(X, y)
    _assert_same_weights(model, weights)
    assert len(model.net_.history) == FAST["max_epochs"]
    np.testing.assert_array_equal(model.predict_proba(X), proba)


def test_diverging_finetune_raises_and_leaves_the_model_unchanged(data):
    X, y = data
    model = StitchingClassifier(**FAST).fit(X, y)
    weights = _weights(model)
    with pytest.raises(ValueError, match="Training diverged"):
        finetune(model, X, y, train="all", lr=1e12)
    _assert_same_weights(model, weights)


class _PoisonWeights(Callback):
    """Make the head's weights NaN at the end of each epoch; the loss stays finite."""

    def on_epoch_end(self, net, **kwargs):
        with torch.no_grad():
            next(net.module_.head.parameters()).fill_(float("nan"))


def test_non_finite_weights_are_refused_even_when_the_loss_is_finite(data):
    X, y = data
    model = StitchingClassifier(
        callbacks=[_PoisonWeights()], **{**FAST, "max_epochs": 1}
    )
    with pytest.raises(ValueError, match="non-finite weights after epoch 1"):
        model.fit(X, y)
    assert not hasattr(model, "net_")


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -1.0, "heavy"], ids=str)
def test_class_weights_that_are_not_finite_non_negative_numbers_are_refused(data, bad):
    X, y = data
    binary = (y > 0).astype(int)
    model = StitchingClassifier(class_weight={0: bad, 1: 1.0}, **FAST)
    with pytest.raises(ValueError, match="class_weight gives the classes.*finite") as e:
        model.fit(X, binary)
    assert "only one class" not in str(e.value)  # issue 19 item 12
    assert not hasattr(model, "net_")


def test_class_weights_are_scale_free_up_to_the_largest_float(data):
    X, y = data
    largest = np.finfo(np.float64).max
    huge = {0: largest, 1: largest / 2, 2: largest / 4}
    small = {0: 4.0, 1: 2.0, 2: 1.0}
    proba = StitchingClassifier(class_weight=huge, **FAST).fit(X, y).predict_proba(X)
    expected = StitchingClassifier(class_weight=small, **FAST).fit(X, y)
    np.testing.assert_allclose(proba, expected.predict_proba(X), rtol=1e-6)


# item 3: class_weight="balanced" and partial_fit ------------------------------------


def test_partial_fit_refuses_balanced_class_weight_and_says_what_to_do(data):
    X, y = data
    model = StitchingClassifier(class_weight="balanced", **FAST)
    with pytest.raises(ValueError, match="'balanced' is not supported by partial_fit"):
        model.partial_fit(X, y, classes=[0, 1, 2])
    assert not hasattr(model, "net_")
    with pytest.raises(ValueError, match="compute_class_weight"):
        model.fit(X, y).partial_fit(X, y)
    weights = compute_class_weight("balanced", classes=np.unique(y), y=y)
    model.set_params(class_weight=dict(zip(np.unique(y), weights, strict=True)))
    assert len(model.partial_fit(X, y).net_.history) == FAST["max_epochs"] + 1


def test_finetune_counts_balanced_class_weight_on_its_samples(data):
    X, y = data
    model = StitchingClassifier(class_weight="balanced", **FAST).fit(X, y)
    few = slice(0, 20)
    tuned = finetune(model, X[few], y[few], train="head", max_epochs=2)
    fixed = dict(
        zip(
            np.unique(y[few]),
            compute_class_weight("balanced", classes=np.unique(y[few]), y=y[few]),
            strict=True,
        )
    )
    by_hand = finetune(
        model.set_params(class_weight=fixed), X[few], y[few], train="head", max_epochs=2
    )
    np.testing.assert_array_equal(tuned.predict_proba(X), by_hand.predict_proba(X))
    assert tuned.class_weight == "balanced"


# item 12: warm start with a changed network -----------------------------------------


def test_warm_start_refuses_a_changed_layout_instead_of_ignoring_it(data):
    X, y = data
    model = StitchingClassifier(warm_start=True, **FAST).fit(X, y)
    weights = _weights(model)
    with pytest.raises(ValueError, match=r"subspaces=3 gives subspace widths \[4,"):
        model.set_params(subspaces=3).fit(X, y)
    with pytest.raises(ValueError, match="layout cannot change.*warm_start=False"):
        model.partial_fit(X, y)
    model.set_params(subspaces="auto")
    layout = SubspaceLayout(("a", "b", "c"), (4, 4, 4))
    with pytest.raises(ValueError, match=r"X has subspace widths \[4, 4, 4\]"):
        model.fit(SubspaceArray(X, layout), y)
    _assert_same_weights(model, weights)
    assert model.subspace_widths_.tolist() == [12]
    model.set_params(subspaces=[12]).fit(X, y)  # the same layout continues
    assert len(model.net_.history) == 2 * FAST["max_epochs"]
    model.set_params(warm_start=False, subspaces=3).fit(X, y)
    assert model.subspace_widths_.tolist() == [4, 4, 4]


def test_warm_start_with_a_reshaped_network_says_how_to_start_anew(data):
    X, y = data
    model = StitchingClassifier(warm_start=True, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="hidden_sizes.*warm_start=False"):
        model.set_params(hidden_sizes=(4,)).fit(X, y)
    assert model.net_.module_.head.layers[0].out_features == 8
