"""Correctness of the similarity kernels and of their CPU/CUDA dispatch."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

import sklearn_relrep
from sklearn_relrep._backend import map_row_chunks
from sklearn_relrep.relative import _kernels
from sklearn_relrep.relative._kernels import prepare_similarity

SCIPY_METRIC = {"euclidean": "euclidean", "l1": "cityblock", "linf": "chebyshev"}
# Relative tolerances. l1 sums d terms in a different order than scipy (float32:
# about sqrt(d) * eps relative). euclidean uses |x|^2 - 2<x,a> + |a|^2, which
# cancels when x is near an anchor; the error is absolute, about
# sqrt(eps) * (|x| + |a|), so the float32 test allows 1e-3 absolute on O(1) data.
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
ATOL = {np.float32: 1e-4, np.float64: 1e-10}
EUCLIDEAN_ATOL = {np.float32: 1e-3, np.float64: 1e-6}


def reference(similarity: str, X: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    X64, anchors64 = X.astype(np.float64), anchors.astype(np.float64)
    if similarity == "cosine":
        return 1.0 - cdist(X64, anchors64, "cosine")
    return cdist(X64, anchors64, SCIPY_METRIC[similarity])


def assert_matches(similarity, X, anchors, actual):
    atol = (EUCLIDEAN_ATOL if similarity == "euclidean" else ATOL)[X.dtype.type]
    np.testing.assert_allclose(
        actual, reference(similarity, X, anchors), rtol=RTOL[X.dtype.type], atol=atol
    )


def project(similarity, X, anchors, batch_size=4096):
    kernel = prepare_similarity(similarity, torch.from_numpy(anchors))
    return map_row_chunks(
        X,
        kernel,
        n_outputs=anchors.shape[0],
        batch_size=batch_size,
        device=torch.device("cpu"),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "l1", "linf"])
@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(1, 23),
    d=st.integers(1, 40),
    k=st.integers(1, 11),
    batch_size=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_matches_reference_for_all_shapes(similarity, dtype, n, d, k, batch_size, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    anchors = rng.standard_normal((k, d)).astype(dtype)
    actual = project(similarity, X, anchors, batch_size)
    assert actual.dtype == dtype
    assert_matches(similarity, X, anchors, actual)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("similarity", ["cosine", "euclidean", "l1", "linf"])
def test_large_block_and_non_contiguous_input(similarity, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((301, 2 * 97)).astype(dtype)[:, ::2]
    anchors = rng.standard_normal((130, 97)).astype(dtype)
    assert not X.flags.c_contiguous
    kernel = prepare_similarity(similarity, torch.from_numpy(anchors))
    assert_matches(similarity, X, anchors, kernel(torch.from_numpy(X)).numpy())
    assert_matches(similarity, X, anchors, project(similarity, X, anchors, 64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("similarity", ["euclidean", "l1", "linf"])
def test_distance_to_itself_is_small_not_nan(similarity, dtype):
    rng = np.random.default_rng(1)
    anchors = (100 * rng.standard_normal((50, 384)) + 3).astype(dtype)
    distances = project(similarity, anchors, anchors)
    diagonal = np.diag(distances)
    assert np.isfinite(distances).all()
    # matmul expansion: the squared distance is off by a few eps * |x|^2
    bound = 4 * np.sqrt(np.finfo(dtype).eps) * np.linalg.norm(anchors, axis=1)
    assert (diagonal <= bound).all()


def test_linf_propagates_nan_and_inf():
    anchors = np.zeros((5, 6), dtype=np.float32)
    X = np.ones((3, 6), dtype=np.float32)
    X[0, 2], X[1, 4] = np.nan, np.inf
    distances = project("linf", X, anchors)
    assert np.isnan(distances[0]).all()
    assert np.isposinf(distances[1]).all()
    np.testing.assert_array_equal(distances[2], 1.0)


@pytest.mark.parametrize("similarity", ["l1", "linf"])
def test_numba_and_torch_paths_agree(similarity, monkeypatch):
    if _kernels._numba_module() is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(2)
    X, anchors = rng.standard_normal((37, 65)), rng.standard_normal((9, 65))
    fast = project(similarity, X, anchors)
    monkeypatch.setattr(_kernels, "load_kernel", lambda name, anchors: None)
    np.testing.assert_allclose(project(similarity, X, anchors), fast, rtol=1e-12)


def test_fallback_when_numba_is_disabled(monkeypatch):
    monkeypatch.setenv("SKLEARN_RELREP_DISABLE_NUMBA", "1")
    _kernels._numba_module.cache_clear()
    try:
        assert _kernels.load_kernel("l1", torch.ones(2, 3)) is None
        X, anchors = np.ones((4, 3)), np.zeros((2, 3))
        np.testing.assert_array_equal(project("l1", X, anchors), 3.0)
    finally:
        _kernels._numba_module.cache_clear()


@pytest.mark.parametrize("similarity", ["l1", "linf"])
def test_dispatch(similarity, monkeypatch):
    """CPU blocks without gradient take numba; CUDA, autograd and odd dtypes torch."""
    calls = []

    def fake_load_kernel(name, anchors):
        if anchors.device.type != "cpu":
            return None
        return lambda x: calls.append(name) or torch.zeros(x.shape[0], len(anchors))

    monkeypatch.setattr(_kernels, "load_kernel", fake_load_kernel)
    monkeypatch.setattr(
        torch,
        "cdist",
        lambda x, a, p: calls.append(p) or torch.zeros(len(x), len(a), device=x.device),
    )
    anchors = torch.ones(3, 2)
    kernel = prepare_similarity(similarity, anchors)
    kernel(torch.ones(4, 2))
    kernel(torch.ones(4, 2, requires_grad=True))
    kernel(torch.ones(4, 2, dtype=torch.float64))
    # "meta" stands for CUDA: the estimators put anchors and rows on one device.
    prepare_similarity(similarity, anchors.to("meta"))(torch.ones(4, 2, device="meta"))
    prepare_similarity(similarity, torch.ones(3, 2, requires_grad=True))(
        torch.ones(4, 2)
    )
    p = 1.0 if similarity == "l1" else float("inf")
    assert calls == [similarity, p, p, p, p]


def test_load_kernel_declines_non_cpu_and_unsupported_dtypes():
    assert _kernels.load_kernel("l1", torch.ones(2, 3, device="meta")) is None
    assert _kernels.load_kernel("l1", torch.ones(2, 3, dtype=torch.float16)) is None
    assert _kernels.load_kernel("cosine", torch.ones(2, 3)) is None


def test_gradient_flows_through_torch_path():
    anchors = torch.randn(4, 3, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    prepare_similarity("l1", anchors)(x).sum().backward()
    expected = torch.sign(x.detach()[:, None, :] - anchors[None]).sum(1)
    torch.testing.assert_close(x.grad, expected)


# an unusable numba cache folder (issue 19, item 6) ----------------------------------

PACKAGE = Path(sklearn_relrep.__file__).parent
# Transforms with the l1/linf kernels in a fresh process; prints the warnings.
UNUSABLE_CACHE_SCRIPT = """
import json, os, warnings
import numba
import numpy as np
from scipy.spatial.distance import cdist

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    from sklearn_relrep import InvariantProductSpace, RelativeProjector
    from sklearn_relrep._kernels import _numba_module

    X = np.random.RandomState(0).normal(size=(40, 5))
    InvariantProductSpace(n_anchors=6, random_state=0).fit_transform(X)
    for name, metric in (("l1", "cityblock"), ("linf", "chebyshev")):
        out = RelativeProjector(name, anchors=X[:6]).fit(X).transform(X)
        np.testing.assert_allclose(out, cdist(X, X[:6], metric), rtol=1e-12)
