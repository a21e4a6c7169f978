"""Saving is atomic, never writes through a symbolic link (issue 9, item 10) and
replaces only a model that verifies (issue 19, item 4)."""

import os
import stat

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_relrep import RelativeProjector, load_stitcher, save_stitcher
from sklearn_relrep._persistence import _directory
from sklearn_relrep._persistence._directory import current_folder

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


def _flatten(folder):
    """Turn a saved model into the flat layout of earlier versions."""
    version = current_folder(folder)
    for name in (CONFIG, WEIGHTS):
        os.rename(version / name, folder / name)
    os.rmdir(version)
    os.unlink(folder / "CURRENT")


def test_saving_leaves_nothing_but_the_model(tmp_path, old_model):
    folder = save_stitcher(old_model, tmp_path / "model")
    assert folder == tmp_path / "model"
    assert os.listdir(tmp_path) == ["model"]
    version = current_folder(folder)
    assert sorted(os.listdir(folder)) == ["CURRENT", version.name]
    assert sorted(os.listdir(version)) == [CONFIG, WEIGHTS]


def test_never_overwrites_silently(existing, old_model):
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_stitcher(old_model, existing)


def test_overwrite_replaces_the_model_and_removes_the_old_version(
    existing, new_model, X
):
    old_version = current_folder(existing)
    save_stitcher(new_model, existing, overwrite=True)
    np.testing.assert_array_equal(
        load_stitcher(existing).transform(X), new_model.transform(X)
    )
    assert os.listdir(existing.parent) == ["model"]
    new_version = current_folder(existing)
    assert new_version != old_version
    assert sorted(os.listdir(existing)) == ["CURRENT", new_version.name]


@pytest.mark.parametrize("layout", ["current", "flat"])
def test_a_symlinked_weights_file_is_never_written_through(
    existing, tmp_path, new_model, X, layout
):
    if layout == "flat":
        _flatten(existing)
    weights = current_folder(existing) / WEIGHTS
    victim = tmp_path / "victim.bin"
    victim.write_bytes(weights.read_bytes())
    precious = victim.read_bytes()
    weights.unlink()
    weights.symlink_to(victim)
    save_stitcher(new_model, existing, overwrite=True)
    assert victim.read_bytes() == precious
    assert not os.path.lexists(weights)
    assert not (current_folder(existing) / WEIGHTS).is_symlink()
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
    with pytest.raises(FileExistsError, match=r"holds \['notes.txt'\], which"):
        save_stitcher(old_model, folder, overwrite=True)
    assert os.listdir(folder) == ["notes.txt"]
    assert os.listdir(tmp_path) == ["home"]


def test_overwrite_refuses_a_directory_holding_only_a_users_stitcher_json(
    tmp_path, old_model
):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / CONFIG).write_text('{"my": "settings"}')
    with pytest.raises(FileExistsError, match="stitcher.json'].*weights.safetensors"):
        save_stitcher(old_model, folder, overwrite=True)
    assert os.listdir(folder) == [CONFIG]
    assert (folder / CONFIG).read_text() == '{"my": "settings"}'
    assert os.listdir(tmp_path) == ["mine"]


@pytest.mark.parametrize("layout", ["current", "flat"])
def test_overwrite_refuses_a_model_whose_digest_does_not_verify(
    existing, new_model, layout
):
    if layout == "flat":
        _flatten(existing)
    config = current_folder(existing) / CONFIG
    edited = config.read_text().replace('"n_anchors": 5', '"n_anchors": 6')
    assert edited != config.read_text()
    config.write_text(edited)
    with pytest.raises(FileExistsError, match="not a model that verifies.*checksum"):
        save_stitcher(new_model, existing, overwrite=True)
    assert config.read_text() == edited


def test_overwrite_refuses_a_user_file_or_a_link_to_one(tmp_path, old_model):
    mine = tmp_path / "stitcher.json"
    mine.write_text("{}")
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nothing")
    with pytest.raises(FileExistsError, match="it is a file, not a directory"):
        save_stitcher(old_model, mine, overwrite=True)
    with pytest.raises(FileExistsError, match="it is a symbolic link, not a dir"):
        save_stitcher(old_model, link, overwrite=True)
    assert mine.read_text() == "{}" and link.is_symlink()


