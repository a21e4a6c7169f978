"""A saved model's config and weights: one digest over both, strict parsing.

A model is ``stitcher.json`` (the config) and ``weights.safetensors`` (the
arrays). The config ends with a digest over the canonical form of everything
else in it *and* the weights bytes, so that neither file can be changed,
truncated or swapped for another model's without :func:`verify_digest`
noticing. With a key the digest is an HMAC. Where the two files live in the
model directory, and how they are replaced, is :mod:`._directory`'s job.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path

__all__ = [
    "CONFIG_FILE",
    "MAX_CONFIG_BYTES",
    "WEIGHTS_FILE",
    "compute_digest",
    "parse_config",
    "verify_digest",
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


# parsing ------------------------------------------------------------------------


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
