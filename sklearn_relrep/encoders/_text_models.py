"""Text encoders for any local transformers or sentence-transformers model."""

from __future__ import annotations

import functools
import os
from numbers import Integral
from pathlib import Path

import numpy as np
import torch

from .._compat import Interval, StrOptions, fit_context, validate_estimator_params
from ..datasets._cache import fingerprint, get_cache_dir
from ._base import (
    DEVICE_CONSTRAINT,
    ENCODER_PARAMETER_CONSTRAINTS,
    _EmbeddingEncoder,
    _file_stem,
    environment_kept,
    folder_fingerprint,
    import_or_explain,
    library_version,
    transformers_progress_bars_hidden,
)

__all__ = ["SentenceTransformerEncoder", "TransformersTextEncoder"]


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
