"""The safe format's digest, its optional HMAC, and hostile files (issue 9, 9 and 11).

A hostile file is written as someone who rewrites both files would write it: the
edit is followed by a freshly computed digest, so that the loader's own checks,
not the digest, must catch it, each with one clear ``ValueError``.
"""

import json
import time

import numpy as np
import pytest
import torch
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_relrep import (
    InvariantProductSpace,
    StitchingClassifier,
    load_stitcher,
    save_stitcher,
)
from sklearn_relrep._persistence._directory import current_folder
from sklearn_relrep._persistence._objects import weight_lower_bound
from sklearn_relrep._persistence._store import compute_digest
from sklearn_relrep.nn import StitchingNetwork

CONFIG, WEIGHTS = "stitcher.json", "weights.safetensors"


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 8))
    y = np.where(X[:, 0] > 0, "yes", "no")
    return X, y


@pytest.fixture(scope="module")
def transformers(data):
    X, _ = data
    return make_pipeline(
        StandardScaler(),
        PCA(6),
        InvariantProductSpace(["cosine", "l1"], n_anchors=5, random_state=0),
    ).fit(X)


@pytest.fixture(scope="module")
def stitcher(data):
    X, y = data
    return make_pipeline(
        InvariantProductSpace(["cosine", "l1"], n_anchors=6, random_state=0),
        StitchingClassifier(hidden_sizes=(8,), max_epochs=2, random_state=0),
    ).fit(X, y)


@pytest.fixture
def saved(tmp_path, transformers):
    return save_stitcher(transformers, tmp_path / "model")


def _rewrite(folder, edit, *, key=None, weights=None):
    """Edit the config (and optionally the weights) and write a valid digest."""
    files = current_folder(folder)
    config = json.loads((files / CONFIG).read_text())
    edit(config)
    if weights is not None:
        (files / WEIGHTS).write_bytes(weights)
    config["digest"] = compute_digest(config, (files / WEIGHTS).read_bytes(), key)
    (files / CONFIG).write_text(json.dumps(config))


def _edit_without_digest(folder, edit):
    files = current_folder(folder)
    config = json.loads((files / CONFIG).read_text())
    edit(config)
    (files / CONFIG).write_text(json.dumps(config))


def _step(config, index):
    return config["model"]["steps"][index][1]


# item 9: one digest over config and weights -----------------------------------------


def test_editing_classes_in_the_json_raises(tmp_path, stitcher, data):
    folder = save_stitcher(stitcher, tmp_path / "model")
    before = (current_folder(folder) / WEIGHTS).read_bytes()

    def invert(config):
        classes = _step(config, -1)["state"]["classes_"]
        classes["__strings__"] = classes["__strings__"][::-1]

    _edit_without_digest(folder, invert)
    assert (current_folder(folder) / WEIGHTS).read_bytes() == before
    with pytest.raises(ValueError, match="checksum"):
        load_stitcher(folder)


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: _step(c, -1)["params"].update(output_scaling=None),
        lambda c: _step(c, 1)["state"].update(n_components_=5),
        lambda c: c["model"]["steps"].reverse(),
        lambda c: c.update(sklearn_relrep_version="9.9"),
    ],
    ids=["parameter", "state", "structure", "version-string"],
)
def test_any_edit_of_the_config_is_detected(saved, data, edit):
    _edit_without_digest(saved, edit)
    with pytest.raises(ValueError, match="checksum"):
        load_stitcher(saved)


def test_refuses_tampered_weights(saved):
    weights = current_folder(saved) / WEIGHTS
    content = bytearray(weights.read_bytes())
    content[-1] ^= 1
    weights.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="checksum"):
        load_stitcher(saved)


def test_refuses_truncated_weights(saved):
    weights = current_folder(saved) / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="modified or truncated"):
        load_stitcher(saved)


def test_refuses_truncated_config(saved):
    config = current_folder(saved) / CONFIG
    config.write_text(config.read_text()[:50])
    with pytest.raises(ValueError, match="not valid JSON"):
        load_stitcher(saved)


def test_refuses_weights_of_another_model(tmp_path, data, transformers):
    X, _ = data
    other = make_pipeline(
        StandardScaler(),
        PCA(6),
        InvariantProductSpace(["cosine", "l1"], n_anchors=5, random_state=1),
    ).fit(X)
    first = save_stitcher(transformers, tmp_path / "first")
    second = save_stitcher(other, tmp_path / "second")
    other_weights = (current_folder(second) / WEIGHTS).read_bytes()
    (current_folder(first) / WEIGHTS).write_bytes(other_weights)
    with pytest.raises(ValueError, match="do not belong together"):
        load_stitcher(first)


def test_refuses_other_format_versions(saved):
    _edit_without_digest(saved, lambda c: c.update(format_version=1))
    with pytest.raises(ValueError, match="format version 1"):
        load_stitcher(saved)


