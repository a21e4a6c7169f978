"""Pretrained image models (torchvision, timm) as encoders of their pooled features."""

from __future__ import annotations

import functools
import os
from numbers import Integral
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch

from .._compat import StrOptions, fit_context, validate_estimator_params
from ..datasets._cache import fingerprint
from ._base import (
    DEVICE_CONSTRAINT,
    ENCODER_PARAMETER_CONSTRAINTS,
    _EmbeddingEncoder,
    _file_stem,
    import_or_explain,
    library_version,
)
from ._torch_module import module_fingerprint, run_module

__all__ = ["ImageModelEncoder"]


def _read_state_dict(path: Path) -> dict:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def _without_classifier(model: torch.nn.Module) -> torch.nn.Module:
    """The model with its last linear layer (the classifier) replaced by identity.

    Its output is then the pooled penultimate features.
    """
    linear = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not linear:
        raise ValueError(
            f"{type(model).__name__} has no linear classifier to remove; wrap it "
            "in TorchModuleEncoder with the layer= whose output you want."
        )
    model.set_submodule(linear[-1], torch.nn.Identity())
    return model


def _torchvision_model(name: str, weights, needed_by: str):
    torchvision = import_or_explain("torchvision", "torchvision", needed_by)
    choices = torchvision.models.get_model_weights(name)
    preprocess = choices.DEFAULT.transforms()
    if weights is None or isinstance(weights, os.PathLike) or Path(weights).is_file():
        model = torchvision.models.get_model(name, weights=None)
        if weights is not None:
            model.load_state_dict(_read_state_dict(Path(weights)))
        return _without_classifier(model), preprocess
    if weights != "DEFAULT" and weights not in choices.__members__:
        raise ValueError(
            f"weights={weights!r} is neither a file nor a weights name of {name!r} "
            f"(those are 'DEFAULT', {', '.join(map(repr, choices.__members__))})."
        )
    chosen = choices.DEFAULT if weights == "DEFAULT" else choices[weights]
    checkpoint = Path(
        torch.hub.get_dir(), "checkpoints", Path(urlparse(chosen.url).path).name
    )
    if not checkpoint.is_file():
        raise FileNotFoundError(
            f"The weights {chosen} are not in torch's hub cache ({checkpoint}) and "
            f"nothing is downloaded. Put the file there (from {chosen.url}, where "
            "the network is reachable), or pass weights= a local state-dict file."
        )
    model = torchvision.models.get_model(name, weights=chosen)
    return _without_classifier(model), chosen.transforms()


def _timm_model(name: str, weights, needed_by: str):
    timm = import_or_explain("timm", "timm", needed_by)
    if weights is None:
        model = timm.create_model(name, pretrained=False, num_classes=0)
    elif isinstance(weights, os.PathLike) or Path(weights).is_file():
        model = timm.create_model(
            name,
            pretrained=True,
            pretrained_cfg_overlay={"file": str(weights)},
            num_classes=0,
        )
    else:
        raise FileNotFoundError(
            f"weights={weights!r}: with library='timm', pass the path of a local "
            "weights file (or None for random weights); nothing is downloaded."
        )
    config = timm.data.resolve_data_config({}, model=model)
    return model, timm.data.create_transform(**config)


_LOADERS = {"torchvision": _torchvision_model, "timm": _timm_model}


@functools.cache
def _load(library: str, name: str, weights, digest: str):
    """The model without its classifier and its preprocessing, once per process."""
    return _LOADERS[library](name, weights, f"ImageModelEncoder(library={library!r})")


def _to_pil(image):
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, str | os.PathLike):
        with Image.open(image) as opened:
            return opened.convert("RGB")
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise TypeError(
            "Each image must be a PIL image, a file path or a uint8 array of shape "
            f"(height, width) or (height, width, channels); got {array.dtype} "
            f"of shape {array.shape}."
        )
    return Image.fromarray(array).convert("RGB")


def _check_images(X) -> list:
    if isinstance(X, str | bytes | os.PathLike) or getattr(X, "ndim", 3) < 3:
        raise TypeError(
            "Expected a sequence of images (PIL images, file paths, or a uint8 "
            "array of shape (n, height, width[, channels])), got "
            f"{type(X).__name__}; wrap a single image in a list."
        )
    images = [_to_pil(image) for image in X]
    if not images:
        raise ValueError("Expected at least one image, got an empty sequence.")
    return images


