"""joblib pickles, CUDA-saved models on CPU, and what the safe format round-trips.

The safe format's digest and hostile files are tested in
``test_persistence_format.py``, the atomic writes in
``test_persistence_files.py`` and the fuzzing in ``test_persistence_fuzz.py``.
"""

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skorch.net
import torch
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    RobustScaler,
    StandardScaler,
)
from skorch.exceptions import DeviceWarning

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
    SubspaceLayout,
    load_stitcher,
    save_stitcher,
)
from sklearn_relrep._persistence._codec import decode, encode

FIXTURE = Path(__file__).parent / "fixtures" / "cuda_stitcher.joblib"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a CPU-only host")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 10))
    y = np.where(X[:, 0] + X[:, 1] > 0, "pos", "neg")
    return X, y


@pytest.fixture(scope="module")
def pipeline(data):
    X, y = data
    return Pipeline(
        [
            (
                "product",
                InvariantProductSpace(["cosine", "l1"], n_anchors=8, random_state=0),
            ),
            (
                "stitcher",
                StitchingClassifier(
                    aggregation="attention",
                    max_epochs=3,
                    hidden_sizes=(16, 8),
                    random_state=0,
                ),
            ),
        ]
    ).fit(X, y)


def test_joblib_round_trip(tmp_path, pipeline, data):
    X, _ = data
    joblib.dump(pipeline, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))


@no_cuda
def test_the_fixture_is_really_cuda_tagged(monkeypatch):
    monkeypatch.setattr(skorch.net, "get_map_location", lambda device: device)
    with pytest.raises(RuntimeError, match="CUDA"):
        joblib.load(FIXTURE)