def test_the_digest_does_not_stop_someone_who_rewrites_both_files(saved, data):
    """The documented limit: a plain digest is recomputable; only a key helps."""
    X, _ = data
    original = load_stitcher(saved).transform(X)
    _rewrite(saved, lambda c: _step(c, -1)["params"].update(output_scaling=None))
    assert not np.array_equal(load_stitcher(saved).transform(X), original)


# item 9: the optional HMAC -----------------------------------------------------------


def test_a_signed_model_needs_its_key(tmp_path, transformers, data):
    X, _ = data
    folder = save_stitcher(transformers, tmp_path / "model", key=b"right key")
    loaded = load_stitcher(folder, key=b"right key")
    np.testing.assert_array_equal(loaded.transform(X), transformers.transform(X))
    with pytest.raises(ValueError, match="signed with a key"):
        load_stitcher(folder)
    with pytest.raises(ValueError, match="signature .* does not match"):
        load_stitcher(folder, key=b"wrong key")


def test_a_key_refuses_unsigned_and_resigned_models(tmp_path, transformers):
    folder = save_stitcher(transformers, tmp_path / "model")
    with pytest.raises(ValueError, match="not signed"):
        load_stitcher(folder, key=b"right key")
    signed = save_stitcher(transformers, tmp_path / "signed", key=b"right key")

    def change(config):
        _step(config, -1)["params"]["output_scaling"] = None

    _rewrite(signed, change, key=b"attacker key")
    with pytest.raises(ValueError, match="signature .* does not match"):
        load_stitcher(signed, key=b"right key")
    _rewrite(signed, change)  # downgraded to a plain checksum
    with pytest.raises(ValueError, match="not signed"):
        load_stitcher(signed, key=b"right key")


def test_a_key_must_be_bytes(tmp_path, transformers):
    with pytest.raises(TypeError, match="key must be non-empty bytes"):
        save_stitcher(transformers, tmp_path / "model", key="text")
    assert not (tmp_path / "model").exists()


# item 11: hostile configs with a valid digest ----------------------------------------


def _swap_array_references(config):
    pca = _step(config, 1)["state"]
    pca["mean_"], pca["components_"] = pca["components_"], pca["mean_"]


def _unreferenced_array(folder):
    arrays = load_arrays((current_folder(folder) / WEIGHTS).read_bytes())
    arrays["smuggled"] = np.zeros(3)
    return save_arrays(arrays)


HOSTILE_EDITS = {
    "predict-as-state": (
        lambda c: _step(c, -1)["state"].update(predict="x"),
        "no state attribute",
    ),
    "method-as-state": (
        lambda c: _step(c, -1)["state"].update(transform="x"),
        "'transform', a method of InvariantProductSpace",
    ),
    "unknown-protocol-state": (
        lambda c: _step(c, -1)["state"].update(hidden_="x"),
        "no state attribute",
    ),
    "unknown-sklearn-state": (
        lambda c: _step(c, 0)["state"].update(with_mean_=1),
        "no state attribute",
    ),
    "unknown-parameter": (
        lambda c: _step(c, 0)["params"].update(bogus=1),
        "no parameter",
    ),
    "invalid-parameter": (
        lambda c: _step(c, -1)["params"].update(batch_size=-3),
        "batch_size",
    ),
    "unknown-class": (
        lambda c: _step(c, 0).update({"class": "os.system"}),
        "Unknown class",
    ),
    "missing-model": (lambda c: c.pop("model"), "expected an estimator object"),
    "missing-state": (lambda c: _step(c, 0).pop("state"), "'state' must be"),
    "missing-params": (lambda c: _step(c, 0).pop("params"), "'params' must be"),
    "missing-steps": (lambda c: c["model"].pop("steps"), "non-empty list of steps"),
    "bad-step-pair": (
        lambda c: c["model"]["steps"][0].append("extra"),
        "pair",
    ),
    "unknown-marker": (
        lambda c: _step(c, 0)["state"].update(mean_={"__pickle__": "x"}),
        "none of the stored forms",
    ),
    "missing-array": (
        lambda c: _step(c, 0)["state"].update(mean_={"__array__": "nowhere"}),
        "no array 'nowhere'",
    ),
    "array-twice": (
        lambda c: _step(c, 0)["state"].update(var_=_step(c, 0)["state"]["mean_"]),
        "referenced twice",
    ),
    "swapped-shapes": (_swap_array_references, "Cannot load"),
    "zip-length": (
        lambda c: _step(c, -1)["params"]["similarities"].append("linf"),
        "Cannot load",
    ),
    "huge-width": (
        lambda c: _step(c, 0)["state"].update(n_features_in_=10**12),
        "implausibly large",
    ),
    "bool-width": (
        lambda c: _step(c, 0)["state"].update(n_features_in_=True),
        "positive int",
    ),
    "scalar-overflow": (
        lambda c: _step(c, 0)["state"].update(
            n_samples_seen_={"__scalar__": 300, "dtype": "int8"}
        ),
        "does not fit",
    ),
    "wrong-type-state": (
        lambda c: _step(c, 0)["state"].update(scale_="abc"),
        "unexpected str",
    ),
    "extra-top-level-entry": (lambda c: c.update(hook="x"), "unknown entries"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_EDITS))
