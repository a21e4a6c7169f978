"""Text encoders for any local transformers or sentence-transformers model."""

from __future__ import annotations

import functools
import os
from numbers import Integral
from pathlib import Path

import numpy as np
import torch

from .._compat import StrOptions
from ._base import (
    DEVICE_CONSTRAINT,
    _file_stem,
    environment_kept,
    folder_fingerprint,
    import_or_explain,
    library_version,
    transformers_progress_bars_hidden,
)
from ._text_base import _TextEncoder, resolve_model_folder

__all__ = ["SentenceTransformerEncoder", "TransformersTextEncoder"]


class _LocalTextModel(_TextEncoder):
    """The parameters and the model identity of the encoders that take ``model``."""

    _parameter_constraints: dict = {
        **_TextEncoder._parameter_constraints,
        "model": [str, os.PathLike, None],
        "normalize": ["boolean"],
        "device": DEVICE_CONSTRAINT,
    }
    _library: str  # the distribution
    _module_name: str  # its import name

    def _folder(self) -> Path:
        return resolve_model_folder(self.model, type(self).__name__)

    def _cache_identity(self) -> list[str]:
        return [
            type(self).__name__,
            folder_fingerprint(self._folder()),
            library_version(self._module_name, self._library, type(self).__name__),
            f"normalize={self.normalize}",
        ]

    def _cache_name(self) -> str:
        return _file_stem(str(self.model))


@functools.cache
def _load_transformers(folder: str, digest: str, device: str):
    """Tokenizer and model of a local folder, once per content and device."""
    transformers = import_or_explain("transformers", "transformers", "The encoder")
    with environment_kept(), transformers_progress_bars_hidden():
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            folder, local_files_only=True
        )
        model = transformers.AutoModel.from_pretrained(folder, local_files_only=True)
    return tokenizer, model.to(device).eval()


class TransformersTextEncoder(_LocalTextModel):
    """Embed texts with any local Hugging Face ``transformers`` model.

    The model's last hidden states are pooled (the mean over the real tokens, or
    the first, ``[CLS]``, token) and optionally L2-normalised.

    Parameters
    ----------
    model : str or path-like, default=None
        A folder saved with ``save_pretrained`` (model and tokenizer), or the
        name of a model already in the Hugging Face cache. Required.
    pooling : {"mean", "cls"}, default="mean"
        ``"mean"`` averages the token states weighted by the attention mask
        (what sentence-transformers' mean pooling does); ``"cls"`` takes the
        first token's state.
    normalize : bool, default=True
        L2-normalise each embedding.
    max_length : int, default=128
        Texts are truncated to this many tokens.
    batch_size : int, default=32
        Texts per forward pass.
    cache_dir : str or path-like, default=None
        Cache folder; None uses ``$SKLEARN_RELREP_CACHE`` or the user cache
        folder (see :func:`~sklearn_relrep.datasets.get_cache_dir`). Embeddings
        go to its ``embeddings/`` subfolder, keyed by a hash of the texts, the
        model's files, the transformers version, ``pooling``, ``normalize`` and
        ``max_length``.
    use_cache : bool, default=True
        Read and write the on-disk cache.
    progress : bool, default=True
        Show a tqdm progress bar when encoding more than one batch.
    device : str or torch.device, default="auto"
        Where the model runs; ``"auto"`` picks CUDA when present. Resolved at each
        call and never written back. The device does not key the cache.

    Attributes
    ----------
    None : the encoder is stateless
        :meth:`fit` only checks its input; the model is loaded at the first
        :meth:`transform` that misses the cache, and kept for the process.

    Notes
    -----
    Nothing is downloaded and no environment variable is set: the files are read
    with ``local_files_only=True``. The input is a sequence of strings, so
    scikit-learn's ``parametrize_with_checks`` skips the estimator with a
    ``SkipTestWarning``.

    See Also
    --------
    SentenceTransformerEncoder : A sentence-transformers model, with its own
        pooling.

    Examples
    --------
    >>> from sklearn_relrep.encoders import TransformersTextEncoder
    >>> encoder = TransformersTextEncoder("path/to/model", pooling="cls")
    >>> encoder.transform(["A first text.", "A second."]).shape  # doctest: +SKIP
    (2, 384)
    """

    _parameter_constraints: dict = {
        **_LocalTextModel._parameter_constraints,
        "pooling": [StrOptions({"mean", "cls"})],
    }
    _library = _module_name = "transformers"

    def __init__(
        self,
        model=None,
        *,
        pooling: str = "mean",
        normalize: bool = True,
        max_length: Integral = 128,
        batch_size: Integral = 32,
        cache_dir=None,
        use_cache: bool = True,
        progress: bool = True,
        device="auto",
    ):
        self.model = model
        self.pooling = pooling
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.progress = progress
        self.device = device

    def _cache_identity(self) -> list[str]:
        return [*super()._cache_identity(), f"pooling={self.pooling}"]

    def _load(self, device: torch.device):
        folder = self._folder()
        return _load_transformers(str(folder), folder_fingerprint(folder), str(device))

    def _model_width(self) -> int:
        transformers = import_or_explain("transformers", "transformers", "The encoder")
        config = transformers.AutoConfig.from_pretrained(
            str(self._folder()), local_files_only=True
        )
        return int(config.hidden_size)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        device = self._device()
        tokenizer, model = self._load(device)
        tokens = tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        ).to(device)
        with torch.inference_mode():
            states = model(**tokens).last_hidden_state
            if self.pooling == "cls":
                pooled = states[:, 0]
            else:
                mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)
                pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return pooled.float().cpu().numpy()


@functools.cache
def _load_sentence_transformer(folder: str, version: str, device: str):
    """A sentence-transformers model read from its folder; the hub is never asked.

    ``local_files_only`` keeps the load offline without setting
    ``HF_HUB_OFFLINE``, which would refuse the user's own downloads for the
    rest of the session. ``version`` (the files' digest) keys the memo.
    """
    library = import_or_explain(
        "sentence_transformers", "sentence-transformers", "SentenceTransformerEncoder"
    )
    with environment_kept(), transformers_progress_bars_hidden():
        return library.SentenceTransformer(folder, device=device, local_files_only=True)


class SentenceTransformerEncoder(_LocalTextModel):
    """Embed texts with any local ``sentence-transformers`` model.

    The model's own modules (transformer, pooling, dense layers) give the
    embedding; ``normalize`` L2-normalises it.

    Parameters
    ----------
    model : str or path-like, default=None
        A folder saved with ``SentenceTransformer.save``, or the name of a model
        already in the Hugging Face cache. Required.
    normalize : bool, default=True
        L2-normalise each embedding.
    max_length : int, default=128
        Texts are truncated to this many tokens (the model's ``max_seq_length``
        is set to it).
    batch_size : int, default=32
        Texts per forward pass.
    cache_dir : str or path-like, default=None
        Cache folder; None uses ``$SKLEARN_RELREP_CACHE`` or the user cache
        folder. Embeddings go to its ``embeddings/`` subfolder, keyed by a hash
        of the texts, the model's files, the sentence-transformers version,
        ``normalize`` and ``max_length``.
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
        :meth:`fit` only checks its input.

    Notes
    -----
    Needs the ``sentence-transformers`` package (an ImportError says so).
    Nothing is downloaded and no environment variable is set.

    See Also
    --------
    TransformersTextEncoder : A plain transformers model, pooled here.

    Examples
    --------
    >>> from sklearn_relrep.encoders import SentenceTransformerEncoder
    >>> encoder = SentenceTransformerEncoder("path/to/model")
    >>> encoder.transform(["A first text.", "A second."]).shape  # doctest: +SKIP
    (2, 384)
    """

    _library = "sentence-transformers"
    _module_name = "sentence_transformers"

    def __init__(
        self,
        model=None,
        *,
        normalize: bool = True,
        max_length: Integral = 128,
        batch_size: Integral = 32,
        cache_dir=None,
        use_cache: bool = True,
        progress: bool = True,
        device="auto",
    ):
        self.model = model
        self.normalize = normalize
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.progress = progress
        self.device = device

    def _load(self, device: torch.device):
        folder = self._folder()
        return _load_sentence_transformer(
            str(folder), folder_fingerprint(folder), str(device)
        )

    def _model_width(self) -> int:
        return int(self._load(self._device()).get_embedding_dimension())

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        model = self._load(self._device())
        model.max_seq_length = self.max_length
        return model.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=self.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
