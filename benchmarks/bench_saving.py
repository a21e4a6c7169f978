"""Save and load time and file size: joblib, skops.io and ``save_stitcher``.

One realistic fitted model: 384-wide embeddings (MiniLM's width), scaled,
projected onto 768 anchors with two similarities, then a logistic regression
over 4 classes. A second model puts a :class:`~sklearn_relrep.StitchingClassifier`
at the end instead. Each time is the best of ``--repeats`` runs (which damps
noise from other processes); a size is the bytes on disk. Prints a markdown
table.

Run: ``python benchmarks/bench_saving.py [--repeats R]`` (about 1 minute).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_relrep import (
    InvariantProductSpace,
    StitchingClassifier,
    load_stitcher,
    save_stitcher,
)


def _models(seed: int = 0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(3000, 384)).astype(np.float32)
    y = np.argmax(X[:, :4] + 0.5 * rng.normal(size=(3000, 4)), axis=1)

    def front():
        return [
            StandardScaler(),
            InvariantProductSpace(
                ["cosine", "euclidean"], n_anchors=768, random_state=seed
            ),
        ]

    linear = make_pipeline(*front(), LogisticRegression(max_iter=300)).fit(X, y)
    stitcher = make_pipeline(
        *front(), StitchingClassifier(max_epochs=3, random_state=seed, device="cpu")
    ).fit(X, y)
    return {"relative + LogisticRegression": linear, "relative + stitcher": stitcher}, X


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _joblib(model, folder: Path):
    path = folder / "model.joblib"
    return lambda: joblib.dump(model, path), lambda: joblib.load(path), path


def _skops(model, folder: Path):
    path = folder / "model.skops"
    sio.dump(model, path)
    trusted = sio.get_untrusted_types(file=path)
    return (
        lambda: sio.dump(model, path),
        lambda: sio.load(path, trusted=trusted),
        path,
    )


def _safe(model, folder: Path):
    path = folder / "model"
    return (
        lambda: save_stitcher(model, path, overwrite=True),
        lambda: load_stitcher(path),
        path,
    )


def _best(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    models, X = _models()
    print("| model | format | save (ms) | load (ms) | size (MB) |")
    print("|---|---|---:|---:|---:|")
    for name, model in models.items():
        expected = model.predict_proba(X[:50])
        for label, way in (
            ("joblib", _joblib),
            ("skops.io", _skops),
            ("save_stitcher", _safe),
        ):
            with tempfile.TemporaryDirectory() as folder:
                try:
                    save, load, path = way(model, Path(folder))
                    save()
                    loaded = load()
                except Exception as exc:  # report what a format cannot hold
                    print(f"| {name} | {label} | cannot: {type(exc).__name__} | | |")
                    continue
                assert np.array_equal(loaded.predict_proba(X[:50]), expected)
                save_ms = 1000 * _best(save, args.repeats)
                load_ms = 1000 * _best(load, args.repeats)
                size = _size(path) / 2**20
                print(
                    f"| {name} | {label} | {save_ms:.1f} | {load_ms:.1f} | {size:.2f} |"
                )


if __name__ == "__main__":
    main()
