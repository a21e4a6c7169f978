"""The safe format beyond the package's own estimators (issue 20 item 3).

scikit-learn's linear models, the aligners, FrozenEstimator and meta-estimators
holding other estimators round-trip exactly; everything else is refused with
what is supported and the skops.io call that would save it.
"""

import json

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC, LinearSVR

from sklearn_relrep import (
    LinearAligner,
    ProcrustesAligner,
    RelativeProjector,
    StitchedEnsemble,
    load_stitcher,
    save_stitcher,
    zero_shot_stitch,
)
from sklearn_relrep._persistence import _objects
from sklearn_relrep._persistence._directory import current_folder
from sklearn_relrep._persistence._store import compute_digest

CONFIG, WEIGHTS = "stitcher.json", "weights.safetensors"
METHODS = ("predict", "predict_proba", "decision_function", "transform")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 6))
    labels = np.array(["cat", "dog", "emu"])[np.argmax(X[:, :3], axis=1)]
    target = X @ rng.normal(size=6) + 0.1 * rng.normal(size=90)
    return X, labels, target


def _assert_same_attributes(loaded, original):
    """Every attribute of ``original`` is on ``loaded``, bit for bit."""
    for name, value in vars(original).items():
        if isinstance(value, BaseEstimator):
            _assert_same_attributes(getattr(loaded, name), value)
            continue
        if name.startswith("_"):
            continue
        restored = getattr(loaded, name)
        assert type(restored) is type(value), name
        if isinstance(value, np.ndarray):
            assert restored.dtype == value.dtype, name
            np.testing.assert_array_equal(restored, value, err_msg=name)
        else:
            assert restored == value or value != value, name


def _assert_same_predictions(loaded, original, X):
    for method in METHODS:
        if hasattr(original, method):
            np.testing.assert_array_equal(
                getattr(loaded, method)(X), getattr(original, method)(X)
            )


CLASSIFIERS = [
    LogisticRegression(max_iter=500),
    LogisticRegression(C=0.1, class_weight={"cat": 2.0, "dog": 1.0, "emu": 1.0}),
    RidgeClassifier(alpha=2.0),
    LinearSVC(C=0.5),
    SGDClassifier(loss="log_loss", random_state=0),
]
REGRESSORS = [
    LinearRegression(),
    Ridge(alpha=0.5),
    Lasso(alpha=0.01),
    ElasticNet(alpha=0.01),
    LinearSVR(max_iter=10_000, random_state=0),
    SGDRegressor(random_state=0, average=True),
]


@pytest.mark.parametrize(
    "model", CLASSIFIERS + REGRESSORS, ids=lambda m: type(m).__name__
)
def test_linear_models_round_trip_exactly(tmp_path, data, model):
    X, labels, target = data
    model.fit(X, labels if model in CLASSIFIERS else target)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert type(loaded) is type(model)
    assert loaded.get_params() == model.get_params()
    _assert_same_attributes(loaded, model)
    _assert_same_predictions(loaded, model, X)


def test_the_first_example_of_the_docs_round_trips(tmp_path, data):
    X, labels, _ = data
    model = make_pipeline(
        RelativeProjector(n_anchors=10, random_state=0), LogisticRegression()
    ).fit(X, labels)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model", key=b"k"), key=b"k")
    _assert_same_predictions(loaded, model, X)
    _assert_same_attributes(loaded[-1], model[-1])


@pytest.mark.parametrize(
    "aligner",
    [LinearAligner(alpha=0.5), ProcrustesAligner(), ProcrustesAligner(scale=False)],
    ids=lambda a: repr(a),
)
def test_aligners_round_trip_with_all_their_fitted_attributes(tmp_path, data, aligner):
    X, _, _ = data
    rng = np.random.RandomState(1)
    aligner.fit(X, X @ rng.normal(size=(6, 4)) + 1)
    # An attribute added by a later version of the class is stored all the same.
    aligner.added_in_a_later_version_ = np.float64(0.25)
    aligner.names_added_later_ = np.asarray(["a", "b", "c", "d"], dtype=object)
    loaded = load_stitcher(save_stitcher(aligner, tmp_path / "model"))
    assert loaded.added_in_a_later_version_ == 0.25
    _assert_same_attributes(loaded, aligner)
    _assert_same_predictions(loaded, aligner, X)


