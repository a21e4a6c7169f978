"""Zero-shot stitching and the stitching matrix."""

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import ortho_group
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
    stitching_matrix,
    zero_shot_stitch,
)

FAST = {"max_epochs": 8, "lr": 1e-2, "hidden_sizes": (32,), "device": "cpu"}


@pytest.fixture(scope="module")
def spaces():
    """Digits in space A (64 wide) and in space B (80 wide).

    B pads A with zero coordinates, flips signs and permutes the coordinates: a
    map that every similarity of the product space (cosine, euclidean, l1,
    linf) is invariant to, so a stitched model must predict as on A.
    """
    X, y = load_digits(return_X_y=True)
    X, y = X[:500] / 16.0, y[:500]
    rng = np.random.RandomState(0)
    padded = np.hstack([X * rng.choice([-1.0, 1.0], size=64), np.zeros((len(X), 16))])
    return X, padded[:, rng.permutation(80)], y


def test_zero_shot_projector_survives_a_rotation_into_a_wider_space(spaces):
    X_a, _, y = spaces
    X_b = X_a @ ortho_group.rvs(80, random_state=0)[:64]
    model = Pipeline(
        [
            ("relative", RelativeProjector(n_anchors=40, random_state=0)),
            ("stitcher", StitchingClassifier(random_state=0, **FAST)),
        ]
    ).fit(X_a, y)
    stitched = zero_shot_stitch(model, X_b[model[0].anchor_indices_])
    assert (stitched.predict(X_b) == model.predict(X_a)).mean() > 0.99


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


def test_zero_shot_stitch_to_a_wider_isometric_space(spaces, model):
    X_a, X_b, y = spaces
    before = _weights(model)
    predictions_a = model.predict(X_a)
    anchors_b = X_b[model[0].anchor_indices_]
    stitched = zero_shot_stitch(model, anchors_b, route="reanchor")
    assert stitched[0].n_features_in_ == 80
    agreement = (stitched.predict(X_b) == predictions_a).mean()
    assert agreement > 0.99
    for key, tensor in _weights(stitched).items():
        assert torch.equal(tensor, before[key]), key
    for key, tensor in _weights(model).items():
        assert torch.equal(tensor, before[key]), key
    np.testing.assert_array_equal(model.predict(X_a), predictions_a)


def test_zero_shot_stitch_errors(spaces, model):
    X_a, X_b, y = spaces
    with pytest.raises(ValueError, match="31 anchors"):
        zero_shot_stitch(model, X_b[:31], route="reanchor")
    with pytest.raises(ValueError, match="31 rows but anchors_A has 32"):
        zero_shot_stitch(model, X_b[:31])
    absolute = Pipeline([("stitcher", StitchingClassifier(max_epochs=1))]).fit(X_a, y)
    with pytest.raises(ValueError, match="route='reanchor' needs a pipeline whose"):
        zero_shot_stitch(absolute, X_b[:32], route="reanchor")
    with pytest.raises(ValueError, match="pass anchors_A="):
        zero_shot_stitch(absolute, X_b[:32])
    scaled_first = Pipeline(
        [
            ("scale", StandardScaler()),
            ("relative", RelativeProjector(n_anchors=5)),
            ("stitcher", StitchingClassifier(max_epochs=1)),
        ]
    ).fit(X_a, y)
    with pytest.raises(ValueError, match="first step"):
        zero_shot_stitch(scaled_first, X_b[:5])


def test_stitching_matrix_classification(spaces):
    X_a, X_b, y = spaces
    rows = np.random.RandomState(0).choice(len(y), 30, replace=False)
    test = slice(400, None)
    data = {"A": X_a, "B": X_b}
    models = {
        name: Pipeline(
            [
                ("relative", RelativeProjector(anchors=X[rows])),
                ("stitcher", StitchingClassifier(random_state=0, **FAST)),
            ]
        ).fit(X[:400], y[:400])
        for name, X in data.items()
    }
    table = stitching_matrix(
        models,
        {name: X[rows] for name, X in data.items()},
        {name: X[test] for name, X in data.items()},
        y[test],
    )
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["train_space", "test_space", "accuracy", "macro_f1"]
    assert len(table) == 4
    assert (table["accuracy"] > 0.7).all()
    by_pair = table.set_index(["train_space", "test_space"])["accuracy"]
    assert abs(by_pair["A", "B"] - by_pair["A", "A"]) < 0.02


def test_stitching_matrix_regression(spaces):
    X_a, X_b, _ = spaces
    rows = np.arange(20)
    models = {
        "A": Pipeline(
            [
                ("relative", RelativeProjector("euclidean", anchors=X_a[rows])),
                ("decoder", StitchingRegressor(max_epochs=2)),
            ]
        ).fit(X_a, X_a)
    }
    table = stitching_matrix(
        models, {"A": X_a[rows], "B": X_b[rows]}, {"A": X_a, "B": X_b}, X_a
    )
    assert list(table.columns) == ["train_space", "test_space", "mse"]
    assert table["mse"].notna().all()


def test_stitching_matrix_n_jobs_gives_the_same_table(spaces):
    X_a, X_b, y = spaces
    rows = np.random.RandomState(1).choice(len(y), 40, replace=False)
    data = {"A": X_a, "B": X_b, "C": 2.0 * X_b[:, ::-1]}
    models = {
        name: make_pipeline(
            RelativeProjector("l1", anchors=X[rows]), LogisticRegression(max_iter=500)
        ).fit(X[:400], y[:400])
        for name, X in data.items()
    }
    arguments = (
        models,
        {name: X[rows] for name, X in data.items()},
        {name: X[400:] for name, X in data.items()},
        y[400:],
    )
    serial = stitching_matrix(*arguments, n_jobs=1)
    assert len(serial) == 9
    pd.testing.assert_frame_equal(stitching_matrix(*arguments, n_jobs=2), serial)
    with joblib.parallel_backend("threading", n_jobs=2):
        pd.testing.assert_frame_equal(stitching_matrix(*arguments), serial)


def test_stitching_matrix_without_anchors_applies_each_model_as_it_is(spaces):
    X_a, X_b, y = spaces
    shuffled = X_a[:, np.random.RandomState(0).permutation(64)]
    model = make_pipeline(LogisticRegression(max_iter=500)).fit(X_a[:400], y[:400])
    table = stitching_matrix(
        {"A": model}, None, {"A": X_a[400:], "shuffled": shuffled[400:]}, y[400:]
    )
    by_pair = table.set_index(["train_space", "test_space"])["accuracy"]
    assert by_pair["A", "A"] == model.score(X_a[400:], y[400:])
    assert by_pair["A", "shuffled"] == model.score(shuffled[400:], y[400:])