def test_overwrite_of_a_signed_model_needs_its_key(tmp_path, old_model, new_model, X):
    folder = save_stitcher(old_model, tmp_path / "model", key=b"first key")
    for key in (None, b"other key"):
        with pytest.raises(FileExistsError, match="key|HMAC signature"):
            save_stitcher(new_model, folder, overwrite=True, key=key)
    save_stitcher(new_model, folder, overwrite=True, key=b"first key")
    loaded = load_stitcher(folder, key=b"first key")
    np.testing.assert_array_equal(loaded.transform(X), new_model.transform(X))


def test_a_flat_model_of_earlier_versions_loads_and_is_replaced(
    existing, old_model, new_model, X
):
    _flatten(existing)
    _assert_is_the_old_model(existing, old_model, X)
    save_stitcher(new_model, existing, overwrite=True)
    np.testing.assert_array_equal(
        load_stitcher(existing).transform(X), new_model.transform(X)
    )
    assert sorted(os.listdir(existing)) == ["CURRENT", current_folder(existing).name]


def test_a_reader_whose_version_is_removed_reads_the_new_one(
    existing, new_model, X, monkeypatch
):
    read_file = _directory._read_file
    old_version, replaced = current_folder(existing), []

    def read_after_a_replacement(folder, name, limit):
        if not replaced:
            replaced.append(folder)
            save_stitcher(new_model, existing, overwrite=True)
        return read_file(folder, name, limit)

    monkeypatch.setattr(_directory, "_read_file", read_after_a_replacement)
    loaded = load_stitcher(existing)
    assert replaced == [old_version] and not old_version.exists()
    np.testing.assert_array_equal(loaded.transform(X), new_model.transform(X))


def _fail_on_second_file(original):
    calls = []

    def write(file, content):
        calls.append(file)
        if len(calls) == 2:
            original(file, content[: len(content) // 2])
            raise OSError("disk full")
        original(file, content)

    return write


def _fail_on_pointing(original):
    def replace(source, target):
        if str(target).endswith("CURRENT"):
            raise OSError("replace failed")
        original(source, target)

    return replace


def _fail_on_moving_in(original):
    def rename(source, target):
        if str(source).endswith(".partial"):
            raise OSError("rename failed")
        original(source, target)

    return rename


@pytest.mark.parametrize("layout", ["current", "flat"])
@pytest.mark.parametrize(
    "failure", ["unsaveable", "mid-write", "moving-in", "pointing"]
)
def test_a_failed_save_keeps_the_previous_model(
    existing, old_model, X, monkeypatch, failure, layout
):
    if layout == "flat":
        _flatten(existing)
    before = sorted(os.listdir(existing))
    replacement = RelativeProjector(n_anchors=5, random_state=0).fit(X)
    if failure == "unsaveable":
        replacement.set_params(similarity=lambda x, a: x @ a.T)
        expected = TypeError
    elif failure == "mid-write":
        writer = _fail_on_second_file(_directory._write_new_file)
        monkeypatch.setattr(_directory, "_write_new_file", writer)
        expected = OSError
    elif failure == "moving-in":
        monkeypatch.setattr(_directory.os, "rename", _fail_on_moving_in(os.rename))
        expected = OSError
    else:
        monkeypatch.setattr(_directory.os, "replace", _fail_on_pointing(os.replace))
        expected = OSError
    with pytest.raises(expected):
        save_stitcher(replacement, existing, overwrite=True)
    monkeypatch.undo()
    assert os.listdir(existing.parent) == ["model"]
    assert sorted(os.listdir(existing)) == before
    _assert_is_the_old_model(existing, old_model, X)


def test_a_failed_first_save_leaves_nothing(tmp_path, X, monkeypatch):
    writer = _fail_on_second_file(_directory._write_new_file)
    monkeypatch.setattr(_directory, "_write_new_file", writer)
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
    version = current_folder(folder)
    for directory in (folder, version):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755
    for file in (folder / "CURRENT", version / CONFIG, version / WEIGHTS):
        assert stat.S_IMODE(file.stat().st_mode) == 0o644
