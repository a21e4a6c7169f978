"""Saving is atomic and never writes through a symbolic link (issue 9, item 10)."""

import os
import stat

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_relrep import RelativeProjector, load_stitcher, save_stitcher
from sklearn_relrep._persistence import _store

CONFIG, WEIGHTS = "stitcher.json", "weights.safetensors"


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(50, 6))


@pytest.fixture(scope="module")
def old_model(X):
    return make_pipeline(
        StandardScaler(), RelativeProjector(n_anchors=5, random_state=0)
    ).fit(X)


@pytest.fixture(scope="module")
def new_model(X):
    return RelativeProjector("l1", n_anchors=7, random_state=1).fit(X)


@pytest.fixture
def existing(tmp_path, old_model):
    """A saved model in ``tmp_path / "store" / "model"``."""
    return save_stitcher(old_model, tmp_path / "store" / "model")


def _assert_is_the_old_model(folder, old_model, X):
    loaded = load_stitcher(folder)
    np.testing.assert_array_equal(loaded.transform(X), old_model.transform(X))


def test_saving_leaves_nothing_but_the_model(tmp_path, old_model):
    folder = save_stitcher(old_model, tmp_path / "model")
    assert folder == tmp_path / "model"
    assert os.listdir(tmp_path) == ["model"]
    assert sorted(os.listdir(folder)) == [CONFIG, WEIGHTS]


def test_never_overwrites_silently(existing, old_model):
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_stitcher(old_model, existing)


def test_overwrite_replaces_the_model_by_rename(existing, new_model, X):
    save_stitcher(new_model, existing, overwrite=True)
    np.testing.assert_array_equal(
        load_stitcher(existing).transform(X), new_model.transform(X)
    )
    assert os.listdir(existing.parent) == ["model"]


def test_a_symlinked_weights_file_is_never_written_through(
    existing, tmp_path, new_model, X
):
    victim = tmp_path / "victim.bin"
    victim.write_bytes(b"precious")
    (existing / WEIGHTS).unlink()
    (existing / WEIGHTS).symlink_to(victim)
    save_stitcher(new_model, existing, overwrite=True)
    assert victim.read_bytes() == b"precious"
    assert not (existing / WEIGHTS).is_symlink()
    np.testing.assert_array_equal(
        load_stitcher(existing).transform(X), new_model.transform(X)
    )


def test_a_symlinked_target_is_replaced_not_followed(
    existing, tmp_path, old_model, new_model, X
):
    link = tmp_path / "link"
    link.symlink_to(existing, target_is_directory=True)
    save_stitcher(new_model, link, overwrite=True)
    assert link.is_dir() and not link.is_symlink()
    _assert_is_the_old_model(existing, old_model, X)
    np.testing.assert_array_equal(
        load_stitcher(link).transform(X), new_model.transform(X)
    )


def test_refuses_to_replace_a_directory_with_other_files(tmp_path, old_model):
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="other than a saved model"):
        save_stitcher(old_model, folder, overwrite=True)
    assert os.listdir(folder) == ["notes.txt"]
    assert os.listdir(tmp_path) == ["home"]


def _fail_on_second_file(original):
    calls = []

    def write(file, content):
        calls.append(file)
        if len(calls) == 2:
            original(file, content[: len(content) // 2])
            raise OSError("disk full")
        original(file, content)

    return write


def _fail_on_moving_in(original):
    def rename(source, target):
        if str(source).endswith(".partial"):
            raise OSError("rename failed")
        original(source, target)

    return rename


@pytest.mark.parametrize("failure", ["unsaveable", "mid-write", "moving-in"])
def test_a_failed_save_keeps_the_previous_model(
    existing, old_model, X, monkeypatch, failure
):
    replacement = RelativeProjector(n_anchors=5, random_state=0).fit(X)
    if failure == "unsaveable":
        replacement.set_params(similarity=lambda x, a: x @ a.T)
        expected = TypeError
    elif failure == "mid-write":
        writer = _fail_on_second_file(_store._write_new_file)
        monkeypatch.setattr(_store, "_write_new_file", writer)
        expected = OSError
    else:
        monkeypatch.setattr(_store.os, "rename", _fail_on_moving_in(os.rename))
        expected = OSError
    with pytest.raises(expected):
        save_stitcher(replacement, existing, overwrite=True)
    monkeypatch.undo()
    assert os.listdir(existing.parent) == ["model"]
    _assert_is_the_old_model(existing, old_model, X)


def test_a_failed_first_save_leaves_nothing(tmp_path, X, monkeypatch):
    writer = _fail_on_second_file(_store._write_new_file)
    monkeypatch.setattr(_store, "_write_new_file", writer)
    model = RelativeProjector(n_anchors=5, random_state=0).fit(X)
    with pytest.raises(OSError, match="disk full"):
        save_stitcher(model, tmp_path / "model")
    assert os.listdir(tmp_path) == []


def test_files_get_the_usual_permissions(tmp_path, old_model):
    previous = os.umask(0o022)
    try:
        folder = save_stitcher(old_model, tmp_path / "model")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / WEIGHTS).stat().st_mode) == 0o644
