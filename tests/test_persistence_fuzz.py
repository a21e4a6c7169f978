"""Fuzzing the safe format's loader with random edits of the JSON (issue 9, item 12).

Each example edits a saved model's ``stitcher.json`` one to three times: it
replaces, deletes, adds, duplicates, truncates, nests or retypes a value, or
sets a number to an extreme. Two attackers are simulated:

- someone who edits the config only: every load raises ``ValueError`` or gives
  a model that predicts bit for bit as the original;
- someone who also rewrites the digest: every load raises ``ValueError`` and
  nothing else, and a model that does load predicts finite values of the right
  shape or raises ``ValueError``.

The seed is fixed (``derandomize=True``) and the example counts are sized so
that both properties together take well under 30 s.
"""

import copy
import json
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
from sklearn_relrep._persistence._store import compute_digest

CONFIG, WEIGHTS = "stitcher.json", "weights.safetensors"
FUZZ_SETTINGS = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=20),  # a hang guard: an example takes ~0.1 s
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NUMBERS = [0, 1, -1, 2, 3, 7, 2**31, 2**63, 10**30, -(10**30), 0.5, -0.0]
NUMBERS += [1e308, -1e308, 1e-308, 3.5]
KEYS = ["predict", "transform", "__array__", "__tuple__", "__dict__", "__strings__"]
KEYS += ["__scalar__", "__layout__", "__class__", "class", "params", "state"]
KEYS += ["steps", "output", "n_features_in_", "layout_", "device", "extra", "dtype"]
OPERATIONS = ["replace", "number", "delete", "add", "duplicate", "truncate"]
OPERATIONS += ["nest", "retype", "swap"]


def _model(kind, X, y):
    steps = [
        StandardScaler(),
        PCA(5),
        InvariantProductSpace(["cosine", "l1"], n_anchors=5, random_state=0),
    ]
    if kind == "stitcher":
        steps.append(
            StitchingClassifier(
                aggregation="attention", hidden_sizes=(6,), max_epochs=1, random_state=0
            )
        )
    return make_pipeline(*steps).fit(X, y)


def _outputs(model, X) -> dict:
    """Method name -> output, for the methods the model has."""
    methods = ("predict_proba", "predict") if hasattr(model, "predict") else ()
    return {m: getattr(model, m)(X) for m in methods or ("transform",)}


@pytest.fixture(scope="module", params=["transformers", "stitcher"])
def saved(request, tmp_path_factory):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 8))
    y = np.where(X[:, 0] > 0, "a", "b")
    model = _model(request.param, X, y)
    folder = save_stitcher(model, tmp_path_factory.mktemp("fuzz") / "model")
    config = json.loads((current_folder(folder) / CONFIG).read_text())
    return folder, config, X, _outputs(model, X)


def _strings(node) -> list:
    """Every string and key in the config: class names, array names, options."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [*node, *_strings(list(node.values()))]
    if isinstance(node, list):
        return [s for child in node for s in _strings(child)]
    return []


def _paths(node, prefix=()):
    """Every position below the root, as a tuple of keys and indices."""
    if not isinstance(node, dict | list):
        return []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    paths = []
    for key, child in items:
        paths.append((*prefix, key))
        paths.extend(_paths(child, (*prefix, key)))
    return paths


def _json_values(strings):
    leaves = (
        st.none()
        | st.booleans()
        | st.sampled_from(NUMBERS)
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=6)
        | st.sampled_from(strings)
    )
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=3)
            | st.dictionaries(
                st.sampled_from(KEYS) | st.text(max_size=4), children, max_size=3
            )
        ),
        max_leaves=6,
    )


def _mutate(config: dict, data, strings) -> None:
    """Apply one random edit to ``config`` in place."""
    paths = _paths(config)
    if not paths:
        return
    path = data.draw(st.sampled_from(paths))
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    key, node = path[-1], parent[path[-1]]
    operation = data.draw(st.sampled_from(OPERATIONS))
    values = _json_values(strings)
    if operation == "replace":
        parent[key] = data.draw(values)
    elif operation == "number":
        around = (
            [node + 1, node - 1, -node, node * 2] if type(node) in (int, float) else []
        )
        parent[key] = data.draw(st.sampled_from(NUMBERS + around))
    elif operation == "delete":
        del parent[key]
    elif operation == "add" and isinstance(node, dict):
        node[data.draw(st.sampled_from(KEYS + strings))] = data.draw(values)
    elif operation == "add" and isinstance(node, list):
        node.insert(data.draw(st.integers(0, len(node))), data.draw(values))
    elif operation == "duplicate" and isinstance(node, list) and node:
        node.append(copy.deepcopy(data.draw(st.sampled_from(node))))
    elif operation == "truncate" and isinstance(node, list | str):
        parent[key] = node[: data.draw(st.integers(0, max(len(node) - 1, 0)))]
    elif operation == "nest":
        parent[key] = data.draw(
            st.sampled_from([[node], {"__tuple__": [node]}, {"__dict__": {"x": node}}])
        )
    elif operation == "retype":
        parent[key] = data.draw(st.sampled_from([str(node), [node], {"x": node}, None]))
    elif operation == "swap":
        other = data.draw(st.sampled_from(paths))
        shorter = min(len(path), len(other))
        if path[:shorter] == other[:shorter]:
            return  # one lies inside the other: swapping would make a cycle
        target = config
        for step in other[:-1]:
            target = target[step]
        parent[key], target[other[-1]] = target[other[-1]], node
    else:
        parent[key] = data.draw(values)


def _load_mutated(saved, data, *, rewrite_digest):
    folder, original, _, _ = saved
    config = copy.deepcopy(original)
    strings = sorted(set(_strings(original)))
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(config, data, strings)
    if rewrite_digest:
        weights = (current_folder(folder) / WEIGHTS).read_bytes()
        config["digest"] = compute_digest(config, weights, None)
    (current_folder(folder) / CONFIG).write_text(json.dumps(config))
    try:
        return load_stitcher(folder)
    except ValueError:
        return None
    finally:
        (current_folder(folder) / CONFIG).write_text(json.dumps(original))


@FUZZ_SETTINGS
@given(data=st.data())
def test_edited_config_is_refused_or_predicts_identically(saved, data):
    model = _load_mutated(saved, data, rewrite_digest=False)
    if model is not None:
        _, _, X, expected = saved
        results = _outputs(model, X)
        assert results.keys() == expected.keys()
        for method, result in results.items():
            np.testing.assert_array_equal(result, expected[method])
            assert result.dtype == expected[method].dtype


@FUZZ_SETTINGS
@given(data=st.data())
def test_rewritten_config_and_digest_fail_only_with_value_error(saved, data):
    model = _load_mutated(saved, data, rewrite_digest=True)
    if model is None:
        return
    _, _, X, expected = saved
    try:
        results = _outputs(model, X)
    except ValueError:
        return
    for method, result in results.items():
        assert np.shape(result)[0] == len(X)
        if method in expected:
            assert np.ndim(result) == np.ndim(expected[method])
        if np.asarray(result).dtype.kind in "fc":
            assert np.isfinite(result).all()
