"""Fine-tuning at stitching time: which parts train, the learning rate, errors."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.pipeline import Pipeline

from sklearn_relrep import (
    InvariantProductSpace,
    StitchingClassifier,
    StitchingRegressor,
    finetune,
    zero_shot_stitch,
)

FAST = {"max_epochs": 8, "lr": 1e-2, "hidden_sizes": (32,), "device": "cpu"}


@pytest.fixture(scope="module")
def spaces():
    """Digits in space A (64 wide) and, padded, sign-flipped and permuted, in B."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:500] / 16.0, y[:500]
    rng = np.random.RandomState(0)
    padded = np.hstack([X * rng.choice([-1.0, 1.0], size=64), np.zeros((len(X), 16))])
    return X, padded[:, rng.permutation(80)], y


@pytest.fixture(scope="module")
def model(spaces):
    X_a, _, y = spaces
    return Pipeline(
        [
            ("product", InvariantProductSpace(n_anchors=32, random_state=0)),
            (
                "stitcher",
                StitchingClassifier(aggregation="attention", random_state=0, **FAST),
            ),
        ]
    ).fit(X_a, y)


def _weights(estimator):
    stitcher = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    return {k: v.clone() for k, v in stitcher.net_.module_.state_dict().items()}


def _restored(pipeline):
    """A copy of the pipeline whose stitcher went through the state protocol."""
    stitcher = pipeline[-1]
    fresh = type(stitcher)(**stitcher.get_params())._set_state(stitcher._get_state())
    return Pipeline([*pipeline.steps[:-1], (pipeline.steps[-1][0], fresh)])


@pytest.mark.parametrize(
    "train, trained_parts",
    [
        ("blender", {"blender"}),
        ("head", {"head"}),
        ("all", {"layer_norm", "blender", "head"}),
    ],
)
def test_finetune_trains_only_the_chosen_parts(spaces, model, train, trained_parts):
    X_a, X_b, y = spaces
    stitched = zero_shot_stitch(model, X_b[model[0].anchor_indices_])
    before = _weights(stitched)
    tuned = finetune(stitched, X_b[:40], y[:40], train=train, max_epochs=3, lr=1e-2)
    after = _weights(tuned)
    for key, tensor in after.items():
        part = key.split(".")[0]
        if part in trained_parts:
            assert not torch.equal(tensor, before[key]), f"{key} did not change"
        else:
            assert torch.equal(tensor, before[key]), f"{key} changed"
    for key, tensor in _weights(stitched).items():
        assert torch.equal(tensor, before[key]), "finetune modified its input"
    assert tuned.predict(X_b).shape == y.shape


def test_blender_finetuning_touches_only_qkv_and_their_pre_norm(spaces, model):
    X_a, _, y = spaces
    before = _weights(model)
    tuned = finetune(model, X_a[:40], y[:40], train="blender", max_epochs=2, lr=1e-2)
    changed = {k for k, v in _weights(tuned).items() if not torch.equal(v, before[k])}
    parts = {k.split(".")[1] for k in changed}
    assert changed and parts <= {"query", "key", "value", "norm"}


def test_finetune_errors(spaces, model):
    X_a, _, y = spaces
    with pytest.raises(ValueError, match="not seen in training"):
        finetune(model, X_a[:3], np.array([1, 2, 42]))
    with pytest.raises(ValueError, match="'train' parameter"):
        finetune(model, X_a[:3], y[:3], train="everything")
    concat = StitchingClassifier(max_epochs=1).fit(X_a, y)
    with pytest.raises(ValueError, match="no learnable blender"):
        finetune(concat, X_a[:3], y[:3], train="blender")
    with pytest.raises(TypeError, match="StitchingClassifier"):
        finetune(model[0], X_a[:3], y[:3])


@pytest.mark.parametrize("max_epochs", [0, -1, 2.5, True])
def test_finetune_refuses_bad_max_epochs(spaces, model, max_epochs):
    X_a, _, y = spaces
    with pytest.raises(ValueError, match="max_epochs"):
        finetune(model, X_a[:10], y[:10], max_epochs=max_epochs)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_finetune_validates_regression_targets_like_fit(spaces, bad):
    X_a, _, _ = spaces
    target = X_a[:, :2].copy()
    regressor = StitchingRegressor(subspaces=4, max_epochs=1).fit(X_a, target)
    target[3, 1] = bad
    with pytest.raises(ValueError, match="Input y contains"):
        regressor.fit(X_a, target)
    with pytest.raises(ValueError, match="Input y contains"):
        finetune(regressor, X_a, target, train="head")


def test_finetune_lr_none_is_always_the_estimators_lr(spaces, model):
    X_a, X_b, y = spaces
    stitched = zero_shot_stitch(model, X_b[model[0].anchor_indices_])
    few = X_b[:30], y[:30]
    first = finetune(stitched, *few, train="head", max_epochs=2, lr=0.5)
    assert first[-1].lr == model[-1].lr == 1e-2
    assert first[-1].get_params() == stitched[-1].get_params()

    def second(pipeline, lr):
        tuned = finetune(pipeline, *few, train="head", max_epochs=2, lr=lr)
        assert tuned[-1].net_.optimizer_.param_groups[0]["lr"] == (lr or 1e-2)
        return tuned.predict_proba(X_b)

    again = second(first, None)
    np.testing.assert_array_equal(again, second(first, 1e-2))
    assert not np.allclose(again, second(first, 0.5))
    # The same model after a save and load (through the state protocol).
    np.testing.assert_array_equal(again, second(_restored(first), None))


def test_finetune_gives_the_same_model_before_and_after_a_reload(spaces, model):
    X_a, X_b, y = spaces
    stitched = zero_shot_stitch(model, X_b[model[0].anchor_indices_])
    for train in ("blender", "head", "all"):
        direct = finetune(stitched, X_b[:30], y[:30], train=train, max_epochs=3)
        reloaded = finetune(
            _restored(stitched), X_b[:30], y[:30], train=train, max_epochs=3
        )
        np.testing.assert_array_equal(
            direct.predict_proba(X_b), reloaded.predict_proba(X_b)
        )


def test_finetune_leaves_parameters_trainable_and_history_growing(spaces, model):
    X_a, _, y = spaces
    tuned = finetune(model, X_a[:40], y[:40], train="head", max_epochs=3)
    assert all(p.requires_grad for p in tuned[-1].net_.module_.parameters())
    assert len(tuned[-1].net_.history) == len(model[-1].net_.history) + 3
    assert tuned[-1].get_params()["callbacks"] is None