def test_hostile_configs_raise_one_clear_value_error(saved, data, name):
    edit, message = HOSTILE_EDITS[name]
    _rewrite(saved, edit)
    with pytest.raises(ValueError, match=message) as caught:
        load_stitcher(saved)
    assert type(caught.value) is ValueError
    assert str(saved) in str(caught.value)


def test_unnamed_arrays_in_the_weights_are_refused(saved):
    _rewrite(saved, lambda c: None, weights=_unreferenced_array(saved))
    with pytest.raises(ValueError, match="does not name.*smuggled"):
        load_stitcher(saved)


def test_garbage_weights_with_a_valid_digest_are_refused(saved):
    _rewrite(saved, lambda c: None, weights=b"\xff" * 64)
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        load_stitcher(saved)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"format": NaN}',
        '{"format": 1e999}',
        '{"format": 1, "format": 2}',
        "[1, 2]",
        '{"format": "' + "\udcff" + '"}',
    ],
    ids=["deep-nesting", "nan", "overflow", "duplicate-key", "not-an-object", "utf8"],
)
def test_malformed_json_is_a_value_error(saved, text):
    content = text.encode("utf-8", "surrogateescape")
    (current_folder(saved) / CONFIG).write_bytes(content)
    with pytest.raises(ValueError, match="not valid JSON|JSON object"):
        load_stitcher(saved)


def test_deeply_nested_values_are_refused(saved):
    def nest(config):
        value = 1
        for _ in range(50):
            value = [value]
        _step(config, 0)["params"]["copy"] = value

    _rewrite(saved, nest)
    with pytest.raises(ValueError, match="nested deeper"):
        load_stitcher(saved)


# item 11: sizes are bounded by the weights before anything is built ---------------


def test_huge_hidden_sizes_are_refused_before_allocating(tmp_path, stitcher):
    folder = save_stitcher(stitcher, tmp_path / "model")

    def widen(config):
        _step(config, -1)["params"]["hidden_sizes"] = {"__tuple__": [20000, 20000]}

    _rewrite(folder, widen)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"imply a network of at least \d{9} weights"):
        load_stitcher(folder)
    assert time.perf_counter() - start < 5  # a 1.6 GB allocation would be slower


def test_refuses_mismatched_architecture(tmp_path, stitcher):
    folder = save_stitcher(stitcher, tmp_path / "model")

    def narrow(config):
        _step(config, -1)["params"]["hidden_sizes"] = {"__tuple__": [4]}

    _rewrite(folder, narrow)
    with pytest.raises(ValueError, match="Cannot load"):
        load_stitcher(folder)


@pytest.mark.parametrize(
    "aggregation", ["concat", "sum", "mlp_sum", "weighted", "attention"]
)
@pytest.mark.parametrize("hidden_sizes", [(), (7,), (9, 5)])
def test_the_size_bound_never_exceeds_the_real_network(aggregation, hidden_sizes):
    sizes, n_outputs = (6, 6, 6), 3
    network = StitchingNetwork(
        sizes, n_outputs, aggregation=aggregation, hidden_sizes=hidden_sizes
    )
    real = sum(p.numel() for p in network.state_dict().values())
    params = {"aggregation": aggregation, "hidden_sizes": hidden_sizes}
    state = {"subspace_widths_": sizes, "aggregation_": aggregation, "n_outputs_": 3}
    bound = weight_lower_bound(params, state)
    assert bound <= real
    assert bound >= real // 3  # tight enough to matter
    bigger = {"aggregation": aggregation, "hidden_sizes": (*hidden_sizes, 4 * real)}
    assert (
        weight_lower_bound(
            bigger,
            {"subspace_widths_": sizes, "aggregation_": aggregation, "classes_": "abc"},
        )
        > real
    )


def test_weights_of_every_dtype_round_trip(tmp_path, data):
    X, _ = data
    model = InvariantProductSpace(n_anchors=4, random_state=0).fit(X.astype(np.float32))
    loaded = load_stitcher(save_stitcher(model, tmp_path / "model"))
    assert loaded.anchors_.dtype == np.float32
    assert loaded.anchor_indices_.dtype == model.anchor_indices_.dtype
    assert loaded.anchors_.flags.writeable
    assert torch.equal(
        torch.from_numpy(loaded.transform(X.astype(np.float32))),
        torch.from_numpy(model.transform(X.astype(np.float32))),
    )