class ImageModelEncoder(_EmbeddingEncoder):
    """Embed images with a torchvision or timm model: its pooled penultimate features.

    The model's own preprocessing (resize, crop, normalisation) is applied, and
    its classifier is dropped, so the embedding is what feeds the classifier.

    Parameters
    ----------
    model : str, default=None
        The architecture's name in the library, e.g. ``"resnet18"``. Required.
    library : {"torchvision", "timm"}, default="torchvision"
        Where the architecture comes from; the package must be installed.
    weights : str or path-like, default="DEFAULT"
        With torchvision: ``"DEFAULT"`` or a weights name (``"IMAGENET1K_V1"``),
        read from the ``checkpoints`` folder of torch's hub cache, never
        downloaded. With either library: the path of a local state-dict file
        (``.pth``, ``.pt`` or ``.safetensors``). None: random weights.
    batch_size : int, default=32
        Images per forward pass.
    cache_dir : str or path-like, default=None
        Cache folder; None uses ``$SKLEARN_RELREP_CACHE`` or the user cache
        folder. Embeddings go to its ``embeddings/`` subfolder, keyed by a hash
        of the pixels, the library and its version, ``model`` and the weights.
    use_cache : bool, default=True
        Read and write the on-disk cache.
    progress : bool, default=True
        Show a tqdm progress bar when encoding more than one batch.
    device : str or torch.device, default="auto"
        Where the model runs; ``"auto"`` picks CUDA when present. Resolved at each
        call and never written back.

    Attributes
    ----------
    None : the encoder is stateless
        :meth:`fit` only checks its input; the model is loaded at the first
        :meth:`transform` that misses the cache, and kept for the process.

    Notes
    -----
    Images are PIL images, file paths, or a uint8 array of shape ``(n, height,
    width)`` or ``(n, height, width, channels)``; all are converted to RGB. The
    input is not a 2-D array of features, so scikit-learn's
    ``parametrize_with_checks`` skips the estimator with a ``SkipTestWarning``.

    See Also
    --------
    TorchModuleEncoder : Any torch module, or one of its layers.

    Examples
    --------
    >>> from sklearn_relrep.encoders import ImageModelEncoder
    >>> encoder = ImageModelEncoder("resnet18")
    >>> encoder.transform(images).shape  # doctest: +SKIP
    (10, 512)
    """

    _parameter_constraints: dict = {
        **ENCODER_PARAMETER_CONSTRAINTS,
        "model": [str, None],
        "library": [StrOptions(set(_LOADERS))],
        "weights": [str, os.PathLike, None],
        "device": DEVICE_CONSTRAINT,
    }

    def __init__(
        self,
        model: str | None = None,
        *,
        library: str = "torchvision",
        weights="DEFAULT",
        batch_size: Integral = 32,
        cache_dir=None,
        use_cache: bool = True,
        progress: bool = True,
        device="auto",
    ):
        self.model = model
        self.library = library
        self.weights = weights
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.progress = progress
        self.device = device

    @property
    def _n_features_out(self) -> int:
        from PIL import Image

        return self._encode_batch([Image.new("RGB", (224, 224))]).shape[1]

    def _weights_digest(self) -> str:
        if self.weights is not None and Path(self.weights).is_file():
            return fingerprint(Path(self.weights).read_bytes())
        return str(self.weights)

    def _model(self):
        if self.model is None:
            raise ValueError("ImageModelEncoder needs model=, e.g. 'resnet18'.")
        weights = self.weights
        if isinstance(weights, os.PathLike):
            weights = os.fspath(weights)
        return _load(self.library, self.model, weights, self._weights_digest())

    def _cache_identity(self) -> list[str]:
        identity = [
            type(self).__name__,
            self.library,
            library_version(self.library, self.library, type(self).__name__),
            str(self.model),
            self._weights_digest(),
        ]
        if self.weights is None:  # random weights: only the weights identify them
            identity.append(module_fingerprint(self._model()[0]))
        return identity

    def _cache_name(self) -> str:
        return _file_stem(f"{self.library}-{self.model}")

    def _encode_batch(self, images: list) -> np.ndarray:
        model, preprocess = self._model()
        batch = torch.stack([preprocess(image) for image in images])
        return run_module(model, batch, self._device())

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X``; nothing is learned (the model is pretrained).

        Parameters
        ----------
        X : sequence of images
            PIL images, file paths, or a uint8 array ``(n, height, width[, 3])``.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The encoder.
        """
        _check_images(X)
        return self

    def transform(self, X) -> np.ndarray:
        """Embed images, reading the on-disk cache when it has them.

        Parameters
        ----------
        X : sequence of images
            PIL images, file paths, or a uint8 array ``(n, height, width[, 3])``.

        Returns
        -------
        ndarray of shape (n_images, n_features), float32
            The pooled penultimate features, in the order of ``X``.
        """
        validate_estimator_params(self)
        images = _check_images(X)
        path = None
        if self.use_cache:
            pixels = [np.asarray(image) for image in images]
            path = self._embeddings_path(str(len(pixels)), *pixels)
        return self._embed(images, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags
