"""A model being replaced stays readable from other processes (issue 19, item 5)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import sklearn_relrep
from sklearn_relrep import RelativeProjector, load_stitcher, save_stitcher

OVERWRITES = 100
# The writer waits for the reader's first load, then replaces the model
# OVERWRITES times, alternating two models; the reader loads until it is done.
# The writer pauses after every step that readers can observe (a rename, a
# replace, a removal), so that they meet every intermediate state of a save.
WRITER = """
import os, shutil, sys, time
from pathlib import Path
from sklearn_relrep import load_stitcher, save_stitcher

def pausing(step):
    def run(*args, **kwargs):
        result = step(*args, **kwargs)
        time.sleep(0.005)
        return result
    return run

os.rename, os.replace = pausing(os.rename), pausing(os.replace)
shutil.rmtree = pausing(shutil.rmtree)

target, started = Path(sys.argv[1]), Path(sys.argv[2])
models = [load_stitcher(folder) for folder in sys.argv[3:5]]
while not started.exists():
    time.sleep(0.01)
for i in range(int(sys.argv[5])):
    save_stitcher(models[i % 2], target, overwrite=True)
"""


def _flatten(folder):
    """The flat layout of earlier versions: the two files in the folder itself."""
    (version,) = [entry for entry in folder.iterdir() if entry.is_dir()]
    for file in version.iterdir():
        file.rename(folder / file.name)
    version.rmdir()
    (folder / "CURRENT").unlink()


def test_readers_see_the_old_or_the_new_model_while_it_is_replaced(tmp_path):
    X = np.random.RandomState(0).normal(size=(20, 6))
    models = [
        RelativeProjector(similarity, n_anchors=5, random_state=seed).fit(X)
        for seed, similarity in enumerate(("cosine", "euclidean"))
    ]
    expected = [model.transform(X) for model in models]
    sources = [save_stitcher(m, tmp_path / f"model{i}") for i, m in enumerate(models)]
    target = save_stitcher(models[0], tmp_path / "target")
    if (target / "CURRENT").exists():
        _flatten(target)  # the first replacement also converts an old layout
    started = tmp_path / "started"
    environment = dict(os.environ)
    package_root = str(Path(sklearn_relrep.__file__).parents[1])
    environment["PYTHONPATH"] = os.pathsep.join(
        [package_root, environment.get("PYTHONPATH", "")]
    )
    command = [sys.executable, "-c", WRITER, target, started, *sources]
    writer = subprocess.Popen(
        [*map(str, command), str(OVERWRITES)],
        env=environment,
        stderr=subprocess.PIPE,
        text=True,
    )
    loads, failures, seen = 0, [], set()
    try:
        while True:
            writer_done = writer.poll() is not None
            try:
                output = load_stitcher(target).transform(X)
                matches = [np.array_equal(output, e) for e in expected]
                if any(matches):
                    seen.add(matches.index(True))
                else:
                    failures.append("a model that is neither the old nor the new")
            except Exception as exc:  # every failure counts, whatever its type
                failures.append(f"{type(exc).__name__}: {exc}")
            loads += 1
            started.touch()
            if writer_done:
                break
    finally:
        writer.kill()
        _, writer_errors = writer.communicate(timeout=60)
    assert writer.returncode == 0, writer_errors[-2000:]
    assert failures == [], f"{len(failures)} of {loads} loads failed: {failures[:3]}"
    assert loads > 1 and seen == {0, 1}
