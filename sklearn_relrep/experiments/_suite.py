"""The domains, the stages of a run, and the order of the experiments and report."""

from __future__ import annotations

import contextlib
import sys
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from ._domains import Domain, Space
from ._report import Report
from ._settings import (
    EXPERIMENTS,
    SIZES,
    Settings,
    check_folders,
    check_run,
    settings_for,
)

__all__ = [
    "EXPERIMENTS",
    "SIZES",
    "Settings",
    "StageClock",
    "run_suite",
    "text_domain",
    "vision_domain",
]


def _subsample(n_total: int, n: int, y, seed: int = 0) -> np.ndarray:
    """A fixed stratified subset of ``n`` row indices (all rows when n >= n_total).

    When fewer rows are left out than there are classes, no stratified split
    exists; the rows to leave out are then drawn at random.
    """
    if n >= n_total:
        return np.arange(n_total)
    if n_total - n < len(np.unique(y)):
        left_out = np.random.RandomState(seed).choice(
            n_total, n_total - n, replace=False
        )
        return np.setdiff1d(np.arange(n_total), left_out)
    indices, _ = train_test_split(
        np.arange(n_total), train_size=n, stratify=y, random_state=seed
    )
    return np.sort(indices)


def text_domain(settings: Settings, *, cache_dir, progress: bool, device) -> Domain:
    """BBC News through MiniLM-L6 and MiniLM-L3 (384-d each).

    MiniLM-L6 runs on ``device``; MiniLM-L3 is an ONNX model that runs on the CPU.
    """
    from ..datasets import load_bbc_news
    from ..encoders import MiniLML3Encoder, MiniLML6Encoder

    splits = {}
    for subset, n in (("train", settings.n_train), ("test", settings.n_test)):
        texts, y = load_bbc_news(subset=subset, return_X_y=True)
        rows = _subsample(len(texts), n, y)
        splits[subset] = ([texts[i] for i in rows], y[rows])
    domain = Domain("text: BBC News", splits["train"][1], splits["test"][1])
    encoders = {
        "MiniLM-L6": MiniLML6Encoder(
            cache_dir=cache_dir, progress=progress, device=device
        ),
        "MiniLM-L3": MiniLML3Encoder(cache_dir=cache_dir, progress=progress),
    }
    for name, encoder in encoders.items():
        domain.add(
            Space(
                name,
                encoder.transform(splits["train"][0]),
                encoder.transform(splits["test"][0]),
            )
        )
    return domain


def vision_domain(
    settings: Settings, *, kind: str, cache_dir, progress: bool, device
) -> Domain:
    """MNIST through CNN and MLP encoders, each trained with several seeds.

    ``kind="classifier"`` labels the domain with digits; ``kind="autoencoder"``
    targets the pixels, for reconstruction stitching. The encoders train on
    ``device``.
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
            progress=progress,
            device=device,
        )
        domain.add(
            Space(
                f"{arch}-s{seed}",
                encoder.transform(images["train"][0]),
                encoder.transform(images["test"][0]),
            )
        )
    return domain


def _clock_time(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}:{seconds:02d}"


class StageClock:
    """Times the stages of a run and prints one line as each one ends.

    Each line gives the stage's duration and the time elapsed since the run
    started; :meth:`table` gives each stage's share of the total. Lines go to
    standard error through :func:`tqdm.write`, so they do not break a progress
    bar that is being drawn.

    Parameters
    ----------
    n_stages : int
        How many stages the run has, for the ``[k/n]`` counter.
    stream : file-like, default=sys.stderr
        Where the lines go.
    """

    def __init__(self, n_stages: int, stream=None):
        self.n_stages = n_stages
        self.stream = stream
        self.durations: dict[str, float] = {}
        self._start = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, name: str):
        started = time.perf_counter()
        yield
        now = time.perf_counter()
        self.durations[name] = now - started
        tqdm.write(
            f"[{len(self.durations)}/{self.n_stages}] {name}: "
            f"{_clock_time(now - started)} (elapsed {_clock_time(now - self._start)})",
            file=self.stream or sys.stderr,
        )

    def print_shares(self) -> None:
        """Print each finished stage's share of the total, in one line."""
        table = self.table()
        shares = ", ".join(f"{stage} {row.share}" for stage, row in table.iterrows())
        tqdm.write(
            f"Time per stage: {shares}; total "
            f"{_clock_time(sum(self.durations.values()))}.",
            file=self.stream or sys.stderr,
        )

    def table(self) -> pd.DataFrame:
        """Each finished stage's duration (m:ss) and share of the total."""
        total = sum(self.durations.values()) or 1.0
        return pd.DataFrame(
            {
                "stage": list(self.durations),
                "time": [_clock_time(d) for d in self.durations.values()],
                "share": [f"{d / total:.0%}" for d in self.durations.values()],
            }
        ).set_index("stage")


