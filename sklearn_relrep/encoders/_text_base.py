"""What the text encoders share: input checks, model folders, the cache key."""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path

import numpy as np

from .._compat import Interval, fit_context, validate_estimator_params
from ..datasets._cache import fingerprint, get_cache_dir
from ._base import ENCODER_PARAMETER_CONSTRAINTS, _EmbeddingEncoder, _file_stem

__all__ = ["resolve_model_folder"]


def _check_texts(X) -> list[str]:
    if isinstance(X, str | bytes):
        raise TypeError(
            "Expected a list or 1-D array of str, got a single string; wrap it in a "
            "list: encoder.transform([text])."
        )
    if getattr(X, "ndim", 1) != 1:
        raise ValueError(
            f"Expected a 1-D sequence of str, got an array of shape {X.shape}."
        )
    texts = list(X)
    if not texts:
        raise ValueError("Expected at least one text, got an empty sequence.")
    wrong = sorted({type(t).__name__ for t in texts if not isinstance(t, str)})
    if wrong:
        raise TypeError(f"Every sample must be a str; got elements of type {wrong}.")
    return [str(t) for t in texts]


def resolve_model_folder(model, needed_by: str) -> Path:
    """The local folder of ``model``: a folder itself, or a hub name already cached.

    Nothing is downloaded: a name is looked up in the Hugging Face cache with
    ``local_files_only=True``.
    """
    if model is None:
        raise ValueError(
            f"{needed_by} needs model=: a local folder (saved with "
            "save_pretrained) or the name of a model in the Hugging Face cache."
        )
    if not isinstance(model, str | os.PathLike):
        raise TypeError(
            f"model must be a str or path-like, got {type(model).__name__}."
        )
    path = Path(os.fsdecode(model)).expanduser()
    if path.is_dir():
        return path
    if isinstance(model, str) and not path.exists():
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError

        try:
            return Path(snapshot_download(model, local_files_only=True))
        except (OSError, HFValidationError):
            pass
    raise FileNotFoundError(
        f"{needed_by}: no local model {str(model)!r}. It is neither a folder nor a "
        "model in the Hugging Face cache, and nothing is downloaded. Pass the "
        "folder of a model saved with save_pretrained(), or fetch it once with "
        "huggingface_hub.snapshot_download(name) where the network is reachable."
    )


class _TextEncoder(_EmbeddingEncoder):
    """Validation, tags and the cache key (texts, ``max_length``) of text encoders.

    A subclass adds :meth:`_cache_identity`, :meth:`_cache_name` and
    :meth:`_encode_batch`.
    """

    _parameter_constraints: dict = {
        **ENCODER_PARAMETER_CONSTRAINTS,
        "max_length": [Interval(Integral, 1, None, closed="left")],
    }

    @property
    def _n_features_out(self) -> int:
        return self._expected_width() or self._model_width()

    def _model_width(self) -> int:
        raise NotImplementedError

    def _batch_order(self, inputs) -> np.ndarray:
        # Longest first, so that each batch pads to similar lengths.
        return np.argsort([-len(t) for t in inputs], kind="stable")

    def cache_path(self, X) -> Path:
        """The cache file that holds (or will hold) the embeddings of ``X``.

        Its name is a hash of the texts, ``max_length`` and what identifies the
        model (its files, or its package and version) and its options.

        Parameters
        ----------
        X : list or 1-D array of str
            Texts.

        Returns
        -------
        pathlib.Path
            A file in the ``embeddings/`` subfolder of the cache folder.
        """
        texts = _check_texts(X)
        key = fingerprint(
            *self._cache_identity(),
            str(self.max_length),
            str(len(texts)),
            *texts,
        )
        name = f"{_file_stem(self._cache_name())}-max{self.max_length}-{key[:40]}.npz"
        return get_cache_dir(self.cache_dir) / "embeddings" / name

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X``; nothing is learned (the encoder is pretrained).

        Parameters
        ----------
        X : list or 1-D array of str
            Texts.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The encoder.
        """
        _check_texts(X)
        return self

    def transform(self, X) -> np.ndarray:
        """Embed texts, reading the on-disk cache when it has them.

        Parameters
        ----------
        X : list or 1-D array of str
            Texts; each is truncated to ``max_length`` tokens.

        Returns
        -------
        ndarray of shape (n_texts, n_features), float32
            The embeddings, in the order of ``X`` (L2-normalised when the
            encoder normalises).
        """
        validate_estimator_params(self)
        texts = _check_texts(X)
        return self._embed(texts, self.cache_path(texts) if self.use_cache else None)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags
