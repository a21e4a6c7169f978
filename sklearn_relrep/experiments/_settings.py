"""Size presets, the experiments' descriptions, and the checks of a run's options.

This module uses the standard library only, so that the command line can parse
and check its arguments, and print its help, without importing torch or
scikit-learn.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .._cache_location import CACHE_ENV_VAR, default_cache_dir

__all__ = [
    "DATA_LIMITS",
    "EXPERIMENTS",
    "EXPERIMENT_HELP",
    "MAX_SEED",
    "MIN_SAMPLES",
    "SIZES",
    "Settings",
    "check_device_name",
    "check_folders",
    "check_run",
    "domains_of",
    "effective_sizes",
    "settings_for",
]


@dataclass(frozen=True)
class Settings:
    """Everything an experiment needs to know about its size."""

    seeds: tuple[int, ...]
    n_anchors: int
    n_train: int
    n_test: int
    vision_encoders: tuple[tuple[str, int], ...]
    encoder_epochs: int
    encoder_train: int
    max_epochs: int | None  # None: the estimators' default
    finetune_sizes: tuple[int, ...]
    finetune_epochs: int
    # Anchor counts of the route sweep (those above the training size are left out)
    anchor_sweep: tuple[int, ...] = ()
    # Epoch cap of the reconstruction decoders (None: the estimators' default)
    reconstruction_epochs: int | None = None
    # joblib workers for the stitching runs (seeds x methods x sources); -1: all
    n_jobs: int = -1


SIZES = {
    "full": Settings(
        seeds=(0, 1, 2, 3, 4),
        n_anchors=300,
        n_train=4000,
        n_test=1000,
        vision_encoders=(("cnn", 0), ("cnn", 1), ("mlp", 0)),
        encoder_epochs=2,
        encoder_train=10000,
        # The cheapest epoch cap within 0.5 accuracy points (classifiers) or 5 %
        # MSE (decoders) of the best cross-encoder score in the default selection
        # (benchmarks/SELECT_DEFAULTS.md, "Cost as a second objective").
        max_epochs=7,
        finetune_sizes=(10, 50, 200),
        finetune_epochs=20,
        anchor_sweep=(30, 100, 300, 1000),
        reconstruction_epochs=7,
    ),
    "quick": Settings(
        seeds=(0, 1),
        n_anchors=100,
        n_train=1200,
        n_test=400,
        vision_encoders=(("cnn", 0), ("cnn", 1), ("mlp", 0)),
        encoder_epochs=1,
        encoder_train=5000,
        max_epochs=10,
        finetune_sizes=(10, 50),
        finetune_epochs=10,
        anchor_sweep=(30, 100),
    ),
    "smoke": Settings(
        seeds=(0,),
        n_anchors=24,
        n_train=150,
        n_test=80,
        vision_encoders=(("cnn", 0), ("mlp", 0)),
        encoder_epochs=1,
        encoder_train=600,
        max_epochs=3,
        finetune_sizes=(10,),
        finetune_epochs=2,
    ),
}

# The order in which the experiments run and are reported.
EXPERIMENTS = ("similarity", "finetune", "reconstruction", "stitching")

# Training and test samples each domain has: subsets ask for at most this many.
# BBC News: the fixed 80/20 split of the 2124 deduplicated articles; MNIST: the
# package's training and test splits. tests/test_experiments.py checks them
# against the loaders.
DATA_LIMITS = {"text": (1699, 425), "vision": (50000, 10000)}

# Fewer samples than this leave a class of MNIST, or the 10 nearest neighbours of
# the similarity metrics, without enough rows.
MIN_SAMPLES = 20

# numpy's RandomState, which draws the anchors and splits, takes 32-bit seeds.
MAX_SEED = 2**32 - 1

# Wall-clock minutes of the runs behind the committed results, on this
# project's 2-core CPU machine from an empty cache (the full size: the "Run
# time" table of docs/results/report.md; tests/test_readme.py checks that the
# README quotes the same numbers). Every duration that --help states comes from
# here.
MEASURED_MINUTES = {
    "full": 13,
    "quick": 3,
    "data": 2,  # encoding BBC News, training the MNIST encoders, at --size full
    "similarity": 1,
    "finetune": 2,
    "reconstruction": 4,
    "stitching": 5,
}
MEASURED_ON = "an idle 2-core machine"


def _full_minutes(experiment: str) -> str:
    return (
        f"about {MEASURED_MINUTES[experiment]} minutes at --size full ({MEASURED_ON})"
    )


EXPERIMENT_HELP = {
    "similarity": (
        "Latent similarity across encoders: for each pair of spaces, compares the "
        "test samples' representations under each projection (absolute, each "
        "single similarity, the product) with mean cosine, mutual 10-NN Jaccard, "
        "retrieval MRR and linear CKA.",
        _full_minutes("similarity"),
    ),
    "finetune": (
        "Fine-tuning at stitching time: a product space with the attention blender "
        "is trained on one space, stitched zero-shot to another, then fine-tuned "
        "with N labelled target samples: the blender only (QKV opt), the head "
        "only (MLP opt) or every parameter; draws accuracy against N.",
        _full_minutes("finetune"),
    ),
    "reconstruction": (
        "Reconstruction stitching: a decoder trained on one MNIST autoencoder's "
        "relative latents decodes another autoencoder's, zero-shot; reports the "
        "pixel MSE by every route and draws a grid of reconstructions. Uses only "
        "the vision data.",
        _full_minutes("reconstruction"),
    ),
    "stitching": (
        "Zero-shot stitching: every representation (absolute, each single "
        "similarity, the product with each aggregation) is trained on each "
        "encoder's space and tested on every other's, over several seeds; the "
        "main result table; then every stitching route (re-anchor, translate, "
        "ensemble, auto) from the same models, and the product and the absolute "
        "baseline at each anchor count of the sweep (30, 100, 300, 1000).",
        _full_minutes("stitching"),
    ),
}

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device_name(device: str) -> str:
    """Return ``device`` if it is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    Only the spelling is checked here; whether CUDA is there is checked by
    :func:`check_run`.

    Examples
    --------
    >>> check_device_name("cuda:1")
    'cuda:1'
    """
    if not _DEVICE.match(device):
        raise ValueError(
            f"device {device!r} is not one of 'auto', 'cpu', 'cuda' or 'cuda:N' "
            "(N the GPU's index)."
        )
    return device


def _check_cuda(device: str) -> None:
    import torch

    if not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} was asked for, but CUDA is not available on this "
            "machine; use --device cpu or --device auto."
        )
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device {device!r} was asked for, but this machine has "
            f"{torch.cuda.device_count()} CUDA device(s), numbered from 0."
        )


def settings_for(size: str, overrides: dict | None = None) -> Settings:
    """The preset ``size`` with the given fields replaced.

    Examples
    --------
    >>> settings_for("quick", {"seeds": [3], "n_anchors": 50}).seeds
    (3,)
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}, got {size!r}.")
    overrides = dict(overrides or {})
    if "seeds" in overrides:
        overrides["seeds"] = tuple(overrides["seeds"])
    return replace(SIZES[size], **overrides)


