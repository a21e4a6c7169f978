"""Training the stitchers: sample weights, routing, partial_fit, warm start, errors."""

import numpy as np
import pytest
import sklearn
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, make_scorer
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.utils.class_weight import compute_sample_weight

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
    finetune,
)

FAST = {"max_epochs": 2, "hidden_sizes": (8,), "device": "cpu", "random_state": 0}
# One batch, plain SGD, no dropout, no weight decay and no validation split:
# weighted and repeated rows give the same loss.
FULL_BATCH = {
    "batch_size": 1000,
    "optimizer": "sgd",
    "lr": 0.5,
    "max_epochs": 15,
    "hidden_sizes": (),
    "dropout": 0.0,
    "weight_decay": 0.0,
    "early_stopping": False,
    "device": "cpu",
    "random_state": 0,
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 12))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
    return X, y


# sample weights -------------------------------------------------------------------


@pytest.mark.parametrize("Estimator", [StitchingClassifier, StitchingRegressor])
def test_zero_weight_removes_and_integer_weight_repeats(data, Estimator):
    X, y = data
    target = y if Estimator is StitchingClassifier else X[:, :2]
    method = "predict_proba" if Estimator is StitchingClassifier else "predict"
    weights = np.tile([0, 1, 2, 3], len(X) // 4)
    weighted = Estimator(**FULL_BATCH).fit(X, target, sample_weight=weights)
    repeated = Estimator(**FULL_BATCH).fit(
        np.repeat(X, weights, axis=0), np.repeat(target, weights, axis=0)
    )
    unweighted = Estimator(**FULL_BATCH).fit(X, target)
    out = getattr(weighted, method)(X)
    np.testing.assert_allclose(out, getattr(repeated, method)(X), rtol=1e-4, atol=1e-5)
    assert np.abs(out - getattr(unweighted, method)(X)).max() > 1e-2


def test_weights_of_one_change_nothing(data):
    X, y = data
    plain = StitchingClassifier(**FAST).fit(X, y).predict_proba(X)
    ones = StitchingClassifier(**FAST).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_array_equal(ones.predict_proba(X), plain)


def test_bad_sample_weights_are_refused(data):
    X, y = data
    model = StitchingClassifier(**FAST)
    with pytest.raises(ValueError, match="Negative values.*sample_weight"):
        model.fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="zero"):
        model.fit(X, y, sample_weight=np.zeros(len(y)))
    with pytest.raises(ValueError, match="zero weight"):
        StitchingClassifier(class_weight=dict.fromkeys(range(3), 0.0), **FAST).fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        model.fit(X, y, sample_weight=np.full(len(y), np.nan))
    with pytest.raises(ValueError):
        model.fit(X, y, sample_weight=np.ones(len(y) + 1))


def test_class_weight_is_a_sample_weight_per_class(data):
    X, y = data
    balanced = StitchingClassifier(class_weight="balanced", **FAST).fit(X, y)
    by_hand = StitchingClassifier(**FAST).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y)
    )
    np.testing.assert_array_equal(balanced.predict_proba(X), by_hand.predict_proba(X))
    mapped = StitchingClassifier(class_weight={0: 3.0, 2: 0.5}, **FAST).fit(X, y)
    mapped_by_hand = StitchingClassifier(**FAST).fit(
        X, y, sample_weight=np.select([y == 0, y == 2], [3.0, 0.5], 1.0)
    )
    np.testing.assert_array_equal(
        mapped.predict_proba(X), mapped_by_hand.predict_proba(X)
    )
    plain = StitchingClassifier(**FAST).fit(X, y)
    assert not np.allclose(balanced.predict_proba(X), plain.predict_proba(X))


def test_balanced_class_weight_favours_the_minority_class():
    rng = np.random.RandomState(1)
    X = rng.normal(size=(400, 10))
    y = (X[:, 0] > 1.2).astype(int)  # about 12% positives
    params = {**FAST, "max_epochs": 5, "lr": 1e-2}
    plain = StitchingClassifier(**params).fit(X, y).predict(X)
    balanced = StitchingClassifier(class_weight="balanced", **params).fit(X, y)
    assert balanced.predict(X).sum() > plain.sum()


def test_metadata_routing_of_sample_weight(data):
    X, y = data
    weights = np.tile([0.0, 1.0, 3.0], len(X) // 3)

    def pipeline():
        stitcher = StitchingClassifier(**FAST).set_fit_request(sample_weight=True)
        return make_pipeline(
            RelativeProjector(n_anchors=10, random_state=0),
            stitcher.set_score_request(sample_weight=True),
        )

    def by_hand(rows):
        relative = RelativeProjector(n_anchors=10, random_state=0).fit(X[rows])
        stitcher = StitchingClassifier(**FAST).fit(
            relative.transform(X[rows]), y[rows], sample_weight=weights[rows]
        )
        return make_pipeline(relative, stitcher)

    with sklearn.config_context(enable_metadata_routing=True):
        routed = pipeline().fit(X, y, sample_weight=weights)
        everything = np.arange(len(X))
        np.testing.assert_array_equal(
            routed.predict_proba(X), by_hand(everything).predict_proba(X)
        )
        folds = KFold(3)
        # An explicit scorer: scikit-learn < 1.7 would also need the
        # Pipeline's own score request to route the weights to Pipeline.score.
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        scores = cross_validate(
            pipeline(),
            X,
            y,
            cv=folds,
            scoring=scorer,
            params={"sample_weight": weights},
        )["test_score"]
        expected = [
            accuracy_score(y[te], by_hand(tr).predict(X[te]), sample_weight=weights[te])
            for tr, te in folds.split(X)
        ]
        np.testing.assert_array_equal(scores, expected)
        unweighted = [
            accuracy_score(y[te], by_hand(tr).predict(X[te]))
            for tr, te in folds.split(X)
        ]
        assert not np.array_equal(unweighted, scores)
        with pytest.raises(ValueError, match="sample_weight"):
            make_pipeline(StitchingClassifier(**FAST)).fit(X, y, sample_weight=weights)


# partial_fit, warm start, streaming ---------------------------------------------


def test_partial_fit_initialises_and_trains_one_epoch_per_call(data):
    X, y = data
    model = StitchingClassifier(**FAST)
    with pytest.raises(ValueError, match="classes must be passed"):
        model.partial_fit(X, y)
    for chunk in np.array_split(np.arange(len(X)), 3):
        model.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
    assert len(model.net_.history) == 3
    assert model.classes_.tolist() == [0, 1, 2]
    steps = [s["step"] for s in model.net_.optimizer_.state.values()]
    assert steps and all(int(step) == 3 for step in steps)  # one optimizer, kept
    with pytest.raises(ValueError, match="not the same"):
        model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="not seen"):
        model.partial_fit(X, y + 5)
    model.set_params(lr=1e-2).partial_fit(X, y)
    assert model.net_.optimizer_.param_groups[0]["lr"] == 1e-2
    assert all(int(s["step"]) == 1 for s in model.net_.optimizer_.state.values())
    regressor = StitchingRegressor(**FAST).partial_fit(X, X[:, :3])
    assert regressor.predict(X).shape == (len(X), 3)