assert _numba_module().l1.signatures, "the numba kernels were not used"
assert "NUMBA_CACHE_DIR" not in os.environ and not numba.config.CACHE_DIR
print(json.dumps([str(w.message) for w in caught]))
"""


def _writable(folder: Path) -> bool:
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def _unusable_cache_folder(tmp_path: Path, kind: str) -> Path:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    if kind == "under-a-file":
        return blocker / "cache"
    if kind == "a-file":
        return blocker
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    if _writable(folder):  # root ignores permissions; procfs refuses new files
        folder = Path("/proc/sys")
        if not folder.is_dir() or _writable(folder):
            pytest.skip("no unwritable folder available to this user")
    return folder


@pytest.mark.parametrize("kind", ["under-a-file", "a-file", "unwritable"])
def test_an_unusable_cache_folder_costs_one_warning_not_the_transform(tmp_path, kind):
    """l1/linf compile without a disk cache, and never into the package."""
    pytest.importorskip("numba")
    installed = tmp_path / "installed"
    shutil.copytree(
        PACKAGE,
        installed / PACKAGE.name,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    hidden = ("NUMBA_CACHE_DIR", "SKLEARN_RELREP_DISABLE_NUMBA")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(
        PYTHONPATH=str(installed),
        PYTHONDONTWRITEBYTECODE="1",
        SKLEARN_RELREP_CACHE=str(_unusable_cache_folder(tmp_path, kind)),
    )
    completed = subprocess.run(
        [sys.executable, "-c", UNUSABLE_CACHE_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # not the repository, whose package would come first
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    messages = json.loads(completed.stdout.splitlines()[-1])
    about_the_cache = [m for m in messages if "cache folder" in m]
    assert len(about_the_cache) == 1, messages
    assert "compiled in this process without a disk cache" in about_the_cache[0]
    compiled = [p for p in installed.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert compiled == []


@pytest.mark.parametrize(
    ("precision", "roundoff"), [("high", 2**-11), ("medium", 2**-8)]
)
def test_euclidean_bound_counts_reduced_precision_float32_matmuls(precision, roundoff):
    """TF32/bf16 matmuls round their inputs: the cancellation test must know it."""
    from sklearn_relrep.relative._expansion import _matmul_input_roundoff

    cpu = torch.device("cpu")
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(precision)
    try:
        assert _matmul_input_roundoff(torch.float32, cpu) == roundoff
        assert _matmul_input_roundoff(torch.float64, cpu) == 0.0
    finally:
        torch.set_float32_matmul_precision(previous)
    assert _matmul_input_roundoff(torch.float32, cpu) == 0.0


# threads and start-up of the numba kernels (issue 21, item 4) ----------------------


def test_numba_kernels_split_rows_across_torch_threads():
    """``torch.get_num_threads()`` threads share the rows out in slices."""
    import threading
    import time

    calls = []

    def spy(x, anchors, out):
        calls.append((threading.get_ident(), x.shape[0]))
        time.sleep(0.01)  # long enough that no thread takes every slice
        out[:] = cdist(x, anchors, "cityblock")

    rng = np.random.default_rng(3)
    x, anchors = rng.standard_normal((101, 7)), rng.standard_normal((5, 7))
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        out = _kernels._run_numba(spy, x, anchors)
    finally:
        torch.set_num_threads(previous)
    np.testing.assert_array_equal(out, cdist(x, anchors, "cityblock"))
    assert sum(rows for _, rows in calls) == 101 and len(calls) > 3
    assert 1 < len({ident for ident, _ in calls}) <= 3


# Prepares and calls one numba kernel in a fresh process; prints what it loaded.
FIRST_CALL_SCRIPT = """
import json, sys
import numpy as np, torch
from scipy.spatial.distance import cdist
from sklearn_relrep.relative._kernels import _numba_module, prepare_similarity

