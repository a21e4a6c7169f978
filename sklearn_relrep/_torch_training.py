"""Seeded mini-batches and torch RNG isolation, for every torch training loop.

The stitchers (:mod:`sklearn_relrep.stitching`) and the MNIST encoders
(:mod:`sklearn_relrep.encoders`) train skorch nets with these:
:class:`ShuffledBatches`, the training iterator that slices whole tensors
instead of collating samples one by one, :func:`batch_iterator` for the other
passes, and :func:`isolated_torch_rng`, which seeds a block without touching
torch's global random number generator outside it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping

import numpy as np
import torch

__all__ = [
    "ShuffledBatches",
    "TensorBatchIterator",
    "batch_iterator",
    "isolated_torch_rng",
]


def _rows(data, rows):
    if isinstance(data, Mapping):
        return {key: value[rows] for key, value in data.items()}
    return data[rows]


def _as_tensors(data):
    if isinstance(data, Mapping):
        return {key: torch.as_tensor(value) for key, value in data.items()}
    return torch.as_tensor(data)


class TensorBatchIterator:
    """Mini-batches sliced from whole tensors: no per-sample ``__getitem__``/collate.

    skorch passes its dataset (a :class:`skorch.dataset.Dataset` or a
    :class:`torch.utils.data.Subset` of one after the validation split). ``X``
    may be a tensor or a dict of tensors (the samples and their weights). The
    batch order comes from a private generator seeded by ``seed``, so the global
    torch RNG is never touched.
    """

    def __init__(self, dataset, batch_size, shuffle=False, seed=0, drop_last=False):
        indices = None
        if isinstance(dataset, torch.utils.data.Subset):
            dataset, indices = dataset.dataset, torch.as_tensor(dataset.indices)
        X, y = _as_tensors(dataset.X), dataset.y
        y = None if y is None else torch.as_tensor(y)
        if indices is not None:
            X, y = _rows(X, indices), (None if y is None else y[indices])
        self.X, self.y, self.batch_size = X, y, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.n_samples = len(dataset) if indices is None else len(indices)
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        if self.drop_last:
            return self.n_samples // self.batch_size
        return -(-self.n_samples // self.batch_size)

    def __iter__(self):
        order = (
            torch.randperm(self.n_samples, generator=self.generator)
            if self.shuffle
            else None
        )
        for batch in range(len(self)):
            start = batch * self.batch_size
            rows = (
                order[start : start + self.batch_size]
                if order is not None
                else slice(start, start + self.batch_size)
            )
            yield _rows(self.X, rows), (None if self.y is None else self.y[rows])


def batch_iterator(dataset, batch_size, shuffle=False, seed=0, **loader_kwargs):
    """The iterator skorch calls for each epoch.

    Without extra keyword arguments it is a :class:`TensorBatchIterator`; with
    any (``num_workers``, ``pin_memory``, ``collate_fn``, ... given as
    ``iterator_train__*``) it is a :class:`torch.utils.data.DataLoader` with a
    private generator seeded by ``seed``.
    """
    drop_last = loader_kwargs.pop("drop_last", False)
    if not loader_kwargs:
        return TensorBatchIterator(
            dataset, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
    return torch.utils.data.DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=torch.Generator().manual_seed(int(seed)),
        **loader_kwargs,
    )


class ShuffledBatches:
    """The training iterator: a new batch order every epoch, fixed by ``seed``.

    skorch builds the iterator anew at each epoch; this callable draws each
    epoch's shuffling seed from its own :class:`numpy.random.RandomState`, so
    the epochs see different orders while a given ``seed`` always gives the same
    sequence.
    """

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.random_state = np.random.RandomState(self.seed)

    def __call__(self, dataset, batch_size, shuffle=True, **loader_kwargs):
        seed = int(self.random_state.randint(np.iinfo(np.int32).max))
        return batch_iterator(
            dataset, batch_size, shuffle=shuffle, seed=seed, **loader_kwargs
        )


# torch has one global RNG per process (weight initialisation and dropout draw
# from it), so seeded blocks in concurrent threads would interleave their draws.
_TORCH_RNG_LOCK = threading.RLock()


@contextlib.contextmanager
def isolated_torch_rng(seed: int, device: torch.device):
    """Run a block with torch seeded by ``seed``, restoring the global RNG after.

    Blocks in different threads of one process run one at a time, so that a
    seed gives the same result under a threading joblib backend; processes
    (loky, dask, ray, spark) run in parallel.
    """
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with _TORCH_RNG_LOCK, torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield
