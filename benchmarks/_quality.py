"""Shared machinery of the stitching-quality benchmarks (issue 10).

A :class:`Variant` says how embeddings become features (which similarities,
preprocessing, orientation) and what learns from them (a
:class:`~sklearn_relrep.StitchingClassifier` / ``StitchingRegressor`` with
given parameters, or a plain logistic regression). :func:`run_variants` trains
each variant on every source space of a domain for every seed, stitches it
zero-shot to every space with the public API (``stitching_matrix``) and
appends tidy records to a CSV file, skipping blocks already there, so that a
long measurement can be resumed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
    stitching_matrix,
)

ALL_SIMILARITIES = ("cosine", "euclidean", "l1", "linf")
N_ANCHORS = 300
# Constructor arguments of the estimators; every other stitcher parameter is a
# StitchingNetwork argument, passed as ``module__<name>``.
_ESTIMATOR_PARAMS = set(StitchingClassifier().get_params())


@dataclass(frozen=True)
class Variant:
    """One row of a result table.

    Parameters
    ----------
    name : str
        Row label.
    similarities : tuple of str
        One similarity (a :class:`RelativeProjector`) or several (an
        :class:`InvariantProductSpace`).
    preprocessing, orientation : str or None
        Passed to the relative step.
    learner : {"stitch", "logreg"}
        A stitching estimator, or ``LogisticRegression`` on the features with
        each subspace standardised by its anchors' statistics.
    params : dict
        Stitcher parameters; names that are not estimator parameters go to the
        network as ``module__<name>``.
    """

    name: str
    similarities: tuple[str, ...] = ALL_SIMILARITIES
    preprocessing: str | None = "center"
    orientation: str = "similarity"
    learner: str = "stitch"
    params: dict = field(default_factory=dict, hash=False, compare=False)

    def relative_key(self) -> tuple:
        scaling = "standard" if self.learner == "logreg" else None
        return (self.similarities, self.preprocessing, self.orientation, scaling)

    def relative_step(self, seed: int):
        similarities, preprocessing, orientation, scaling = self.relative_key()
        common = dict(
            n_anchors=N_ANCHORS,
            random_state=seed,
            device="cpu",
            preprocessing=preprocessing,
            orientation=orientation,
        )
        if len(similarities) == 1:
            return RelativeProjector(similarities[0], output_scaling=scaling, **common)
        return InvariantProductSpace(
            similarities, output_scaling=scaling or "standard", **common
        )

    def learner_step(self, task: str, seed: int):
        if self.learner == "logreg":
            return LogisticRegression(max_iter=3000)
        return make_stitcher(task, self.params, seed)


def make_stitcher(task: str, params: dict, seed: int):
    """A stitching estimator with ``params``; network options as ``module__*``."""
    estimator_class = (
        StitchingClassifier if task == "classification" else StitchingRegressor
    )
    own = {k: v for k, v in params.items() if k in _ESTIMATOR_PARAMS}
    module = {f"module__{k}": v for k, v in params.items() if k not in own}
    return estimator_class(random_state=seed, device="cpu", **own, **module)


class FeatureCache:
    """Relative features of each (seed, source space, relative step), computed once."""

    def __init__(self, domain):
        self.domain = domain
        self._store: dict = {}

    def get(self, variant: Variant, seed: int, source: str):
        key = (variant.relative_key(), seed, source)
        if key not in self._store:
            space = self.domain.spaces[source]
            relative = variant.relative_step(seed).fit(space.train)
            self._store[key] = (relative, relative.transform(space.train))
        return self._store[key]


def run_block(domain, variant: Variant, seed: int, features: FeatureCache) -> list:
    """Train ``variant`` on each source space with ``seed``; score on every space."""
    records = []
    for source in domain.spaces:
        relative, Z_train = features.get(variant, seed, source)
        learner = variant.learner_step(domain.task, seed)
        start = time.perf_counter()
        learner.fit(Z_train, domain.y_train)
        fit_seconds = time.perf_counter() - start
        model = Pipeline([("relative", relative), ("learner", learner)])
        spaces = domain.spaces.items()
        table = stitching_matrix(
            {source: model},
            {t: space.train[relative.anchor_indices_] for t, space in spaces},
            {t: space.test for t, space in spaces},
            domain.y_test,
            n_jobs=1,
        )
        for row in table.to_dict("records"):
            records.append(
                dict(
                    variant=variant.name,
                    domain=domain.name,
                    train=row.pop("train_space"),
                    test=row.pop("test_space"),
                    seed=seed,
                    fit_seconds=fit_seconds,
                    **row,
                )
            )
    return records


@contextlib.contextmanager
def heavy_lock(path: str | None):
    """Hold the machine-wide lock for heavy jobs (none when ``path`` is None).

    Taken per (seed, domain) rather than for a whole multi-hour run, so that
    other sessions' heavy jobs can interleave.
    """
    if path is None:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_variants(
    domains, variants, seeds, records_path: Path, lock: str | None = None
) -> pd.DataFrame:
    """Run every (variant, domain, seed) block not yet in ``records_path``.

    Blocks run seed by seed, so that a partial run already has every variant on
    the first seeds. Returns all records in the file.
    """
    records_path.parent.mkdir(parents=True, exist_ok=True)
    done = load_records(records_path)
    have = set()
    if len(done):
        have = set(zip(done["variant"], done["domain"], done["seed"], strict=True))
    for seed in seeds:
        caches = {domain.name: FeatureCache(domain) for domain in domains}
        for domain in domains:
            todo = [v for v in variants if (v.name, domain.name, seed) not in have]
            if not todo:
                continue
            with heavy_lock(lock):
                for variant in todo:
                    start = time.perf_counter()
                    block = pd.DataFrame.from_records(
                        run_block(domain, variant, seed, caches[domain.name])
                    )
                    block["params"] = json.dumps(variant.params, sort_keys=True)
                    block.to_csv(
                        records_path,
                        mode="a",
                        header=not records_path.exists(),
                        index=False,
                    )
                    metric = "accuracy" if domain.task == "classification" else "mse"
                    cross = block[block["train"] != block["test"]][metric].mean()
                    print(
                        f"{domain.name} | {variant.name} | seed {seed}: cross "
                        f"{metric} {cross:.4f} ({time.perf_counter() - start:.0f} s)",
                        flush=True,
                    )
    return load_records(records_path)


def load_records(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if Path(path).exists() else pd.DataFrame()


def summarize(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per variant: cross-encoder mean, worst pair, seed std, same-encoder mean.

    ``cross mean`` averages the per-pair means over the ordered cross pairs;
    ``worst pair`` is the lowest per-pair mean (highest for MSE); ``seed std``
    is the per-pair std over seeds, averaged over pairs; ``same`` is the
    same-encoder reference.
    """
    lower_is_better = metric == "mse"
    rows = {}
    for (variant, domain), group in records.groupby(["variant", "domain"], sort=False):
        cross = group[group["train"] != group["test"]]
        per_pair = cross.groupby(["train", "test"])[metric].agg(["mean", "std"])
        seed_means = cross.groupby("seed")[metric].mean()
        rows[(domain, variant)] = {
            "cross mean": per_pair["mean"].mean(),
            "worst pair": per_pair["mean"].max()
            if lower_is_better
            else per_pair["mean"].min(),
            "seed std": per_pair["std"].mean(),
            "std of seed means": seed_means.std(),
            "same": group[group["train"] == group["test"]][metric].mean(),
            "seeds": group["seed"].nunique(),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["domain", "variant"]
    return table


def per_pair(records: pd.DataFrame, metric: str, digits: int = 3) -> pd.DataFrame:
    """Variant × ordered cross pair, ``mean ± std`` over seeds."""
    cross = records[records["train"] != records["test"]].assign(
        pair=lambda r: r["train"] + "→" + r["test"]
    )
    stats = cross.groupby(["variant", "pair"], sort=False)[metric].agg(["mean", "std"])
    cells = stats.apply(
        lambda r: f"{r['mean']:.{digits}f} ± {r['std']:.{digits}f}", axis=1
    )
    return cells.unstack("pair")


def set_threads(n_threads: int) -> None:
    """One torch thread by default: on the shared 2-core machine two threads made
    an epoch 20-50x slower (spinning threads fighting other processes)."""
    torch.set_num_threads(n_threads)


def to_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    return table.to_markdown(floatfmt=f".{digits}f")


def mean_of(records: pd.DataFrame, metric: str) -> dict:
    cross = records[records["train"] != records["test"]]
    return cross.groupby("variant")[metric].mean().to_dict()


__all__ = [
    "ALL_SIMILARITIES",
    "FeatureCache",
    "Variant",
    "make_stitcher",
    "mean_of",
    "per_pair",
    "run_variants",
    "set_threads",
    "summarize",
    "to_markdown",
]
