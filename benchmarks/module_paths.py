"""How the package is laid out, and which of its modules ``X`` passes through.

Prints the number of modules, the largest one, and, for three calls, the
package modules whose code runs while ``X`` is handled (traced with
``sys.setprofile``): a product space's ``transform``; a stitcher's ``fit`` and
``predict`` behind it in a pipeline; and ``zero_shot_stitch`` followed by a
prediction. Run from the repository root: ``python benchmarks/module_paths.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn.pipeline import make_pipeline  # noqa: E402

import sklearn_relrep  # noqa: E402

PACKAGE = Path(sklearn_relrep.__file__).parent


def package_modules() -> dict[str, int]:
    return {
        str(path.relative_to(PACKAGE.parent)): len(path.read_text().splitlines())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def traced_modules(call) -> list[str]:
    seen: set[str] = set()

    def profile(frame, event, arg):
        filename = frame.f_code.co_filename
        if filename.startswith(str(PACKAGE)):
            seen.add(str(Path(filename).relative_to(PACKAGE.parent)))

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return sorted(seen)


def main() -> None:
    from sklearn_relrep import (
        InvariantProductSpace,
        StitchingClassifier,
        zero_shot_stitch,
    )

    modules = package_modules()
    largest = max(modules, key=modules.get)
    print(f"modules: {len(modules)}; largest: {largest} ({modules[largest]} lines)")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 16)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    space = InvariantProductSpace(n_anchors=8, random_state=0).fit(X)
    space.transform(X)  # warm the numba kernels outside the trace
    model = make_pipeline(
        InvariantProductSpace(n_anchors=8, random_state=0),
        StitchingClassifier(max_epochs=1, random_state=0, device="cpu"),
    )
    model.fit(X, y)
    calls = {
        "InvariantProductSpace.transform": lambda: space.transform(X),
        "pipeline fit + predict (stitcher)": lambda: model.fit(X, y).predict(X),
        "zero_shot_stitch + predict": lambda: zero_shot_stitch(
            model, X[model[0].anchor_indices_] * 2.0
        ).predict(X * 2.0),
    }
    for name, call in calls.items():
        traced = traced_modules(call)
        print(f"{name}: {len(traced)} modules: {', '.join(traced)}")


if __name__ == "__main__":
    main()
