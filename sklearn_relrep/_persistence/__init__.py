"""A safe file format for fitted models: JSON config plus safetensors weights.

Nothing is unpickled when loading. Classes come from a fixed allow-list
(:mod:`._objects`), their parameters and fitted state from JSON (:mod:`._codec`),
every array from one safetensors file, and both files are bound together by one
digest (:mod:`._store`). :mod:`._directory` lays them out on disk so that a
model is replaced atomically for its readers.

**What the digest gives.** A SHA-256 over the config and the weights detects
corruption, truncation, mixing the files of two models, and casual edits: a
changed ``classes_``, a changed parameter, a flipped weight. It does *not*
protect against someone who rewrites both files on purpose: the digest is
stored with them, so such a person simply computes a new one. For that, save
with a secret ``key``: the digest becomes an HMAC-SHA256 that only holders of
the key can produce, and ``load_stitcher(..., key=key)`` refuses unsigned
models and models signed with another key. Either way the loader executes no
stored code, bounds what the config may allocate, and checks the rebuilt model
with a small prediction, so a hostile file fails with ``ValueError``.

**Devices.** Weights are stored device-free, so a model trained on CUDA loads on
a CPU-only machine. A saved ``device="auto"`` runs wherever it can;
``load_stitcher(path, device="cpu")`` overrides the saved device, and an
explicit device that is unavailable raises :class:`RuntimeError`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from .._backend import resolve_device
from ._alternatives import skops_alternative
from ._directory import read_model_dir, write_model_dir
from ._objects import build, describe, smoke_test
from ._store import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    compute_digest,
    parse_config,
    verify_digest,
)

__all__ = ["load_stitcher", "save_stitcher"]

FORMAT_NAME = "sklearn_relrep.stitcher"
FORMAT_VERSION = 2
_CONFIG_KEYS = {"format", "format_version", "sklearn_relrep_version", "model", "digest"}


def _check_key(key) -> bytes | None:
    if key is None:
        return None
    if not isinstance(key, bytes | bytearray) or not key:
        raise TypeError(f"key must be non-empty bytes, got {type(key).__name__}.")
    return bytes(key)


def save_stitcher(
    estimator, path, *, overwrite: bool = False, key: bytes | None = None
) -> Path:
    """Save a fitted model without pickle, as JSON plus safetensors.

    What can be saved: a fitted :class:`StitchingClassifier` or
    :class:`StitchingRegressor`; a fitted :class:`RelativeProjector` or
    :class:`InvariantProductSpace`; the aligners :class:`LinearAligner` and
    :class:`ProcrustesAligner`; scikit-learn's
    :class:`~sklearn.preprocessing.StandardScaler`,
    :class:`~sklearn.preprocessing.MinMaxScaler`,
    :class:`~sklearn.preprocessing.MaxAbsScaler`,
    :class:`~sklearn.preprocessing.Normalizer`,
    :class:`~sklearn.decomposition.PCA` and linear models
    (:class:`~sklearn.linear_model.LogisticRegression`,
    :class:`~sklearn.linear_model.LinearRegression`,
    :class:`~sklearn.linear_model.Ridge`,
    :class:`~sklearn.linear_model.RidgeClassifier`,
    :class:`~sklearn.linear_model.Lasso`,
    :class:`~sklearn.linear_model.ElasticNet`,
    :class:`~sklearn.linear_model.SGDClassifier`,
    :class:`~sklearn.linear_model.SGDRegressor`,
    :class:`~sklearn.svm.LinearSVC`, :class:`~sklearn.svm.LinearSVR`);
    :class:`~sklearn.frozen.FrozenEstimator` around any of these; and any
    :class:`~sklearn.pipeline.Pipeline` of these (nested pipelines and
    ``"passthrough"`` steps included). An estimator held in several places
    is stored once and shared the same way after loading. ``set_output``
    settings are kept. Other classes, callables (e.g. a callable
    ``similarity``), random-state instances and callback objects are refused
    with a :class:`TypeError` that says why and, when :mod:`skops.io` is
    installed and can hold the model, gives the exact
    ``skops.io.load(path, trusted=[...])`` call that would load it.

    The model directory holds the file ``CURRENT`` and one version
    sub-directory, which holds ``stitcher.json`` (the config) and
    ``weights.safetensors`` (the arrays); ``CURRENT`` names that version. A new
    model is written under a fresh name next to ``path`` and renamed into
    place. Replacing a model writes a new version beside the old one and then
    replaces ``CURRENT`` atomically, before removing the old version: a reader
    (:func:`load_stitcher`, even in another process) sees the old model or the
    new one, never a mixture and never nothing. A failed save leaves the
    previous model as it was, and no file is ever written through a symbolic
    link. Directories written by earlier versions (the two files directly in
    ``path``) still load, and are replaced the same way.

    Parameters
    ----------
    estimator : estimator or Pipeline
        The fitted model.
    path : str or path-like
        The model directory to create or replace.
    overwrite : bool, default=False
        Replace an existing model at ``path``. Without it an existing path
        raises :class:`FileExistsError`. Even with it, only a complete model
        written by this package whose digest verifies (for a signed model: with
        ``key``) is replaced; anything else at ``path`` (a file, a directory
        with other files, a model that was edited or is incomplete) is refused
        with :class:`FileExistsError` saying what is there. A symbolic link
        to a model is replaced by a new directory, leaving the model it points
        to as it was.
    key : bytes, default=None
        Sign the files with HMAC-SHA256 under this secret key instead of a
        plain SHA-256 checksum; loading then requires the same key.

    Returns
    -------
    pathlib.Path
        The directory written (absolute).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_relrep import RelativeProjector, load_stitcher, save_stitcher
    >>> X = np.random.RandomState(0).normal(size=(40, 6))
    >>> model = make_pipeline(StandardScaler(), RelativeProjector(n_anchors=5)).fit(X)
    >>> folder = save_stitcher(model, tempfile.mkdtemp() + "/model", key=b"secret")
    >>> loaded = load_stitcher(folder, key=b"secret")
    >>> bool((loaded.transform(X) == model.transform(X)).all())
    True
    """
    key = _check_key(key)
    from .. import __version__

    arrays: dict = {}
    config = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "sklearn_relrep_version": __version__,
    }
    try:
        config["model"] = describe(estimator, "model", arrays)
    except TypeError as exc:
        raise TypeError(f"{exc}\n{skops_alternative(estimator)}") from exc
    weights = save_arrays(arrays)
    config["digest"] = compute_digest(config, weights, key)
    text = json.dumps(config, indent=1, sort_keys=True, allow_nan=False)
    return write_model_dir(
        Path(path),
        {CONFIG_FILE: text.encode(), WEIGHTS_FILE: weights},
        overwrite=overwrite,
        key=key,
    )


def load_stitcher(path, *, device: str | None = None, key: bytes | None = None):
    """Load a model written by :func:`save_stitcher`, executing no stored code.

    Parameters
    ----------
    path : str or path-like
        The directory given to :func:`save_stitcher`.
    device : str or None, default=None
        Override the saved ``device`` parameter of every estimator that has one
        (e.g. ``"cpu"``, ``"cuda"`` or ``"auto"``). With None the saved value is
        kept; a saved device that is unavailable here is a ``ValueError``
        suggesting ``device="cpu"``.
    key : bytes, default=None
        The key the model was signed with. A signed model refuses to load
        without it, and an unsigned model refuses to load with one.

    Returns
    -------
    estimator or Pipeline
        The fitted model, predicting exactly as the saved one did.

    Raises
    ------
    FileNotFoundError
        If there is nothing at ``path``.
    RuntimeError
        If ``device`` asks for an accelerator this machine does not have.
    ValueError
        For every problem with the files, naming the file and the problem:
        a digest or signature mismatch (modified, truncated or mixed files),
        another format version, malformed or too deeply nested JSON, unknown
        classes, parameters or state attributes, invalid parameter values,
        sizes that the weights file does not back, and a rebuilt model that
        fails a prediction on zeros.
    """
    folder = Path(path)
    if device is not None:
        resolve_device(device)
    key = _check_key(key)
    config_bytes, weights, source = read_model_dir(folder)
    config = parse_config(config_bytes, source / CONFIG_FILE)
    if config.get("format") != FORMAT_NAME:
        raise ValueError(f"{folder} is not a {FORMAT_NAME} directory.")
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{folder} uses format version {config.get('format_version')!r}; this "
            f"version of sklearn_relrep reads version {FORMAT_VERSION}."
        )
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if unknown:
        raise ValueError(f"{source / CONFIG_FILE} has unknown entries {unknown[:5]}.")
    verify_digest(config, weights, key, source)
    try:
        arrays = load_arrays(weights)
    except Exception as exc:  # safetensors raises its own and builtin errors
        raise ValueError(
            f"{source / WEIGHTS_FILE} is not a valid safetensors file: {exc}"
        ) from exc
    try:
        return _rebuild(config, arrays, device)
    except Exception as exc:  # the file is untrusted: every failure is a ValueError
        raise ValueError(f"Cannot load the model in {folder}: {exc}") from exc


def _rebuild(config: dict, arrays: dict, device):
    used: set = set()
    model = build(config.get("model"), "model", arrays, used, device)
    unused = sorted(set(arrays) - used)
    if unused:
        raise ValueError(
            f"{WEIGHTS_FILE} holds arrays that {CONFIG_FILE} does not name: "
            f"{unused[:3]}"
        )
    smoke_test(model, sum(int(np.size(a)) for a in arrays.values()))
    return model
