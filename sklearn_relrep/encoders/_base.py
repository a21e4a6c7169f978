"""What every encoder shares: batching, a progress bar, the on-disk cache, devices.

A subclass says how to check its input, what identifies its model (the cache
key) and how to embed one batch; :class:`_EmbeddingEncoder` does the rest.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import os
import re
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
from .._compat import Interval
from ..datasets._cache import cached_array, fingerprint, get_cache_dir

__all__ = [
    "ENCODER_PARAMETER_CONSTRAINTS",
    "environment_kept",
    "folder_fingerprint",
    "import_or_explain",
    "l2_normalize",
    "library_version",
    "transformers_progress_bars_hidden",
]

ENCODER_PARAMETER_CONSTRAINTS: dict = {
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "cache_dir": [str, os.PathLike, None],
    "use_cache": ["boolean"],
    "progress": ["boolean"],
}
DEVICE_CONSTRAINT = [str, torch.device]


@contextlib.contextmanager
def environment_kept():
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
def transformers_progress_bars_hidden():
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


def import_or_explain(module: str, distribution: str, needed_by: str):
    """Import ``module``, or raise an ImportError that names what to install."""
    try:
        with environment_kept():
            return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{needed_by} needs the {distribution!r} package, which is not "
            f"installed. Install it with: pip install {distribution}"
        ) from exc


def library_version(module: str, distribution: str, needed_by: str) -> str:
    """The installed version of ``distribution``; an ImportError if it is missing."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        import_or_explain(module, distribution, needed_by)
        raise


def l2_normalize(embeddings: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return (embeddings / np.maximum(norms, 1e-12)).astype(np.float32)


@functools.cache
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of a file's content; memoised by its size and modification time."""
    return fingerprint(Path(path).read_bytes())


def folder_fingerprint(folder: str | os.PathLike) -> str:
    """A digest of every file under ``folder``: relative names and contents.

    A model saved again in place (new weights, same names) gets a new digest;
    a copy of the same files elsewhere gets the same one. Each file is read
    once per process and size, then remembered.
    """
    folder = Path(folder)
    parts = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if relative.parts[0].startswith(".") or not path.is_file():
            continue
        stat = path.stat()
        parts += [
            relative.as_posix(),
            _file_digest(str(path), stat.st_size, stat.st_mtime_ns),
        ]
    return fingerprint(*parts)


def _file_stem(name: str) -> str:
    """A name usable in a cache file name: the last two path parts, safe characters.

    ``"sentence-transformers/all-MiniLM-L6-v2"`` gives
    ``"sentence-transformers_all-MiniLM-L6-v2"``.
    """
    stem = "_".join(Path(str(name).rstrip("/\\")).parts[-2:]).lstrip("_/\\")
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem or "model")[-60:]


class _EmbeddingEncoder(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Batching, progress bar, cache and device handling for the encoders.

    A subclass provides :meth:`_encode_batch` (one batch of inputs to a 2-D
    array), :meth:`_cache_identity` (strings that identify the model and every
    parameter that changes the output) and :meth:`_cache_name`; it may sort the
    inputs into batches (:meth:`_batch_order`) and fix the width
    (:meth:`_expected_width`). Its ``normalize`` attribute says whether rows are
    L2-normalised.
    """

    normalize = False

    def _encode_batch(self, batch) -> np.ndarray:
        raise NotImplementedError

    def _cache_identity(self) -> list[str]:
        raise NotImplementedError

    def _cache_name(self) -> str:
        raise NotImplementedError

    def _batch_order(self, inputs) -> np.ndarray:
        return np.arange(len(inputs))

    def _expected_width(self) -> int | None:
        return None

    def _device(self) -> torch.device:
        """``device`` resolved now (``"auto"`` is never written back)."""
        return resolve_device(getattr(self, "device", "cpu"))

    def _embeddings_path(self, *input_parts) -> Path:
        key = fingerprint(*self._cache_identity(), *input_parts)
        name = f"{_file_stem(self._cache_name())}-{key[:40]}.npz"
        return get_cache_dir(self.cache_dir) / "embeddings" / name

    def _embed(self, inputs, path: Path | None) -> np.ndarray:
        """Embeddings of ``inputs``, from the cache at ``path`` when it has them."""
        if path is None or not self.use_cache:
            return self._encode(inputs)
        return cached_array(
            path,
            lambda: self._encode(inputs),
            shape=(len(inputs), self._expected_width()),
            dtype=np.float32,
        )

    def _encode(self, inputs) -> np.ndarray:
        order = self._batch_order(inputs)
        embeddings = None
        with tqdm(
            total=len(inputs),
            desc=f"Encoding with {self._cache_name()}",
            unit="sample",
            disable=not self.progress or len(inputs) <= self.batch_size,
        ) as bar:
            for start in range(0, len(inputs), self.batch_size):
                rows = order[start : start + self.batch_size]
                if isinstance(inputs, np.ndarray):
                    batch = inputs[rows]
                else:
                    batch = [inputs[i] for i in rows]
                values = np.asarray(self._encode_batch(batch), dtype=np.float32)
                values = values.reshape(len(rows), -1)
                if self.normalize:
                    values = l2_normalize(values)
                if embeddings is None:
                    shape = (len(inputs), values.shape[1])
                    embeddings = np.empty(shape, dtype=np.float32)
                embeddings[rows] = values
                bar.update(len(rows))
        return embeddings