def test_a_frozen_estimator_round_trips_frozen(tmp_path, data):
    X, labels, _ = data
    frozen = FrozenEstimator(
        make_pipeline(StandardScaler(), LinearSVC()).fit(X, labels)
    )
    loaded = load_stitcher(save_stitcher(frozen, tmp_path / "model"))
    assert type(loaded) is FrozenEstimator
    assert loaded.fit(X[:5], labels[:5]) is loaded  # fit still does nothing
    _assert_same_predictions(loaded, frozen, X)


def test_a_translate_step_in_front_of_a_relative_pipeline_round_trips(tmp_path, data):
    X, labels, _ = data
    rng = np.random.RandomState(2)
    other_space = np.tanh(X @ rng.normal(size=(6, 5)))
    relative = make_pipeline(
        RelativeProjector(n_anchors=12, random_state=0), LogisticRegression()
    ).fit(X, labels)
    translate = LinearAligner(alpha=0.1).fit(other_space[:40], X[:40])
    model = Pipeline([("translate", translate), ("relative", relative)])
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert type(loaded.named_steps["translate"]) is LinearAligner
    _assert_same_predictions(loaded, model, other_space)
    _assert_same_attributes(loaded.named_steps["translate"], translate)


@pytest.mark.parametrize("route", ["translate", "ensemble"])
def test_every_route_of_zero_shot_stitch_round_trips(tmp_path, data, route):
    X, labels, _ = data
    other_space = np.tanh(X @ np.random.RandomState(2).normal(size=(6, 5)))
    relative = make_pipeline(
        RelativeProjector(n_anchors=12, random_state=0), LogisticRegression()
    ).fit(X, labels)
    anchors = other_space[relative[0].anchor_indices_]
    model = zero_shot_stitch(relative, anchors, route=route)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert type(loaded) is type(model)
    if route == "ensemble":
        assert isinstance(loaded, StitchedEnsemble)
        assert list(loaded.named_estimators_) == ["reanchor", "translate"]
    _assert_same_predictions(loaded, model, other_space)


def test_a_flat_translated_pipeline_with_named_columns_round_trips(tmp_path, data):
    """As zero_shot_stitch builds it: the aligner first, naming its output."""
    X, labels, _ = data
    rng = np.random.RandomState(2)
    other_space = np.tanh(X @ rng.normal(size=(6, 5)))
    translate = LinearAligner().fit(other_space[:40], X[:40])
    translate.set_output(transform="pandas")
    named = pd.DataFrame(X, columns=translate.get_feature_names_out())
    relative = make_pipeline(
        RelativeProjector(n_anchors=12, random_state=0), LogisticRegression()
    ).fit(named, labels)
    model = Pipeline([("translate", translate), *relative.steps])
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert isinstance(loaded[0].transform(other_space), pd.DataFrame)
    _assert_same_predictions(loaded, model, other_space)
    _assert_same_attributes(loaded[1], model[1])


class _Average(BaseEstimator):
    """A meta-estimator like StitchedEnsemble: named members, fitted copies."""

    _parameter_constraints: dict = {
        "estimators": [list],
        "weights": [None, "array-like"],
    }

    def __init__(self, estimators, *, weights=None):
        self.estimators = estimators
        self.weights = weights

    def fit(self, X, y):
        self.estimators_ = [member for _, member in self.estimators]
        self.named_estimators_ = dict(self.estimators)
        self.classes_ = self.estimators_[0].classes_
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X):
        weights = (
            np.ones(len(self.estimators_)) if self.weights is None else self.weights
        )
        mean = sum(
            w * m.predict_proba(X)
            for w, m in zip(weights, self.estimators_, strict=True)
        )
        return mean / np.sum(weights)


@pytest.fixture
def registered_average(monkeypatch):
    monkeypatch.setitem(_objects.CLASSES, "_Average", _Average)
    monkeypatch.setattr(_objects, "PLAIN", (*_objects.PLAIN, _Average))


def test_a_meta_estimator_stores_each_member_once(tmp_path, data, registered_average):
    X, labels, _ = data
    members = [
        ("linear", FrozenEstimator(LogisticRegression().fit(X, labels))),
        (
            "relative",
            FrozenEstimator(
                make_pipeline(
                    RelativeProjector(n_anchors=8, random_state=0), LogisticRegression()
                ).fit(X, labels)
            ),
        ),
    ]
    model = _Average(members, weights=np.array([1.0, 3.0])).fit(X, labels)
    folder = save_stitcher(model, tmp_path / "model")
    text = (current_folder(folder) / CONFIG).read_text()
    assert text.count('"__estimator__"') == 4  # two frozen wrappers, their models
    loaded = load_stitcher(folder)
    assert loaded.estimators_[1] is loaded.estimators[1][1]
    assert loaded.named_estimators_["linear"] is loaded.estimators_[0]
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.weights, model.weights)


