"""Where the cache lives: ``cache_dir``, else ``$SKLEARN_RELREP_CACHE``, else the
operating system's user cache folder (platformdirs)."""

import sys

import numpy as np
import platformdirs
import pytest

from sklearn_relrep._cache_location import CACHE_ENV_VAR, default_cache_dir
from sklearn_relrep.datasets import get_cache_dir
from sklearn_relrep.datasets._cache import cached_array


@pytest.fixture
def os_cache(tmp_path, monkeypatch):
    """platformdirs' user cache folder, moved into tmp_path; the variable unset."""
    monkeypatch.delenv(CACHE_ENV_VAR)
    monkeypatch.setattr(
        platformdirs,
        "user_cache_dir",
        lambda appname, appauthor=None: str(tmp_path / "os-cache" / appname),
    )
    return tmp_path / "os-cache" / "sklearn_relrep"


def test_the_default_is_the_user_cache_folder_of_platformdirs(os_cache):
    assert default_cache_dir() == os_cache
    assert get_cache_dir() == os_cache and os_cache.is_dir()


@pytest.mark.skipif(sys.platform != "linux", reason="XDG applies on Linux")
def test_xdg_cache_home_moves_the_default_on_linux(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "sklearn_relrep"


def test_the_environment_variable_wins_over_the_user_cache_folder(
    os_cache, tmp_path, monkeypatch
):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "from-env"))
    assert get_cache_dir() == tmp_path / "from-env"
    assert not os_cache.exists()


def test_cache_dir_wins_over_the_variable_and_the_user_cache_folder(
    os_cache, tmp_path, monkeypatch
):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "from-env"))
    assert get_cache_dir(tmp_path / "given") == tmp_path / "given"
    assert not os_cache.exists() and not (tmp_path / "from-env").exists()


def test_cached_array_allows_any_size_on_an_axis_given_as_none(tmp_path):
    path, calls = tmp_path / "entry.npz", []

    def compute():
        calls.append(1)
        return np.ones((2, 5), dtype=np.float32)

    first = cached_array(path, compute, shape=(2, None), dtype=np.float32)
    second = cached_array(path, compute, shape=(2, None), dtype=np.float32)
    assert calls == [1] and second.shape == (2, 5)
    np.testing.assert_array_equal(first, second)
    with pytest.raises(ValueError, match=r"expects \(3, None\)"):
        cached_array(path, compute, shape=(3, None), dtype=np.float32)
    assert calls == [1, 1]  # the entry of 2 rows was not taken for one of 3
