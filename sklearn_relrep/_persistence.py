"""A safe file format for stitching models: safetensors weights plus JSON config.

Nothing is unpickled when loading: classes come from a fixed allow-list, their
parameters and fitted attributes from JSON, and every array (anchors, statistics,
network weights) from one safetensors file whose SHA-256 is recorded in the JSON.

Devices: the weights are stored device-free, so a model trained on CUDA loads on
a CPU-only machine. Prediction resolves the estimator's ``device`` parameter:
``"auto"`` (the default) runs on the CPU there, while an explicit ``"cuda"``
raises a clear error; ``load_stitcher(path, device="cpu")`` overrides it.
(Pickles made with joblib behave the same way: skorch maps CUDA weights to the
CPU with a ``DeviceWarning``.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._backend import resolve_device
from ._relative import InvariantProductSpace, RelativeProjector
from ._stitching import StitchingClassifier, StitchingRegressor
from ._stitching_base import BaseStitchingEstimator

__all__ = ["load_stitcher", "save_stitcher"]

FORMAT_NAME = "sklearn_relrep.stitcher"
FORMAT_VERSION = 1
CONFIG_FILE = "stitcher.json"
WEIGHTS_FILE = "weights.safetensors"
_CLASSES = {
    cls.__name__: cls
    for cls in (
        RelativeProjector,
        InvariantProductSpace,
        StitchingClassifier,
        StitchingRegressor,
    )
}
_PRIVATE_STATE = ("_y_is_1d",)


def _encode(value, key: str, arrays: dict):
    """JSON-able form of ``value``; numeric arrays go to ``arrays`` under ``key``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, tuple | list):
        items = [_encode(v, f"{key}.{i}", arrays) for i, v in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            arrays[key] = np.ascontiguousarray(value)
            return {"__array__": key}
        if value.dtype.kind in "UO" and all(isinstance(v, str) for v in value.flat):
            return {"__strings__": value.tolist(), "dtype": value.dtype.kind}
    raise TypeError(
        f"{key} of type {type(value).__name__} cannot be saved in the safe format "
        "(only numbers, strings, numeric arrays and string arrays can); use "
        "joblib for such models."
    )


def _decode(value, arrays: dict):
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_decode(v, arrays) for v in value["__tuple__"])
    if "__array__" in value:
        if value["__array__"] not in arrays:
            raise ValueError(
                f"The weights file lacks the array {value['__array__']!r} named in "
                "the config: config and weights do not belong together."
            )
        return arrays[value["__array__"]]
    if "__strings__" in value:
        return np.asarray(
            value["__strings__"], dtype=object if value["dtype"] == "O" else str
        )
    raise ValueError(f"Unrecognised entry in the config: {value!r}.")


def _describe_step(index: int, name: str, step, arrays: dict) -> dict:
    if (
        type(step).__name__ not in _CLASSES
        or type(step) is not _CLASSES[type(step).__name__]
    ):
        raise TypeError(
            f"Step {name!r} is a {type(step).__name__}; the safe format stores only "
            f"{sorted(_CLASSES)}."
        )
    check_is_fitted(step)
    prefix = f"step{index}"
    state = {
        key: value
        for key, value in vars(step).items()
        if (key.endswith("_") and not key.startswith("_") and key != "net_")
        or key in _PRIVATE_STATE
    }
    description = {
        "name": name,
        "class": type(step).__name__,
        "params": _encode_params(
            step.get_params(deep=False), f"{prefix}.params", arrays
        ),
        "state": {
            k: _encode(v, f"{prefix}.state.{k}", arrays) for k, v in state.items()
        },
    }
    if isinstance(step, BaseStitchingEstimator):
        module_state = step.net_.module_.state_dict()
        for key, tensor in module_state.items():
            arrays[f"{prefix}.module.{key}"] = tensor.detach().cpu().numpy()
        description["module_shapes"] = {
            key: list(tensor.shape) for key, tensor in module_state.items()
        }
    return description


def _encode_params(params: dict, key: str, arrays: dict) -> dict:
    return {k: _encode(v, f"{key}.{k}", arrays) for k, v in params.items()}