torch.set_num_threads(2)
X, anchors = np.random.RandomState(0).normal(size=(2, 64, 9)).astype(np.float32)
out = prepare_similarity("l1", torch.from_numpy(anchors))(torch.from_numpy(X))
np.testing.assert_allclose(out.numpy(), cdist(X, anchors, "cityblock"), rtol=1e-5)
module = _numba_module()
try:
    layer = module.numba.threading_layer()
except ValueError:
    layer = None
print(json.dumps({
    "l1": [str(s) for s in module.l1.signatures],
    "linf": [str(s) for s in module.linf.signatures],
    "threading_layer": layer,
    "sklearn": "sklearn" in sys.modules,
}))
"""


@pytest.fixture(scope="module")
def first_numba_call(tmp_path_factory):
    """What a fresh process's first l1 call compiled, with a cold numba cache."""
    pytest.importorskip("numba")
    cache = tmp_path_factory.mktemp("numba_cold")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(PACKAGE.parent))
    env.pop("SKLEARN_RELREP_DISABLE_NUMBA", None)
    completed = subprocess.run(
        [sys.executable, "-c", FIRST_CALL_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1])


def test_first_l1_call_compiles_only_that_kernel_and_dtype(first_numba_call):
    assert len(first_numba_call["l1"]) == 1
    assert "float32" in first_numba_call["l1"][0]
    assert first_numba_call["linf"] == []


def test_numba_kernels_never_start_numbas_threading_layer(first_numba_call):
    """numba's threading layer costs seconds to compile and load, and shares
    OpenMP with torch: the kernels run on Python threads instead."""
    assert first_numba_call["threading_layer"] is None


def test_numba_kernels_load_without_importing_scikit_learn(first_numba_call):
    """Finding the cache folder must not import the datasets wing (seconds)."""
    assert first_numba_call["sklearn"] is False


@pytest.mark.parametrize("similarity", ["l1", "linf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_values_do_not_depend_on_how_rows_are_split(similarity, dtype):
    """A row gives the same bits alone, first or last of a block, odd or even."""
    module = _kernels._numba_module()
    if module is None:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(4)
    X, anchors = rng.standard_normal((37, 300)), rng.standard_normal((7, 300))
    X, anchors = X.astype(dtype), anchors.astype(dtype)
    whole = _kernels._run_numba(module.KERNELS[similarity], X, anchors)
    for start, stop in [(1, 37), (0, 1), (36, 37), (5, 8), (3, 4)]:
        part = np.empty((stop - start, 7), dtype=dtype)
        module.KERNELS[similarity](X[start:stop], anchors, part)
        np.testing.assert_array_equal(part, whole[start:stop])
