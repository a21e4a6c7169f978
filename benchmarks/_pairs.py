"""The encoder pairs of issue 10, cached as arrays for the quality benchmarks.

Text: BBC News through MiniLM-L6 and MiniLM-L3 (all 1699 train / 425 test
articles). Vision: MNIST (4000 train / 1000 test, the runner's ``full`` preset)
through CNN seed 0, CNN seed 1 and MLP seed 0 classifiers, and the same three
as autoencoders for reconstruction. Built once with the runner's own domain
builders (``sklearn_relrep.experiments.build_domain``) and saved as one ``.npz`` per
domain under ``<cache>/quality_pairs``; later calls only load.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from sklearn_relrep.datasets import get_cache_dir
from sklearn_relrep.experiments import build_domain

DOMAIN_KEYS = ("text", "vision", "vision-ae")
# All BBC articles: the full preset's n_train/n_test cap MNIST only.
TEXT_SIZE = dict(n_train=10**9, n_test=10**9)


def load_domain(key: str, cache_dir=None):
    """The domain ``key`` (``"text"``, ``"vision"`` or ``"vision-ae"``).

    ``name``, ``task``, ``y_train``, ``y_test`` and ``spaces`` (encoder name ->
    ``train`` and ``test`` embeddings), as the runner's domains have them.
    """
    folder = get_cache_dir(cache_dir) / "quality_pairs"
    path = folder / f"{key}.npz"
    if not path.exists():
        start = time.perf_counter()
        sizes = TEXT_SIZE if key == "text" else {}
        domain = build_domain(key, cache_dir=cache_dir, device="cpu", **sizes)
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
    names = [f.split("::", 1)[1] for f in data.files if f.startswith("train::")]
    spaces = {
        name: SimpleNamespace(
            name=name, train=data[f"train::{name}"], test=data[f"test::{name}"]
        )
        for name in names
    }
    return SimpleNamespace(
        name=str(data["name"]),
        task=str(data["task"]),
        y_train=data["y_train"],
        y_test=data["y_test"],
        spaces=spaces,
    )


if __name__ == "__main__":
    for key in DOMAIN_KEYS:
        d = load_domain(key)
        print(
            key, d.task, {n: s.train.shape for n, s in d.spaces.items()}, len(d.y_test)
        )