def domains_of(experiments, data: str) -> list[str]:
    """The data domains (``"text"``, ``"vision"``) that ``experiments`` read.

    The reconstruction experiment reads the vision domain whatever ``data`` is.
    """
    wanted = ["text", "vision"] if data == "both" else [data]
    domains = set()
    for experiment in experiments:
        domains.update(["vision"] if experiment == "reconstruction" else wanted)
    return [d for d in ("text", "vision") if d in domains]


def effective_sizes(settings: Settings, domain: str) -> tuple[int, int]:
    """The training and test samples a domain gives for ``settings``.

    Each domain holds at most :data:`DATA_LIMITS` samples, so asking for more
    gives all of them.
    """
    n_train, n_test = DATA_LIMITS[domain]
    return min(settings.n_train, n_train), min(settings.n_test, n_test)


def check_run(experiments, settings: Settings, *, data: str, device: str) -> None:
    """Raise ValueError, naming the option and the fix, if the run cannot work.

    Checks the seeds, the sizes against the data, the anchors against the
    training samples, the fine-tuning sizes, and the device (CUDA must be
    there when asked for). Nothing is loaded or computed.
    """
    unknown = sorted(set(experiments) - set(EXPERIMENTS))
    if unknown:
        raise ValueError(f"unknown experiments {unknown}; choose from {EXPERIMENTS}.")
    if data not in ("text", "vision", "both"):
        raise ValueError(f"--data must be 'text', 'vision' or 'both', got {data!r}.")
    if settings.n_jobs == 0:
        raise ValueError("--n-jobs must not be 0: use 1 (serial), N or -1.")
    seeds = settings.seeds
    if not seeds or any(seed < 0 for seed in seeds):
        raise ValueError(f"--seeds must be non-negative integers, got {list(seeds)}.")
    if max(seeds) > MAX_SEED:
        raise ValueError(
            f"--seeds must be at most {MAX_SEED} (numpy's seeds are 32-bit), got "
            f"{max(seeds)}."
        )
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds lists a seed twice: {list(seeds)}.")
    for name in ("n_train", "n_test"):
        if getattr(settings, name) < MIN_SAMPLES:
            raise ValueError(
                f"--{name.replace('_', '-')} must be at least {MIN_SAMPLES}, got "
                f"{getattr(settings, name)}."
            )
    if settings.n_anchors < 1:
        raise ValueError(f"--n-anchors must be at least 1, got {settings.n_anchors}.")
    for domain in domains_of(experiments, data):
        n_train, _ = effective_sizes(settings, domain)
        if settings.n_anchors > n_train:
            raise ValueError(
                f"--n-anchors {settings.n_anchors} is more than the {n_train} "
                f"training samples of the {domain} data; the anchors are drawn "
                f"from them. Use --n-anchors {n_train} or fewer."
            )
    if "finetune" in experiments:
        largest = max(settings.finetune_sizes, default=0)
        for domain in domains_of(["finetune"], data):
            n_train, _ = effective_sizes(settings, domain)
            if largest > n_train:
                raise ValueError(
                    f"the finetune experiment labels up to {largest} training "
                    f"samples, but the {domain} data gives only {n_train} with "
                    f"--n-train {settings.n_train}; use --n-train {largest} or "
                    "more, or a smaller --size."
                )
    check_device_name(device)
    if device.startswith("cuda"):
        _check_cuda(device)


