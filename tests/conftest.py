"""Every test leaves the process as it found it, and the user's cache alone.

Each pytest session gets a cache folder of its own through
``$SKLEARN_RELREP_CACHE`` (embeddings, trained encoders, compiled kernels): a
fresh temporary folder, removed at the end, so that a run starts from an empty
cache as a new user does and writes nothing into ``~/.cache/sklearn_relrep``.
Set ``SKLEARN_RELREP_TEST_CACHE`` to a folder to keep the session cache there
instead and reuse it in later runs (the real-data tests then skip encoding
BBC News again). A test that needs another cache sets the variable itself with
``monkeypatch``. The variable is set before any test imports the package, and
restored when the session ends.
"""

import builtins
import os
import shutil
import tempfile

import pytest
import torch

CACHE_VARIABLE = "SKLEARN_RELREP_CACHE"
TEST_CACHE_VARIABLE = "SKLEARN_RELREP_TEST_CACHE"
_previous_cache = pytest.StashKey[tuple]()


def pytest_configure(config):
    persistent = os.environ.get(TEST_CACHE_VARIABLE)
    if persistent:
        folder, temporary = os.path.abspath(os.path.expanduser(persistent)), None
        os.makedirs(folder, exist_ok=True)
    else:
        folder = temporary = tempfile.mkdtemp(prefix="sklearn_relrep_test_cache_")
    config.stash[_previous_cache] = (os.environ.get(CACHE_VARIABLE), temporary)
    os.environ[CACHE_VARIABLE] = folder


def pytest_unconfigure(config):
    if _previous_cache not in config.stash:
        return
    previous, temporary = config.stash[_previous_cache]
    if previous is None:
        os.environ.pop(CACHE_VARIABLE, None)
    else:
        os.environ[CACHE_VARIABLE] = previous
    if temporary is not None:
        shutil.rmtree(temporary, ignore_errors=True)


def pytest_report_header(config):
    return f"sklearn_relrep cache for this session: {os.environ.get(CACHE_VARIABLE)}"


@pytest.fixture(autouse=True)
def _global_state_is_left_as_found():
    print_function = builtins.print
    working_directory = os.getcwd()
    torch_threads = torch.get_num_threads()
    cache = os.environ.get(CACHE_VARIABLE)
    yield
    assert builtins.print is print_function, "builtins.print was replaced"
    assert os.getcwd() == working_directory, "the working directory changed"
    assert torch.get_num_threads() == torch_threads, "torch's thread count changed"
    assert os.environ.get(CACHE_VARIABLE) == cache, f"${CACHE_VARIABLE} changed"
