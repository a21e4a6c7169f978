"""The on-disk cache of trained MNIST encoders: safetensors weights, JSON config.

An entry is a folder with ``model.safetensors`` (the state dict) and
``config.json`` (the training configuration, the SHA-256 digest of the weights
file, and skorch's training history). Both files are written atomically, the
weights first; a reader checks the configuration, the digest and that every
weight is finite, and treats anything else as a miss, so that the model is
retrained. Nothing in an entry is ever unpickled.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from skorch.history import History

from ..datasets._cache import atomic_write, fingerprint
from ._mnist_models import build_model

__all__ = ["load_cached_model", "save_model"]


def _all_finite(state: dict) -> bool:
    return all(bool(torch.isfinite(tensor).all()) for tensor in state.values())


def load_cached_model(folder: Path, config: dict):
    """The cached ``(model, history)`` for ``config``, or None.

    None when the entry is missing or partial, was trained with another
    configuration, its weights do not match their digest (a file zeroed, edited
    or shuffled in place) or hold NaN or infinity.
    """
    try:
        stored = json.loads((folder / "config.json").read_text())
        if stored["config"] != config:
            return None
        weights = (folder / "model.safetensors").read_bytes()
        if fingerprint(weights) != stored["weights_sha256"]:
            return None
        state = load_safetensors(weights)
        if not _all_finite(state):
            return None
        model = build_model(
            config["arch"],
            config["kind"],
            n_pixels=config["n_pixels"],
            latent_dim=config["latent_dim"],
            n_classes=len(config["classes"] or ()),
        )
        model.load_state_dict(state, strict=True)
        history = History(stored["history"])
    except Exception:  # a missing, partial or corrupt entry: retrain
        return None
    return model, history


def save_model(
    folder: Path, model, config: dict, history: History, *, description: str
) -> bool:
    """Cache a trained model: the weights first, then the config with their digest.

    A model with a NaN or infinite weight is not cached (with a warning that
    names it by ``description``); returns whether it was cached. A writer killed
    between the two files leaves a config whose digest does not match the
    weights, so the entry is retrained.
    """
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if not _all_finite(state):
        warnings.warn(
            f"Training {description} gave NaN or infinite weights; the model is "
            "returned but not cached. Try a smaller learning_rate.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    weights = save_safetensors(state)
    atomic_write(
        folder / "model.safetensors", lambda path: Path(path).write_bytes(weights)
    )
    record = {
        "config": config,
        "weights_sha256": fingerprint(weights),
        "history": history.to_list(),
        "torch_version": torch.__version__,
        "torch_num_threads": torch.get_num_threads(),
    }
    text = json.dumps(record, indent=2, sort_keys=True)
    atomic_write(folder / "config.json", lambda path: Path(path).write_text(text))
    return True
