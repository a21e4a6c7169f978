"""The encoder pairs of issue 10, cached as arrays for the quality benchmarks.

Text: BBC News through MiniLM-L6 and MiniLM-L3 (all 1699 train / 425 test
articles). Vision: MNIST (4000 train / 1000 test, the runner's ``full`` preset)
through CNN seed 0, CNN seed 1 and MLP seed 0 classifiers, and the same three
as autoencoders for reconstruction. Built once with the runner's own domain
builders (``sklearn_relrep.experiments._suite``) and saved as one ``.npz`` per
domain under ``<cache>/quality_pairs``; later calls only load.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from sklearn_relrep.datasets import get_cache_dir
from sklearn_relrep.experiments._domains import Domain, Space
from sklearn_relrep.experiments._settings import SIZES
from sklearn_relrep.experiments._suite import text_domain, vision_domain

DOMAIN_KEYS = ("text", "vision", "vision-ae")
# All BBC articles: the full preset's n_train/n_test cap MNIST only.
TEXT_SIZE = dict(n_train=10**9, n_test=10**9)


def _build(key: str, cache_dir) -> Domain:
    settings = SIZES["full"]
    if key == "text":
        return text_domain(
            replace(settings, **TEXT_SIZE),
            cache_dir=cache_dir,
            progress=True,
            device="cpu",
        )
    kind = "autoencoder" if key == "vision-ae" else "classifier"
    return vision_domain(
        settings, kind=kind, cache_dir=cache_dir, progress=True, device="cpu"
    )


def load_domain(key: str, cache_dir=None) -> Domain:
    """The domain ``key`` (``"text"``, ``"vision"`` or ``"vision-ae"``)."""
    folder = get_cache_dir(cache_dir) / "quality_pairs"
    path = folder / f"{key}.npz"
    if not path.exists():
        start = time.perf_counter()
        domain = _build(key, cache_dir)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = dict(y_train=domain.y_train, y_test=domain.y_test)
        for name, space in domain.spaces.items():
            arrays[f"train::{name}"] = space.train
            arrays[f"test::{name}"] = space.test
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, name=domain.name, task=domain.task, **arrays)
        tmp.replace(path)
        print(f"built {key} in {time.perf_counter() - start:.0f} s -> {path}")
    data = np.load(path, allow_pickle=False)
    domain = Domain(
        str(data["name"]), data["y_train"], data["y_test"], task=str(data["task"])
    )
    names = [f.split("::", 1)[1] for f in data.files if f.startswith("train::")]
    for name in names:
        domain.add(Space(name, data[f"train::{name}"], data[f"test::{name}"]))
    return domain


if __name__ == "__main__":
    for key in DOMAIN_KEYS:
        d = load_domain(key)
        print(
            key, d.task, {n: s.train.shape for n, s in d.spaces.items()}, len(d.y_test)
        )