def _size_cell(used: int, asked: int) -> str:
    return str(used) if used == asked else f"{used} (all; {asked} asked)"


def _epochs(n: int | None) -> str:
    if n is None:
        from .. import StitchingClassifier

        return f"the default {StitchingClassifier().max_epochs} epochs"
    return f"{n} epoch" if n == 1 else f"{n} epochs"


def _describe_run(report, *, command, size, settings, device, used_device, domains):
    if command:
        report.text(f"Reproduce with `{command}`.")
    seeds = ", ".join(str(seed) for seed in settings.seeds)
    report.text(
        f"Size preset `{size}`: seeds {seeds}; {settings.n_anchors} anchors; "
        f"stitcher heads trained for {_epochs(settings.max_epochs)}; MNIST "
        f"encoders trained for {_epochs(settings.encoder_epochs)} on "
        f"{settings.encoder_train} images; fine-tuning with "
        f"{', '.join(map(str, settings.finetune_sizes))} labelled samples for "
        f"{_epochs(settings.finetune_epochs)}. Device: `{used_device}` (asked: "
        f"`{device}`); MiniLM-L3 runs on the CPU (ONNX) whatever the device. "
        "Cells are mean ± std over seeds."
    )
    rows = []
    for domain in domains.values():
        rows.append(
            {
                "domain": domain.name,
                "spaces": ", ".join(domain.spaces),
                "training samples": _size_cell(len(domain.y_train), settings.n_train),
                "test samples": _size_cell(len(domain.y_test), settings.n_test),
            }
        )
    report.table(pd.DataFrame(rows).set_index("domain"))


def build_domain(
    key: str,
    *,
    size: str = "full",
    cache_dir=None,
    progress: bool = True,
    device: str = "cpu",
    **sizes,
) -> Domain:
    """The paired latent spaces of one of the runner's domains, built as it builds them.

    The one entry point for code outside the runner (the benchmarks) that needs
    the experiments' encoders on the experiments' data.

    Parameters
    ----------
    key : {"text", "vision", "vision-ae"}
        BBC News through the two MiniLM encoders; MNIST through the CNN and MLP
        classifiers; the same as autoencoders (the pixels are the targets).
    size : str, default="full"
        A preset of :data:`~sklearn_relrep.experiments.SIZES`.
    cache_dir : path-like, default=None
        Where the data, encoders and embeddings are cached.
    progress : bool, default=True
        Show progress bars.
    device : str, default="cpu"
        Where the encoders run.
    **sizes
        Overrides of the preset, e.g. ``n_train=...``, ``n_test=...``.

    Returns
    -------
    Domain
        ``name``, ``task``, ``y_train``, ``y_test`` and ``spaces``, a dict of
        encoder name to a space with ``train`` and ``test`` embeddings.
    """
    settings = settings_for(size, sizes)
    common = dict(cache_dir=cache_dir, progress=progress, device=device)
    if key == "text":
        return text_domain(settings, **common)
    if key in ("vision", "vision-ae"):
        kind = "autoencoder" if key == "vision-ae" else "classifier"
        return vision_domain(settings, kind=kind, **common)
    raise ValueError(f"Unknown domain {key!r}; use 'text', 'vision' or 'vision-ae'.")