@no_cuda
def test_cuda_pickle_loads_on_cpu_with_a_warning():
    with pytest.warns(DeviceWarning, match="cpu"):
        saved = joblib.load(FIXTURE)
    model = saved["model"]
    # The fixture's probabilities were computed on another CPU: float32 matmul
    # rounding differs across SIMD paths (an exact comparison failed by 3e-8).
    np.testing.assert_allclose(
        model.predict_proba(saved["X"]), saved["proba"], rtol=1e-6, atol=0
    )
    model.set_params(device="cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        model.predict(saved["X"])


# stitchers ----------------------------------------------------------------------


def test_safe_round_trip_of_a_pipeline(tmp_path, pipeline, data):
    X, _ = data
    folder = save_stitcher(pipeline, tmp_path / "model")
    version = folder / (folder / "CURRENT").read_text()
    assert sorted(p.name for p in version.iterdir()) == [
        "stitcher.json",
        "weights.safetensors",
    ]
    loaded = load_stitcher(folder)
    assert isinstance(loaded, Pipeline)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    assert loaded[-1].get_params() == pipeline[-1].get_params()
    np.testing.assert_array_equal(loaded[0].anchors_, pipeline[0].anchors_)


def test_safe_round_trip_of_a_regressor(tmp_path, data):
    X, _ = data
    model = StitchingRegressor(subspaces=2, aggregation="mlp_sum", max_epochs=2)
    model.fit(X, X[:, 0])
    loaded = load_stitcher(save_stitcher(model, tmp_path / "reg"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.predict(X).ndim == 1


@pytest.mark.parametrize("scaler", [StandardScaler(), PCA(6, whiten=True)])
def test_stitcher_after_sklearn_preprocessing_round_trips(tmp_path, data, scaler):
    X, y = data
    model = make_pipeline(
        scaler,
        InvariantProductSpace(["cosine", "euclidean"], n_anchors=6, random_state=0),
        StandardScaler(),
        StitchingClassifier(subspaces=2, max_epochs=2, random_state=0),
    ).fit(X, y)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


# transformers and scikit-learn steps (issue 11, item 6) ----------------------------


@pytest.mark.parametrize(
    "transformer",
    [
        RelativeProjector("euclidean", n_anchors=7, output_scaling="standard"),
        RelativeProjector(anchors=np.eye(10)[:4], preprocessing="standard"),
        InvariantProductSpace(n_anchors=5, anchor_selection="farthest"),
    ],
    ids=["projector", "explicit-anchors", "product"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_transformer_on_its_own_round_trips_bit_for_bit(
    tmp_path, data, transformer, dtype
):
    X = data[0].astype(dtype)
    transformer.set_params(random_state=0).fit(X)
    loaded = load_stitcher(save_stitcher(transformer, tmp_path / "t"))
    assert type(loaded) is type(transformer)
    assert loaded.get_params().keys() == transformer.get_params().keys()
    expected = transformer.transform(X)
    np.testing.assert_array_equal(loaded.transform(X), expected)
    assert loaded.transform(X).dtype == expected.dtype
    assert loaded.layout_ == transformer.layout_


@pytest.mark.parametrize(
    "step",
    [
        StandardScaler(),
        StandardScaler(with_mean=False),
        MinMaxScaler(feature_range=(-1, 2), clip=True),
        MaxAbsScaler(),
        Normalizer("l1"),
        PCA(4),
        PCA(0.9, whiten=True, svd_solver="full"),
    ],
    ids=lambda step: repr(step),
)
def test_sklearn_preprocessing_steps_round_trip(tmp_path, data, step):
    X, _ = data
    model = make_pipeline(
        step, InvariantProductSpace(["cosine", "l1"], n_anchors=6, random_state=0)
    ).fit(X)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    np.testing.assert_array_equal(loaded[0].transform(X), model[0].transform(X))
    assert repr(loaded[0]) == repr(model[0])


def test_nested_pipelines_and_passthrough_round_trip(tmp_path, data):
    X, _ = data
    inner = make_pipeline(StandardScaler(), PCA(5))
    model = Pipeline(
        [("skip", "passthrough"), ("inner", inner), ("space", RelativeProjector())]
    )
    model.set_params(space__n_anchors=4, space__random_state=0).fit(X)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert loaded.steps[0] == ("skip", "passthrough")
    assert isinstance(loaded.named_steps["inner"], Pipeline)
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))


# set_output (issue 9, item 15) ----------------------------------------------------


def test_set_output_pandas_survives_save_and_load(tmp_path, data):
    X, _ = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    model = make_pipeline(
        StandardScaler(),
        InvariantProductSpace(["cosine", "l1"], n_anchors=4, random_state=0),
    ).set_output(transform="pandas")
    model.fit(frame)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    expected, result = model.transform(frame), loaded.transform(frame)
    assert isinstance(result, pd.DataFrame)
    pd.testing.assert_frame_equal(result, expected)
    assert list(loaded.feature_names_in_) == list(frame.columns)
    alone = load_stitcher(save_stitcher(model[-1], tmp_path / "alone"))
    assert isinstance(alone.transform(model[0].transform(frame)), pd.DataFrame)


def test_default_output_stays_numpy(tmp_path, data):
    X, _ = data
    model = RelativeProjector(n_anchors=4, random_state=0).fit(X)
    model.set_output(transform="pandas").set_output(transform="default")
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert isinstance(loaded.transform(X), np.ndarray)


# what is refused ------------------------------------------------------------------


def _similarity(x, anchors):
    return x @ anchors.T


@pytest.mark.parametrize(
    "model",
    [
        RelativeProjector(_similarity, n_anchors=4),
        InvariantProductSpace(["cosine", _similarity], n_anchors=4),
    ],
    ids=["projector", "product"],
)
def test_callables_are_refused_with_the_reason(tmp_path, data, model):
    X, _ = data
    model.fit(X)
    with pytest.raises(TypeError, match="a callable cannot be stored without pickle"):
        save_stitcher(model, tmp_path / "model")
    with pytest.raises(TypeError, match="joblib"):
        save_stitcher(make_pipeline(StandardScaler(), model).fit(X), tmp_path / "model")
    assert not (tmp_path / "model").exists()


class _OwnScaler(StandardScaler):
    pass


@pytest.mark.parametrize(
    "model",
    [
        RelativeProjector(n_anchors=4, random_state=np.random.RandomState(0)),
        RobustScaler(),
        _OwnScaler(),
        make_pipeline(StandardScaler(), memory=".cache"),
    ],
    ids=["random-state-instance", "unlisted-class", "subclass", "memory"],
)
def test_refuses_what_it_cannot_store_safely(tmp_path, data, model):
    X, _ = data
    model.fit(X)
    with pytest.raises(TypeError, match="safe format|memory"):
        save_stitcher(model, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_refuses_an_unfitted_estimator(tmp_path):
    with pytest.raises(NotFittedError):
        save_stitcher(make_pipeline(StandardScaler()), tmp_path / "model")


# devices ----------------------------------------------------------------------------


@pytest.fixture
def cuda_tagged(tmp_path, data):
    """A model whose saved device is CUDA, as if it had been trained there."""
    X, _ = data
    model = RelativeProjector(n_anchors=5, random_state=0, device="cpu").fit(X)
    expected = model.transform(X)
    model.set_params(device="cuda")
    return save_stitcher(model, tmp_path / "model"), expected


def test_a_cuda_model_loads_on_the_cpu(cuda_tagged, data):
    folder, expected = cuda_tagged
    for device in ("cpu", "auto"):
        loaded = load_stitcher(folder, device=device)
        assert loaded.device == device
        np.testing.assert_allclose(loaded.transform(data[0]), expected, rtol=1e-6)


@no_cuda
def test_a_saved_unavailable_device_is_a_clear_error(cuda_tagged):
    folder, _ = cuda_tagged
    with pytest.raises(ValueError, match="device='cpu'"):
        load_stitcher(folder)


@no_cuda
def test_explicit_unavailable_device_is_an_error(cuda_tagged):
    folder, _ = cuda_tagged
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        load_stitcher(folder, device="cuda")


def test_auto_device_runs_where_it_can(tmp_path, data):
    X, _ = data
    model = InvariantProductSpace(n_anchors=4, random_state=0).fit(X)
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert loaded.device == "auto"
    np.testing.assert_allclose(loaded.transform(X), model.transform(X))


# values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        np.float32(0.1),
        np.int64(-7),
        np.bool_(True),
        float("nan"),
        float("-inf"),
        (1, (2.5, "x"), [None, True]),
        {"a": np.arange(3), "b": {"c": 1}},
        np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        np.arange(4, dtype=">f8"),
        np.zeros((0, 3), dtype=np.float32),
        np.array(["a", "bb"], dtype="U10"),
        np.array(["a", "bb"], dtype=object),
        np.array([True, False]),
        SubspaceLayout(("cosine", "l1"), (3, 4)),
        pd.DataFrame(np.eye(2), columns=["x", "y"]),
        torch.optim.RMSprop,
        torch.device("cpu"),
    ],
    ids=lambda value: type(value).__name__,
)
def test_values_round_trip_exactly(value):
    arrays = {}
    stored = json.loads(json.dumps(encode(value, "value", arrays), allow_nan=False))
    arrays = load_arrays(save_arrays(arrays))
    used = set()
    restored = decode(stored, "value", arrays, used)
    assert used == set(arrays)
    if isinstance(value, torch.device):
        assert restored == str(value)
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(restored, value)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(restored, value)
        assert restored.dtype == value.dtype.newbyteorder("=")
        assert restored.flags.f_contiguous == value.flags.f_contiguous
    elif isinstance(value, dict):
        np.testing.assert_array_equal(restored["a"], value["a"])
        assert restored["b"] == value["b"]
    elif isinstance(value, float) and np.isnan(value):
        assert np.isnan(restored)
    else:
        assert restored == value
        assert type(restored) is type(value)


def test_data_frame_anchors_round_trip(tmp_path, data):
    X, _ = data
    columns = [f"f{i}" for i in range(X.shape[1])]
    anchors = pd.DataFrame(X[:5], columns=columns)
    model = RelativeProjector(anchors=anchors).fit(pd.DataFrame(X, columns=columns))
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    pd.testing.assert_frame_equal(loaded.anchors, anchors)
    frame = pd.DataFrame(X, columns=columns)
    np.testing.assert_array_equal(loaded.transform(frame), model.transform(frame))


def test_a_cuda_stitcher_loads_on_the_cpu(tmp_path, pipeline, data):
    X, _ = data
    tagged = clone(pipeline).set_params(stitcher__device="cpu").fit(*data)
    expected = tagged.predict_proba(X)
    tagged.set_params(stitcher__device="cuda", product__device="cuda")
    folder = save_stitcher(tagged, tmp_path / "model")
    loaded = load_stitcher(folder, device="cpu")
    assert loaded[-1].device == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)


# Where each class lived before the package was split into its two wings.
_OLD_PATHS = {
    b"sklearn_relrep.relative._transformers\n": b"sklearn_relrep._relative\n",
    b"sklearn_relrep.stitching._classifier\n": b"sklearn_relrep._stitching\n",
    b"sklearn_relrep.stitching._net\n": b"sklearn_relrep._stitching_net\n",
    b"sklearn_relrep._torch_training\n": b"sklearn_relrep._stitching_net\n",
}


def test_a_pickle_naming_the_old_private_modules_still_loads(pipeline, data):
    """Files saved before the split name ``sklearn_relrep._stitching`` and co."""
    import importlib
    import pickle

    from sklearn_relrep.relative import _transformers

    X, _ = data
    # Protocol 2 names each class as a "module\nname\n" line, easy to rewrite.
    stream = pickle.dumps(pipeline, protocol=2)
    for new, old in _OLD_PATHS.items():
        assert new in stream
        stream = stream.replace(new, old)
    restored = pickle.loads(stream)
    np.testing.assert_array_equal(restored.predict_proba(X), pipeline.predict_proba(X))
    assert importlib.import_module("sklearn_relrep._relative") is _transformers
    package = Path(_transformers.__file__).parents[1]
    assert not (package / "_relative.py").exists()  # an alias, not a shim module