# refusals -----------------------------------------------------------------------


def test_unsupported_models_are_refused_with_the_skops_call(tmp_path, data):
    X, labels, _ = data
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=3))
    model.fit(X, labels)
    trusted = sio.get_untrusted_types(data=sio.dumps(model))
    with pytest.raises(TypeError) as caught:
        save_stitcher(model, tmp_path / "model")
    message = str(caught.value)
    assert "RandomForestClassifier" in message
    assert "'LogisticRegression'" in message and "'LinearAligner'" in message
    assert f"skops.io.load(path, trusted={trusted!r})" in message
    assert not (tmp_path / "model").exists()


def test_what_skops_cannot_hold_either_is_said(tmp_path, data):
    X, labels, _ = data
    model = RelativeProjector(lambda x, a: x @ a.T, n_anchors=4).fit(X)
    with pytest.raises(TypeError, match="skops.io cannot load it by name either"):
        save_stitcher(model, tmp_path / "model")


def test_an_unknown_fitted_attribute_of_a_listed_model_is_refused(tmp_path, data):
    X, labels, _ = data
    model = LogisticRegression().fit(X, labels)
    model.calibration_ = np.ones(3)
    with pytest.raises(TypeError, match=r"\['calibration_'\] that this version"):
        save_stitcher(model, tmp_path / "model")


# tampered and hostile files -------------------------------------------------------


@pytest.fixture
def saved_translation(tmp_path, data):
    X, labels, _ = data
    model = Pipeline(
        [
            ("translate", LinearAligner().fit(X[:30], X[:30] + 1)),
            ("linear", FrozenEstimator(RidgeClassifier().fit(X, labels))),
        ]
    )
    return save_stitcher(model, tmp_path / "model")


def _rewrite(folder, edit):
    """Edit the config and write a valid digest, as a deliberate forger would."""
    files = current_folder(folder)
    config = json.loads((files / CONFIG).read_text())
    edit(config)
    config["digest"] = compute_digest(config, (files / WEIGHTS).read_bytes(), None)
    (files / CONFIG).write_text(json.dumps(config))


def test_a_tampered_coefficient_is_refused(saved_translation):
    files = current_folder(saved_translation)
    config = json.loads((files / CONFIG).read_text())
    aligner = config["model"]["steps"][0][1]
    aligner["params"]["alpha"] = 3.0
    (files / CONFIG).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="checksum .* does not match"):
        load_stitcher(saved_translation)


def _aligner(config):
    return config["model"]["steps"][0][1]


def _ridge(config):
    return config["model"]["steps"][1][1]["params"]["estimator"]["__estimator__"]


HOSTILE = {
    "aligner-method-as-state": (
        lambda c: _aligner(c)["state"].update(transform=1),
        "'transform', a method of LinearAligner",
    ),
    "aligner-private-state": (
        lambda c: _aligner(c)["state"].update(_centers_=1),
        "no state attribute",
    ),
    "aligner-parameter-as-state": (
        lambda c: _aligner(c)["state"].update(alpha=1.0),
        "no state attribute",
    ),
    "listed-unknown-state": (
        lambda c: _ridge(c)["state"].update(hidden_=1),
        "no state attribute",
    ),
    "listed-string-coefficients": (
        lambda c: _ridge(c)["state"].update(coef_="x"),
        "coef_ has an unexpected str",
    ),
    "listed-private-estimator-of-wrong-kind": (
        lambda c: _ridge(c)["state"].update(_label_binarizer=1),
        "_label_binarizer has an unexpected int",
    ),
    "nested-unknown-class": (
        lambda c: _ridge(c).update({"class": "RandomForestClassifier"}),
        "Unknown class",
    ),
    "reference-to-nowhere": (
        lambda c: c["model"]["steps"][1][1]["params"].update(
            estimator={"__same__": "model.steps.nowhere"}
        ),
        "where no estimator is",
    ),
    "reference-with-extras": (
        lambda c: c["model"]["steps"][1][1]["params"].update(
            estimator={"__same__": "model.steps.translate", "x": 1}
        ),
        "only a location",
    ),
    "estimator-with-extras": (
        lambda c: c["model"]["steps"][1][1]["params"]["estimator"].update(x=1),
        "only its description",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_nested_configs_are_refused(saved_translation, name):
    edit, message = HOSTILE[name]
    _rewrite(saved_translation, edit)
    with pytest.raises(ValueError, match=message):
        load_stitcher(saved_translation)
