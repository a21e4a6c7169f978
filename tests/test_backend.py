"""The chunking and device layer shared by every transformer."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from sklearn_relrep import InvariantProductSpace
from sklearn_relrep._backend import map_row_chunks, resolve_device


def test_blocks_never_exceed_batch_size_and_cover_every_row():
    seen = []

    def record(x):
        seen.append(x.shape[0])
        return x[:, :1] * 2

    X = np.arange(23, dtype=np.float64).reshape(23, 1)
    out = map_row_chunks(
        X, record, n_outputs=1, batch_size=5, device=torch.device("cpu")
    )
    assert seen == [5, 5, 5, 5, 3]
    np.testing.assert_array_equal(out, 2 * X)


def test_product_space_is_computed_one_chunk_at_a_time(monkeypatch):
    """Only the output plus one chunk of similarities exists at any time."""
    from sklearn_relrep.relative import _transformers as _base

    largest_block = []
    original = _base.map_row_chunks

    def spy(X, block_function, **kwargs):
        def watched(x):
            result = block_function(x)
            largest_block.append(result.numel())
            return result

        return original(X, watched, **kwargs)

    X = np.random.RandomState(0).normal(size=(1000, 8)).astype(np.float32)
    space = InvariantProductSpace(n_anchors=16, batch_size=64, random_state=0).fit(X)
    monkeypatch.setattr(_base, "map_row_chunks", spy)
    space.transform(X)
    assert max(largest_block) == 64 * 4 * 16


def test_output_dtype_follows_input():
    X = np.ones((4, 2), dtype=np.float32)
    out = map_row_chunks(
        X, lambda x: x, n_outputs=2, batch_size=3, device=torch.device("cpu")
    )
    assert out.dtype == np.float32


def test_auto_resolves_to_cuda_only_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"


def test_unknown_device_string_is_a_clear_error():
    with pytest.raises(ValueError, match="Unknown device 'gpu0'"):
        resolve_device("gpu0")


READ_ONLY_CASES = {
    # pandas 3's copy-on-write hands read-only arrays from every DataFrame
    "pandas-output-pipeline": """
        X = pd.DataFrame(X, columns=list("abcdef"))
        model = make_pipeline(
            RelativeProjector(n_anchors=5, random_state=0),
            StitchingClassifier(**FAST),
        ).set_output(transform="pandas")
        model.fit(X, y)
        model.predict(X)
        model[-1].partial_fit(model[0].transform(X), y)
    """,
    "read-only-arrays": """
        X.flags.writeable = False
        InvariantProductSpace(n_anchors=5, random_state=0).fit(X).transform(X)
        StitchingRegressor(**FAST).fit(X, X[:, :2]).predict(X)
    """,
}


@pytest.mark.parametrize("case", sorted(READ_ONLY_CASES))
def test_read_only_arrays_reach_torch_without_a_warning(case):
    """In a fresh interpreter: torch warns about read-only memory once a process."""
    script = textwrap.dedent(
        """
        import warnings
        import numpy as np, pandas as pd
        from sklearn.pipeline import make_pipeline
        from sklearn_relrep import (
            InvariantProductSpace, RelativeProjector, StitchingClassifier,
            StitchingRegressor,
        )
        warnings.simplefilter("error")
        rng = np.random.RandomState(0)
        X = rng.normal(size=(60, 6)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64)
        FAST = dict(max_epochs=2, hidden_sizes=(8,), device="cpu", random_state=0)
        """
    ) + textwrap.dedent(READ_ONLY_CASES[case])
    result = subprocess.run(
        [sys.executable, "-c", script + "print('ok')\n"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok"
