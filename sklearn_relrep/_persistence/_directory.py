"""The model directory: versions behind a pointer, replaced atomically for readers.

A model directory holds one sub-directory per version, ``v-<16 hex digits>``,
each with ``stitcher.json`` and ``weights.safetensors``, and the file
``CURRENT``, which names the current version. A version is written under a
hidden name, fsynced, renamed into place and never changed afterwards; saving
then replaces ``CURRENT`` with :func:`os.replace` (atomic) and only afterwards
removes the older versions. A reader reads ``CURRENT`` once and both files from
the version it names, so it sees the old model or the new one, never a mixture;
if that version is removed under it, the pointer has moved, and it reads again.

Directories written by earlier versions hold the two files directly (the *flat*
layout, without ``CURRENT``). They still load, and replacing one adds a version
and the pointer first (readers then follow the pointer) and removes the flat
files last.

Nothing is written through a symbolic link, and ``overwrite=True`` replaces
only a directory that is a complete model of this package whose digest
verifies: anything else is refused, so a user's own files are never removed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
from pathlib import Path

from ._store import (
    CONFIG_FILE,
    MAX_CONFIG_BYTES,
    WEIGHTS_FILE,
    parse_config,
    verify_digest,
)

__all__ = ["POINTER_FILE", "current_folder", "read_model_dir", "write_model_dir"]

POINTER_FILE = "CURRENT"
_VERSION_NAME = re.compile(r"v-[0-9a-f]{16}")
# What a killed save leaves inside a model directory: a version being written
# or a pointer not yet moved into place.
_LEFTOVER_NAME = re.compile(r"\.(v-[0-9a-f]{16}\.partial|CURRENT\.[0-9a-f]{16}\.tmp)")
# Each retry follows a pointer that moved during the read: only a model
# replaced this many times within one read fails.
_READ_ATTEMPTS = 10


# reading ------------------------------------------------------------------------


def current_folder(folder: Path) -> Path:
    """The folder that holds the current ``stitcher.json`` and weights.

    That is the version named by ``folder / "CURRENT"``, or ``folder`` itself
    for the flat layout of earlier versions.
    """
    pointer = folder / POINTER_FILE
    try:
        with open(pointer, "rb") as stream:
            content = stream.read(64)
    except FileNotFoundError:
        return folder
    except OSError as exc:
        raise ValueError(f"{pointer} cannot be read: {exc}.") from exc
    name = content.decode("ascii", "replace").strip()
    if not _VERSION_NAME.fullmatch(name):
        raise ValueError(f"{pointer} does not name a model version: {content[:20]!r}.")
    return folder / name


def _read_file(folder: Path, name: str, limit: int | None) -> bytes:
    file = folder / name
    try:
        stream = open(file, "rb")
    except (IsADirectoryError, NotADirectoryError) as exc:
        raise ValueError(f"{file} is not a file.") from exc
    with stream:
        status = os.fstat(stream.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise ValueError(f"{file} is not a regular file.")
        if limit is not None and status.st_size > limit:
            raise ValueError(
                f"{file} is larger than {limit} bytes; refusing to read it."
            )
        return stream.read()


def read_model_dir(folder: Path) -> tuple[bytes, bytes, Path]:
    """The config bytes, the weights bytes and the folder they were read from."""
    if not folder.exists():
        raise FileNotFoundError(f"No saved model at {folder}.")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a directory written by save_stitcher.")
    source = current_folder(folder)
    for _ in range(_READ_ATTEMPTS):
        try:
            config = _read_file(source, CONFIG_FILE, MAX_CONFIG_BYTES)
            return config, _read_file(source, WEIGHTS_FILE, None), source
        except FileNotFoundError as exc:
            latest = current_folder(folder)
            if latest == source:
                missing = Path(exc.filename or CONFIG_FILE).name
                raise ValueError(
                    f"{source} is not a saved model: {missing} is missing."
                ) from None
            source = latest
    raise FileNotFoundError(
        f"The model in {folder} was replaced {_READ_ATTEMPTS} times while it was "
        "being read; load it again."
    )


# checking what overwrite=True would replace ---------------------------------------


def _is_model_entry(name: str, versioned: bool) -> bool:
    if not versioned:
        return name in (CONFIG_FILE, WEIGHTS_FILE)
    return bool(
        name == POINTER_FILE
        or _VERSION_NAME.fullmatch(name)
        or _LEFTOVER_NAME.fullmatch(name)
    )


def check_replaceable(path: Path, key: bytes | None) -> None:
    """Raise ``FileExistsError`` unless ``path`` is a saved model that verifies."""

    def refuse(reason: str):
        raise FileExistsError(
            f"Refusing to replace {path}: {reason}. overwrite=True replaces only "
            "a complete model written by save_stitcher (config and weights whose "
            "digest verifies); remove it yourself or choose another path."
        )

    if not path.is_dir():
        what = "a symbolic link" if path.is_symlink() else "a file"
        refuse(f"it is {what}, not a directory written by save_stitcher")
    entries = sorted(os.listdir(path))
    versioned = POINTER_FILE in entries
    foreign = [name for name in entries if not _is_model_entry(name, versioned)]
    if foreign:
        refuse(f"it holds {foreign[:5]}, which save_stitcher does not write")
    try:
        config_bytes, weights, source = read_model_dir(path)
        config = parse_config(config_bytes, source / CONFIG_FILE)
        digest = config.get("digest")
        signed = isinstance(digest, dict) and digest.get("algorithm") == "hmac-sha256"
        if signed and key is None:
            refuse(
                "it holds a model signed with a key, which cannot be verified "
                "without it; pass that key to replace it"
            )
        verify_digest(config, weights, key if signed else None, source)
    except ValueError as exc:
        refuse(f"its contents {entries[:5]} are not a model that verifies ({exc})")


# writing ------------------------------------------------------------------------


def _write_new_file(file: Path, content: bytes) -> None:
    """Create ``file`` (never following a link, never replacing) and fsync it."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(file, flags, 0o666)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(content)
        stream.flush()
        os.fsync(stream.fileno())


def _fsync_directory(folder: Path) -> None:
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fresh_sibling(path: Path, suffix: str) -> Path:
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(6)}{suffix}")
        if not os.path.lexists(candidate):
            return candidate


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def _point_to(folder: Path, version: str) -> None:
    temporary = folder / f".{POINTER_FILE}.{secrets.token_hex(8)}.tmp"
    try:
        _write_new_file(temporary, version.encode("ascii"))
        os.replace(temporary, folder / POINTER_FILE)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _add_version(folder: Path, files: dict[str, bytes]) -> str:
    """Write ``files`` as a new version of ``folder`` and point ``CURRENT`` at it."""
    while True:
        version = f"v-{secrets.token_hex(8)}"
        partial = folder / f".{version}.partial"
        if not (os.path.lexists(folder / version) or os.path.lexists(partial)):
            break
    os.mkdir(partial)
    try:
        for name, content in files.items():
            _write_new_file(partial / name, content)
        _fsync_directory(partial)
        os.rename(partial, folder / version)
        _point_to(folder, version)
    except BaseException:
        _remove(partial)
        _remove(folder / version)
        raise
    _fsync_directory(folder)
    return version


def _replace_in_place(path: Path, files: dict[str, bytes]) -> None:
    """Add a version to the model at ``path``, then remove the earlier ones."""
    earlier = [
        name
        for name in os.listdir(path)
        if name in (CONFIG_FILE, WEIGHTS_FILE) or _VERSION_NAME.fullmatch(name)
    ]
    _add_version(path, files)
    current = current_folder(path).name
    for name in earlier:
        if name != current:
            _remove(path / name)


def write_model_dir(
    path: Path, files: dict[str, bytes], *, overwrite: bool, key: bytes | None
) -> Path:
    """Write ``files`` (name -> bytes) as the model directory ``path``.

    A new model is built in a hidden directory next to ``path`` and renamed into
    place. An existing model (with ``overwrite``, and only if it verifies, with
    ``key`` for a signed one) gets a new version behind its pointer. A symbolic
    link to a model is replaced by a new directory (moved aside, then the new
    one moved in: readers of the link may find nothing in between); the model it
    points to is left as it is. On any failure the previous model stays.
    """
    path = Path(os.path.abspath(path))
    if os.path.lexists(path):
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
        check_replaceable(path, key)
        if not path.is_symlink():
            _replace_in_place(path, files)
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_sibling(path, ".partial")
    os.mkdir(staging)
    set_aside = None
    try:
        _add_version(staging, files)
        if os.path.lexists(path):
            set_aside = _fresh_sibling(path, ".old")
            os.rename(path, set_aside)
        os.rename(staging, path)
    except BaseException:
        _remove(staging)
        if set_aside is not None and not os.path.lexists(path):
            os.rename(set_aside, path)
            set_aside = None
        raise
    finally:
        if set_aside is not None and os.path.lexists(path):
            _remove(set_aside)
    _fsync_directory(path.parent)
    return path