def test_streaming_partial_fit_learns(data):
    X, y = data
    model = StitchingClassifier(**{**FAST, "lr": 1e-2})
    model.partial_fit(X, y, classes=[0, 1, 2])
    after_one = model.score(X, y)
    for _ in range(39):
        model.partial_fit(X, y)
    assert after_one < 0.6 < 0.8 < model.score(X, y)


def test_dask_ml_incremental(data):
    dask_array = pytest.importorskip("dask.array", exc_type=ImportError)
    wrappers = pytest.importorskip("dask_ml.wrappers", exc_type=ImportError)
    X, y = data
    incremental = wrappers.Incremental(StitchingClassifier(**FAST))
    incremental.fit(
        dask_array.from_array(X, chunks=20),
        dask_array.from_array(y, chunks=20),
        classes=[0, 1, 2],
    )
    assert len(incremental.estimator_.net_.history) == 3


def test_warm_start_continues_from_the_fitted_weights(data):
    X, y = data
    cold = StitchingClassifier(**FAST).fit(X, y)
    first_loss = cold.net_.history[-1, "train_loss"]
    cold.fit(X, y)
    assert len(cold.net_.history) == 2
    warm = StitchingClassifier(warm_start=True, **FAST).fit(X, y).fit(X, y)
    assert len(warm.net_.history) == 4
    assert warm.net_.history[2, "train_loss"] < first_loss


# predictions ------------------------------------------------------------------------


def test_decision_function_and_log_proba_agree_with_predict(data):
    X, y = data
    model = StitchingClassifier(**FAST).fit(X, y)
    scores, proba = model.decision_function(X), model.predict_proba(X)
    assert scores.shape == (len(X), 3)
    np.testing.assert_array_equal(model.classes_[scores.argmax(1)], model.predict(X))
    np.testing.assert_allclose(np.exp(model.predict_log_proba(X)), proba, rtol=1e-12)
    binary = StitchingClassifier(**FAST).fit(X, np.where(y > 0, "b", "a"))
    log_odds = binary.decision_function(X)
    assert log_odds.shape == (len(X),)
    np.testing.assert_array_equal(np.where(log_odds > 0, "b", "a"), binary.predict(X))
    np.testing.assert_allclose(
        log_odds, np.diff(binary.predict_log_proba(X), axis=1).ravel(), atol=1e-6
    )


# errors before any work ------------------------------------------------------------


def test_single_class_is_refused_like_logistic_regression(data):
    X, _ = data
    one_class = np.zeros(len(X), dtype=int)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(X, one_class)
    with pytest.raises(ValueError, match="needs samples of at least 2 classes"):
        StitchingClassifier(**FAST).fit(X, one_class)
    with pytest.raises(ValueError, match="at least 2 classes"):
        StitchingClassifier(**FAST).partial_fit(X, one_class, classes=[0])


def test_early_stopping_needs_enough_samples_per_class(data):
    X, y = data
    few = slice(0, 4)
    model = StitchingClassifier(early_stopping=True, **FAST)
    with pytest.raises(ValueError, match="early_stopping=True.*validation_fraction"):
        model.fit(X[few], y[few])
    assert not hasattr(model, "net_")
    with pytest.raises(ValueError, match="early_stopping"):
        StitchingRegressor(early_stopping=True, **FAST).fit(X[:1], y[:1] * 1.0)
    StitchingClassifier(early_stopping=True, validation_fraction=0.2, **FAST).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only host")
def test_explicit_cuda_on_a_cpu_host_is_a_clear_error(data):
    X, y = data
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        StitchingClassifier(**{**FAST, "device": "cuda"}).fit(X, y)


# global state -----------------------------------------------------------------------


def test_global_torch_state_is_left_as_found(data):
    X, y = data
    torch.manual_seed(7)
    rng_state = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    model = make_pipeline(
        InvariantProductSpace(n_anchors=6, random_state=0),
        StitchingClassifier(dropout=0.3, subspace_dropout=0.3, **FAST),
    ).fit(X, y)
    model.predict_proba(X)
    finetune(model, X[:20], y[:20], train="all", max_epochs=2)
    StitchingRegressor(**FAST).partial_fit(X, y * 1.0)
    assert torch.equal(rng_state, torch.random.get_rng_state())
    assert torch.get_num_threads() == threads
