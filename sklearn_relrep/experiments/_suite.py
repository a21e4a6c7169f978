"""Sizes, domains and the order in which the experiments run and are reported."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.model_selection import train_test_split

from ._domains import Domain, Space
from ._report import Report

__all__ = [
    "EXPERIMENTS",
    "SIZES",
    "Settings",
    "run_suite",
    "text_domain",
    "vision_domain",
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
    max_epochs: int
    finetune_sizes: tuple[int, ...]
    finetune_epochs: int


SIZES = {
    "full": Settings(
        seeds=(0, 1, 2),
        n_anchors=300,
        n_train=4000,
        n_test=1000,
        vision_encoders=(("cnn", 0), ("cnn", 1), ("mlp", 0)),
        encoder_epochs=2,
        encoder_train=10000,
        max_epochs=15,
        finetune_sizes=(10, 50, 200),
        finetune_epochs=20,
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


def _subsample(n_total: int, n: int, y, seed: int = 0) -> np.ndarray:
    """A fixed stratified subset of ``n`` row indices (all rows when n >= n_total)."""
    if n >= n_total:
        return np.arange(n_total)
    indices, _ = train_test_split(
        np.arange(n_total), train_size=n, stratify=y, random_state=seed
    )
    return np.sort(indices)


def text_domain(settings: Settings, *, cache_dir, progress: bool) -> Domain:
    """BBC News through MiniLM-L6 and MiniLM-L3 (384-d each)."""
    from ..datasets import load_bbc_news
    from ..encoders import MiniLML3Encoder, MiniLML6Encoder

    splits = {}
    for subset, n in (("train", settings.n_train), ("test", settings.n_test)):
        texts, y = load_bbc_news(subset=subset, return_X_y=True)
        rows = _subsample(len(texts), n, y)
        splits[subset] = ([texts[i] for i in rows], y[rows])
    domain = Domain("text: BBC News", splits["train"][1], splits["test"][1])
    for name, encoder_class in (
        ("MiniLM-L6", MiniLML6Encoder),
        ("MiniLM-L3", MiniLML3Encoder),
    ):
        encoder = encoder_class(cache_dir=cache_dir, progress=progress)
        domain.add(
            Space(
                name,
                encoder.transform(splits["train"][0]),
                encoder.transform(splits["test"][0]),
            )
        )
    return domain


def vision_domain(
    settings: Settings, *, kind: str, cache_dir, progress: bool
) -> Domain:
    """MNIST through CNN and MLP encoders, each trained with several seeds.

    ``kind="classifier"`` labels the domain with digits; ``kind="autoencoder"``
    targets the pixels, for reconstruction stitching.
    """
    from ..datasets import load_mnist
    from ..encoders import train_mnist_encoder

    images = {}
    for subset, n in (("train", settings.n_train), ("test", settings.n_test)):
        X, y = load_mnist(subset=subset, return_X_y=True)
        rows = _subsample(len(X), n, y)
        images[subset] = (X[rows], y[rows])
    targets = {s: (X if kind == "autoencoder" else y) for s, (X, y) in images.items()}
    domain = Domain(
        f"vision: MNIST {kind}s",
        targets["train"],
        targets["test"],
        task="regression" if kind == "autoencoder" else "classification",
    )
    for arch, seed in settings.vision_encoders:
        encoder = train_mnist_encoder(
            arch=arch,
            kind=kind,
            seed=seed,
            n_epochs=settings.encoder_epochs,
            n_train=settings.encoder_train,
            cache_dir=cache_dir,
        )
        domain.add(
            Space(
                f"{arch}-s{seed}",
                encoder.transform(images["train"][0]),
                encoder.transform(images["test"][0]),
            )
        )
    return domain


EXPERIMENTS = ("similarity", "finetune", "reconstruction", "stitching")


def run_suite(
    experiments,
    *,
    size,
    overrides,
    data,
    device,
    output,
    cache_dir,
    progress,
    command="",
):
    """Run ``experiments`` in order and write one report.

    ``command``, when given, is quoted in the report as the way to reproduce it.

    Returns
    -------
    report_path : Path
        The written ``report.md``.
    summary : str
        The tables to show on the terminal; the stitching table comes last.
    """
    from ._experiments import EXPERIMENT_FUNCTIONS

    settings = replace(
        SIZES[size],
        **{k: tuple(v) if k == "seeds" else v for k, v in overrides.items()},
    )
    report = Report(output)
    if command:
        report.text(f"Reproduce with `{command}`.")
    report.text(
        f"Size preset `{size}`: {settings}. Device: `{device}`. "
        "Cells are mean ± std over seeds."
    )
    domains: dict = {}

    def get_domain(key):
        if key not in domains:
            if key == "text":
                domains[key] = text_domain(
                    settings, cache_dir=cache_dir, progress=progress
                )
            else:
                kind = "autoencoder" if key == "vision-ae" else "classifier"
                domains[key] = vision_domain(
                    settings,
                    kind=kind,
                    cache_dir=cache_dir,
                    progress=progress,
                )
        return domains[key]

    wanted = ["text", "vision"] if data == "both" else [data]
    summaries = []
    for name in [e for e in EXPERIMENTS if e in experiments]:
        summaries.append(
            EXPERIMENT_FUNCTIONS[name](
                get_domain=get_domain,
                domains=wanted,
                settings=settings,
                device=device,
                report=report,
                progress=progress,
            )
        )
    return report.write("sklearn_relrep experiments"), "\n\n".join(summaries)