def _folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a folder to write in (created if missing)."""
    try:
        for folder in (path, *path.parents):
            if folder.exists():
                break
            if folder.is_symlink():
                return f"cannot be created: {folder} is a broken symbolic link"
        if not folder.is_dir():
            if folder == path:
                return "is a file"
            return f"cannot be created: {folder} is a file"
    except OSError as error:
        return f"cannot be used: {error.strerror or error}"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot be written: no write permission in {folder}"
    return None


def check_folders(output, cache_dir) -> None:
    """Raise ValueError if the report's or the cache's folder cannot be written.

    A folder that does not exist yet must be creatable: its nearest existing
    ancestor must be a folder this process can write in. Nothing is created.

    Parameters
    ----------
    output : path-like
        The report's folder (``--output``).
    cache_dir : path-like or None
        The cache (``--cache-dir``); None checks the default one,
        ``$SKLEARN_RELREP_CACHE`` or ``~/.cache/sklearn_relrep``.
    """
    anywhere = "a folder that you can write in"
    if cache_dir is not None:
        cache = ("--cache-dir", Path(cache_dir), f"give --cache-dir {anywhere}")
    elif os.environ.get(CACHE_ENV_VAR):
        cache = (
            f"${CACHE_ENV_VAR}",
            default_cache_dir(),
            f"set ${CACHE_ENV_VAR} to {anywhere}, or give --cache-dir",
        )
    else:
        cache = ("the default cache folder", default_cache_dir(), "give --cache-dir")
    output = ("--output", Path(output), f"give --output {anywhere}")
    for option, path, fix in (output, cache):
        path = path.expanduser().absolute()
        problem = _folder_problem(path)
        if problem is not None:
            raise ValueError(f"{option} {path} {problem}; {fix}.")
