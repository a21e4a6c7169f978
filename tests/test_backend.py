"""The chunking and device layer shared by every transformer."""

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