def _resolve_device(device: str) -> tuple[str, str]:
    """The device to use, e.g. ``"cpu"``, and how to describe it in the report.

    ``device`` was checked by :func:`check_run`: only ``"auto"`` needs choosing.
    """
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda":
        return str(resolved), f"{resolved} ({torch.cuda.get_device_name(resolved)})"
    return str(resolved), str(resolved)


def run_suite(
    experiments,
    *,
    size: str,
    overrides: dict,
    data: str,
    device: str,
    output,
    cache_dir,
    progress: bool,
    command: str = "",
):
    """Run ``experiments`` in order and write one report.

    The options are checked first (see
    :func:`~sklearn_relrep.experiments._settings.check_run`); then the domains
    are built (texts encoded, MNIST encoders trained), then each experiment runs.
    One line per stage goes to standard error.

    Parameters
    ----------
    experiments : list of str
        Names from ``EXPERIMENTS``; they run in that tuple's order.
    size : str
        A key of ``SIZES``.
    overrides : dict
        Fields of :class:`Settings` that replace the preset's.
    data : {"text", "vision", "both"}
        The domains of the similarity, finetune and stitching experiments.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; used everywhere.
    output : path-like
        The report's folder.
    cache_dir : path-like or None
        The embedding and model cache.
    progress : bool
        Draw progress bars.
    command : str, default=""
        Quoted in the report as the way to reproduce it.

    Returns
    -------
    report_path : Path
        The written ``report.md``.
    summary : str
        The tables to show on the terminal; the stitching table comes last.
    """
    from ._experiments import EXPERIMENT_FUNCTIONS
    from ._stitching_experiment import FittedModels

    settings = settings_for(size, overrides)
    check_run(experiments, settings, data=data, device=device)
    check_folders(output, cache_dir)
    device_name, used_device = _resolve_device(device)
    experiments = [e for e in EXPERIMENTS if e in experiments]
    wanted = ["text", "vision"] if data == "both" else [data]
    common = dict(cache_dir=cache_dir, progress=progress, device=device_name)
    builders = {}
    if any(e != "reconstruction" for e in experiments):
        if "text" in wanted:
            builders["text"] = (
                "text: encode BBC News with MiniLM-L6 and MiniLM-L3",
                lambda: text_domain(settings, **common),
            )
        if "vision" in wanted:
            builders["vision"] = (
                "vision: train the MNIST classifiers",
                lambda: vision_domain(settings, kind="classifier", **common),
            )
    if "reconstruction" in experiments:
        builders["vision-ae"] = (
            "vision: train the MNIST autoencoders",
            lambda: vision_domain(settings, kind="autoencoder", **common),
        )
    clock = StageClock(len(builders) + len(experiments))
    report = Report(output)
    try:
        domains = {}
        for key, (stage, build) in builders.items():
            with clock.stage(stage):
                domains[key] = build()
        _describe_run(
            report,
            command=command,
            size=size,
            settings=settings,
            device=device,
            used_device=used_device,
            domains=domains,
        )
        summaries = []
        models = FittedModels()
        for name in experiments:
            with clock.stage(f"{name} experiment"):
                summaries.append(
                    EXPERIMENT_FUNCTIONS[name](
                        get_domain=domains.__getitem__,
                        domains=wanted,
                        settings=settings,
                        device=device_name,
                        report=report,
                        progress=progress,
                        models=models,
                    )
                )
        report.heading("Run time")
        report.text(
            "Wall-clock time of each stage on this run's machine, and its share "
            "of the total."
        )
        report.table(clock.table())
        report_path = report.write("sklearn_relrep experiments")
    except BaseException:
        report.discard()
        raise
    clock.print_shares()
    return report_path, "\n\n".join(summaries)
