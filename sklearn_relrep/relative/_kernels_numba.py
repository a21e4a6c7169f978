"""Numba-compiled l1 and linf kernels; imported lazily by ``_kernels``.

Each kernel fills ``out[i, a] = reduce_j step(x[i, j], anchors[a, j])``. The loop
over features updates a register tile of 2 rows x 4 anchors, and LLVM vectorises it
as a reduction (``fastmath`` allows the reassociation). The kernels are serial and
release the GIL: :mod:`sklearn_relrep.relative._kernels` runs them on slices of
rows in Python threads, so numba's threading layer is never started. Each is
compiled on its first call, for that call's dtype only.

The linf max reduction runs on the integer bit patterns of the absolute
differences: for non-negative IEEE floats integer order equals float order, and
LLVM vectorises an integer max reduction, which it does not do for a float select.
A NaN (positive after ``abs``) has a larger bit pattern than any finite value or
inf, so it still propagates.

Compiled code is cached on disk, never inside the installed package: in
``$NUMBA_CACHE_DIR`` when it is set (numba's own rule), else in the ``numba``
folder of the package's cache directory (``$SKLEARN_RELREP_CACHE`` or
``~/.cache/sklearn_relrep``). A fresh process, such as a new dask worker, then
loads the kernels instead of compiling them. The folder is checked when this
module is imported, before the kernels are declared: if it cannot be created
or written (a path under a file, a file, no permission), the kernels are
declared without a disk cache, compiled in each process, and one
``RuntimeWarning`` says so; numba's fallback of writing into the package's
``__pycache__`` is never reached. No environment variable or numba setting is
changed.
"""

import os
import tempfile
import warnings

import numba
from numba import types
from numba.core import caching, config
from numba.extending import intrinsic, overload

from .._cache_location import default_cache_dir


def _usable_cache_path() -> str | None:
    """This module's folder in the numba cache, or None (with a warning) if unusable.

    The folder is created, and written to once, as numba itself checks it.
    """
    try:
        base = config.CACHE_DIR or os.path.join(default_cache_dir(), "numba")
        subpath = caching._CacheLocator.get_suitable_cache_subpath(__file__)
        path = os.path.join(base, subpath)
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as exc:
        variable = "NUMBA_CACHE_DIR" if config.CACHE_DIR else "SKLEARN_RELREP_CACHE"
        warnings.warn(
            f"The cache folder for the compiled l1/linf kernels cannot be used "
            f"({type(exc).__name__}: {exc}); they are compiled in this process "
            f"without a disk cache, which costs a few seconds per process. Set "
            f"{variable} to a writable folder to cache them.",
            RuntimeWarning,
            stacklevel=2,
        )
        return None
    return path


_CACHE_PATH = _usable_cache_path()


class _PackageCacheLocator(caching.UserProvidedCacheLocator):
    """Cache this module's kernels in the folder checked at import."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        self._cache_path = _CACHE_PATH

    @classmethod
    def from_function(cls, py_func, py_file):
        if _CACHE_PATH is None or os.path.abspath(py_file) != os.path.abspath(__file__):
            return None
        return super(caching.UserProvidedCacheLocator, cls).from_function(
            py_func, py_file
        )


if _PackageCacheLocator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, _PackageCacheLocator)

_BITCAST_TARGET = {
    types.float32: types.int32,
    types.float64: types.int64,
    types.int32: types.float32,
    types.int64: types.float64,
}


@intrinsic
def _bitcast(typingctx, value):
    target = _BITCAST_TARGET.get(value)
    if target is None:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(target))

    return target(value), codegen


_jit = numba.njit(cache=_CACHE_PATH is not None, fastmath=True, nogil=True)


def _step(total, x, y):
    """Add ``|x - y|`` to a float total, or max its bits into an integer total."""


@overload(_step, jit_options={"fastmath": True})
def _step_overload(total, x, y):
    if isinstance(total, types.Float):
        return lambda total, x, y: total + abs(x - y)
    return lambda total, x, y: max(total, _bitcast(abs(x - y)))


def _finish(total):
    """Return a float total as it is, and turn integer bits back into a float."""


@overload(_finish)
def _finish_overload(total):
    if isinstance(total, types.Float):
        return lambda total: total
    return lambda total: _bitcast(total)


@_jit
def _reduce_rows(x, anchors, out, zero):
    n, d = x.shape
    k = anchors.shape[0]
    for a in range(0, k, 4):
        # A tile past the last anchor or row repeats it, so that every entry is
        # computed by the same vectorised loop, in the same order, wherever it
        # falls: the values do not depend on how the rows are split.
        a1, a2, a3 = min(a + 1, k - 1), min(a + 2, k - 1), min(a + 3, k - 1)
        for i in range(0, n, 2):
            i1 = min(i + 1, n - 1)
            s00 = s01 = s02 = s03 = s10 = s11 = s12 = s13 = zero
            for j in range(d):
                x0, x1 = x[i, j], x[i1, j]
                y0, y1 = anchors[a, j], anchors[a1, j]
                y2, y3 = anchors[a2, j], anchors[a3, j]
                s00, s01 = _step(s00, x0, y0), _step(s01, x0, y1)
                s02, s03 = _step(s02, x0, y2), _step(s03, x0, y3)
                s10, s11 = _step(s10, x1, y0), _step(s11, x1, y1)
                s12, s13 = _step(s12, x1, y2), _step(s13, x1, y3)
            out[i, a], out[i, a1] = _finish(s00), _finish(s01)
            out[i, a2], out[i, a3] = _finish(s02), _finish(s03)
            out[i1, a], out[i1, a1] = _finish(s10), _finish(s11)
            out[i1, a2], out[i1, a3] = _finish(s12), _finish(s13)


@_jit
def l1(x, anchors, out):
    """Fill ``out`` with the l1 distances between rows of ``x`` and ``anchors``."""
    _reduce_rows(x, anchors, out, x.dtype.type(0))


@_jit
def linf(x, anchors, out):
    """Fill ``out`` with the linf distances between rows of ``x`` and ``anchors``."""
    _reduce_rows(x, anchors, out, _bitcast(x.dtype.type(0)))


KERNELS = {"l1": l1, "linf": linf}
