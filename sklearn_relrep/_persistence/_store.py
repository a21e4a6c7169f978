"""The saved model on disk: two files, one digest, one atomic rename.

A model is a directory holding ``stitcher.json`` (the config) and
``weights.safetensors`` (the arrays). The config ends with a digest over the
canonical form of everything else in it *and* the weights bytes, so that
neither file can be changed, truncated or swapped for another model's without
:func:`verify_digest` noticing. With a key the digest is an HMAC.

Saving builds the directory under a fresh name next to the target and renames
it into place, so a reader sees the old model or the new one, never a mixture,
and no file is ever written through a symbolic link.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
from pathlib import Path

__all__ = [
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "compute_digest",
    "parse_config",
    "read_model_dir",
    "verify_digest",
    "write_model_dir",
]

CONFIG_FILE = "stitcher.json"
WEIGHTS_FILE = "weights.safetensors"
MAX_CONFIG_BYTES = 256 * 2**20
MAX_JSON_DEPTH = 64
_DIGEST_DOMAIN = b"sklearn_relrep.stitcher digest v2\0"
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


# the digest ---------------------------------------------------------------------


def _canonical(config: dict) -> bytes:
    body = {k: v for k, v in config.items() if k != "digest"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def compute_digest(config: dict, weights: bytes, key: bytes | None) -> dict:
    """The digest entry of ``config``: SHA-256, or HMAC-SHA256 with ``key``.

    It covers the canonical JSON of ``config`` without its ``"digest"`` entry
    (sorted keys, no whitespace), its length, and the weights bytes.
    """
    body = _canonical(config)
    if key is None:
        hasher, algorithm = hashlib.sha256(), "sha256"
    else:
        hasher, algorithm = hmac.new(key, digestmod=hashlib.sha256), "hmac-sha256"
    for part in (_DIGEST_DOMAIN, len(body).to_bytes(8, "big"), body, weights):
        hasher.update(part)
    return {"algorithm": algorithm, "value": hasher.hexdigest()}


def verify_digest(config: dict, weights: bytes, key: bytes | None, folder) -> None:
    """Raise ``ValueError`` unless the digest in ``config`` matches."""
    digest = config.get("digest")
    if not (
        isinstance(digest, dict)
        and set(digest) == {"algorithm", "value"}
        and isinstance(digest["value"], str)
    ):
        raise ValueError(f"{folder / CONFIG_FILE} has no valid digest entry.")
    algorithm = digest["algorithm"]
    if algorithm == "hmac-sha256" and key is None:
        raise ValueError(
            f"The model in {folder} is signed with a key (HMAC-SHA256); pass the "
            "same key to load_stitcher(..., key=...)."
        )
    if algorithm == "sha256" and key is not None:
        raise ValueError(
            f"The model in {folder} is not signed, but a key was given: an "
            "unsigned model is refused when a signature is expected."
        )
    if algorithm not in ("sha256", "hmac-sha256"):
        raise ValueError(
            f"{folder / CONFIG_FILE} names an unknown digest {algorithm!r}."
        )
    expected = compute_digest(config, weights, key)["value"]
    if hmac.compare_digest(expected, digest["value"]):
        return
    if key is None:
        raise ValueError(
            f"The SHA-256 checksum over {CONFIG_FILE} and {WEIGHTS_FILE} in "
            f"{folder} does not match: the files were modified or truncated, or do "
            "not belong together."
        )
    raise ValueError(
        f"The HMAC signature of the model in {folder} does not match: the key is "
        "wrong, or the files were modified."
    )


# reading ------------------------------------------------------------------------


def read_model_dir(folder: Path) -> tuple[bytes, bytes]:
    """The bytes of the config and of the weights, with clear errors."""
    if not folder.exists():
        raise FileNotFoundError(f"No saved model at {folder}.")
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a directory written by save_stitcher.")
    contents = []
    for name, limit in ((CONFIG_FILE, MAX_CONFIG_BYTES), (WEIGHTS_FILE, None)):
        file = folder / name
        if not file.is_file():
            raise ValueError(f"{folder} is not a saved model: {name} is missing.")
        if limit is not None and file.stat().st_size > limit:
            raise ValueError(
                f"{file} is larger than {limit} bytes; refusing to read it."
            )
        contents.append(file.read_bytes())
    return contents[0], contents[1]


def _nesting_depth(text: str) -> int:
    depth = deepest = 0
    for bracket in _JSON_BRACKET.finditer(_JSON_STRING.sub('""', text)):
        depth += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _unique_keys(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in one object: {sorted(keys)[:5]}")
    return dict(pairs)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} overflows a float")
    return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_config(content: bytes, source: Path) -> dict:
    """Parse the config strictly: UTF-8, bounded nesting, no NaN, unique keys."""
    try:
        text = content.decode("utf-8")
        if _nesting_depth(text) > MAX_JSON_DEPTH:
            raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        config = json.loads(
            text,
            object_pairs_hook=_unique_keys,
            parse_float=_finite_float,
            parse_constant=_reject_constant,
        )
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise ValueError(f"{source} is not valid JSON: {exc}.") from exc
    if not isinstance(config, dict):
        raise ValueError(f"{source} does not hold a JSON object.")
    return config


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


def _check_replaceable(path: Path) -> None:
    if path.is_symlink():
        return  # the link itself is replaced; its target is never touched
    if not path.is_dir():
        raise FileExistsError(f"{path} exists and is not a saved model directory.")
    extra = sorted(set(os.listdir(path)) - {CONFIG_FILE, WEIGHTS_FILE})
    if extra:
        raise FileExistsError(
            f"{path} holds files other than a saved model's ({extra[:3]}); "
            "refusing to replace it."
        )


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def write_model_dir(path: Path, files: dict, *, overwrite: bool) -> Path:
    """Write ``files`` (name -> bytes) as the directory ``path``, atomically.

    The files go into a fresh directory next to ``path``, which is then renamed
    to ``path``. An existing ``path`` (with ``overwrite``) is first renamed
    aside and removed only once the new directory is in place; on any failure
    the staging directory is removed and the old ``path`` put back.
    """
    path = Path(os.path.abspath(path))
    if os.path.lexists(path):
        if not overwrite:
            raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
        _check_replaceable(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_sibling(path, ".partial")
    os.mkdir(staging)
    set_aside = None
    try:
        for name, content in files.items():
            _write_new_file(staging / name, content)
        _fsync_directory(staging)
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
