"""joblib pickles, CUDA-saved models on CPU, and the safe safetensors+JSON format."""

import json
from pathlib import Path

import joblib
import numpy as np
import pytest
import skorch.net
import torch
from sklearn.pipeline import Pipeline
from skorch.exceptions import DeviceWarning

from sklearn_relrep import (
    InvariantProductSpace,
    StitchingClassifier,
    StitchingRegressor,
    load_stitcher,
    save_stitcher,
)

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


def test_safe_round_trip_of_a_pipeline(tmp_path, pipeline, data):
    X, _ = data
    folder = save_stitcher(pipeline, tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == [
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


def test_never_overwrites_silently(tmp_path, pipeline):
    folder = save_stitcher(pipeline, tmp_path / "model")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_stitcher(pipeline, folder)
    save_stitcher(pipeline, folder, overwrite=True)


@pytest.fixture
def saved(tmp_path, pipeline):
    return save_stitcher(pipeline, tmp_path / "model")


def test_refuses_tampered_weights(saved):
    weights = saved / "weights.safetensors"
    content = bytearray(weights.read_bytes())
    content[-1] ^= 1
    weights.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="checksum"):
        load_stitcher(saved)


def test_refuses_truncated_weights(saved):
    weights = saved / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="modified or truncated"):
        load_stitcher(saved)


def test_refuses_truncated_config(saved):
    config = saved / "stitcher.json"
    config.write_text(config.read_text()[:50])
    with pytest.raises(ValueError, match="not valid JSON"):
        load_stitcher(saved)


def _edit_config(folder, edit):
    path = folder / "stitcher.json"
    config = json.loads(path.read_text())
    edit(config)
    path.write_text(json.dumps(config))


def test_refuses_mismatched_architecture(saved):
    def widen(config):
        config["steps"][-1]["params"]["hidden_sizes"] = {"__tuple__": [32, 8]}

    _edit_config(saved, widen)
    with pytest.raises(ValueError, match="do not fit"):
        load_stitcher(saved)


def test_refuses_other_versions_and_classes(saved):
    _edit_config(saved, lambda c: c.update(format_version=99))
    with pytest.raises(ValueError, match="format version 99"):
        load_stitcher(saved)
    _edit_config(saved, lambda c: c.update(format_version=1))

    def smuggle(config):
        config["steps"][0]["class"] = "os.system"

    _edit_config(saved, smuggle)
    with pytest.raises(ValueError, match="Unknown class"):
        load_stitcher(saved)


@no_cuda
def test_explicit_unavailable_device_is_an_error(saved):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        load_stitcher(saved, device="cuda")


def test_refuses_what_it_cannot_store_safely(tmp_path, data):
    X, y = data
    model = StitchingClassifier(max_epochs=1, random_state=np.random.RandomState(0))
    with pytest.raises(TypeError, match="safe format"):
        save_stitcher(model.fit(X, y), tmp_path / "model")