def save_stitcher(estimator, path, *, overwrite: bool = False) -> Path:
    """Save a fitted stitching model without pickle.

    Parameters
    ----------
    estimator : StitchingClassifier, StitchingRegressor or Pipeline
        A fitted stitching estimator, or a fitted pipeline of relative steps
        (:class:`RelativeProjector`, :class:`InvariantProductSpace`) ending in
        one.
    path : str or path-like
        A directory to create; it receives ``stitcher.json`` and
        ``weights.safetensors``.
    overwrite : bool, default=False
        Replace the files of an existing directory. Without it an existing path
        raises :class:`FileExistsError`.

    Returns
    -------
    pathlib.Path
        The directory written.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn_relrep import StitchingClassifier, load_stitcher, save_stitcher
    >>> X = np.random.RandomState(0).normal(size=(40, 6)); y = X[:, 0] > 0
    >>> model = StitchingClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> folder = save_stitcher(model, tempfile.mkdtemp() + "/model")
    >>> bool((load_stitcher(folder).predict_proba(X) == model.predict_proba(X)).all())
    True
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    steps = estimator.steps if isinstance(estimator, Pipeline) else [(None, estimator)]
    if not isinstance(steps[-1][1], BaseStitchingEstimator):
        raise TypeError(
            "save_stitcher saves a StitchingClassifier, a StitchingRegressor or a "
            "Pipeline ending in one."
        )
    from . import __version__

    arrays: dict = {}
    descriptions = [
        _describe_step(i, name, step, arrays) for i, (name, step) in enumerate(steps)
    ]
    weights = save_arrays(arrays)
    config = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sklearn_relrep_version": __version__,
        "pipeline": isinstance(estimator, Pipeline),
        "steps": descriptions,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    path.mkdir(parents=True, exist_ok=True)
    (path / WEIGHTS_FILE).write_bytes(weights)
    (path / CONFIG_FILE).write_text(json.dumps(config, indent=1))
    return path


def _read_config(path: Path) -> dict:
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path / CONFIG_FILE} is not valid JSON: {exc}.") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"{path} is not a {FORMAT_NAME} directory.")
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} uses format version {config.get('format_version')!r}; this "
            f"version of sklearn_relrep reads version {FORMAT_VERSION}."
        )
    return config


def _read_arrays(path: Path, config: dict) -> dict:
    weights = (path / WEIGHTS_FILE).read_bytes()
    if hashlib.sha256(weights).hexdigest() != config.get("weights_sha256"):
        raise ValueError(
            f"{path / WEIGHTS_FILE} does not match the checksum recorded in "
            f"{CONFIG_FILE}: the file was modified or truncated."
        )
    try:
        return load_arrays(weights)
    except SafetensorError as exc:
        raise ValueError(
            f"{path / WEIGHTS_FILE} is not a valid safetensors file: {exc}"
        ) from exc


def _build_step(description: dict, index: int, arrays: dict, device):
    if description.get("class") not in _CLASSES:
        raise ValueError(
            f"Unknown class {description.get('class')!r} in the config; expected "
            f"one of {sorted(_CLASSES)}."
        )
    params = {k: _decode(v, arrays) for k, v in description["params"].items()}
    if device is not None and "device" in params:
        params["device"] = device
    step = _CLASSES[description["class"]](**params)
    for key, value in description["state"].items():
        setattr(step, key, _decode(value, arrays))
    if isinstance(step, BaseStitchingEstimator):
        prefix = f"step{index}.module."
        module_state = {
            key[len(prefix) :]: torch.from_numpy(value.copy())
            for key, value in arrays.items()
            if key.startswith(prefix)
        }
        step._initialize_net(step._n_net_outputs(), torch.device("cpu"), (0, 0, 0))
        try:
            step.net_.module_.load_state_dict(module_state, strict=True)
        except RuntimeError as exc:
            raise ValueError(
                f"The saved weights do not fit the {description['class']} "
                f"architecture described in the config: {exc}"
            ) from exc
    return step


def load_stitcher(path, *, device: str | None = None):
    """Load a model written by :func:`save_stitcher`, executing no stored code.

    Parameters
    ----------
    path : str or path-like
        The directory given to :func:`save_stitcher`.
    device : str or None, default=None
        Override the estimators' ``device`` parameter (e.g. ``"cpu"``). An
        explicitly requested device that is unavailable raises
        :class:`RuntimeError`. With None, the saved parameter is kept: ``"auto"``
        runs on whatever is available.

    Returns
    -------
    estimator or Pipeline
        The fitted model, predicting exactly as the saved one.

    Raises
    ------
    ValueError
        If the files were tampered with or truncated (checksum), are of another
        format version, or their weights do not fit the described architecture.
    """
    path = Path(path)
    if device is not None:
        resolve_device(device)
    config = _read_config(path)
    arrays = _read_arrays(path, config)
    try:
        steps = [
            (d["name"], _build_step(d, i, arrays, device))
            for i, d in enumerate(config["steps"])
        ]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path / CONFIG_FILE} is malformed: {exc!r}.") from exc
    return Pipeline(steps) if config["pipeline"] else steps[0][1]
