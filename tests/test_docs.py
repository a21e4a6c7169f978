"""The generated API reference covers every public name, and stays in step."""

import importlib
import importlib.util
import re
import sys
from pathlib import Path

import pytest

import sklearn_relrep

DOCS_DIR = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def apigen():
    spec = importlib.util.spec_from_file_location("_apigen", DOCS_DIR / "_apigen.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(apigen, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("api")
    messages = []
    result = apigen.generate(output_dir, log=messages.append)
    return result, output_dir, messages


def _public_modules_on_disk() -> list[str]:
    """Public module names from the file tree, independently of the generator."""
    root = Path(sklearn_relrep.__file__).parent
    names = [sklearn_relrep.__name__]
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts and not any(part.startswith("_") for part in parts):
            names.append(".".join((sklearn_relrep.__name__, *parts)))
    return sorted(names)


def _documented_names(output_dir: Path, module_name: str) -> set[str]:
    """Names that an autodoc directive documents under ``module_name``."""
    found = set()
    directive = re.compile(r"^\.\. (?:autoclass|autofunction|py:data):: (\w+)$", re.M)
    for page in output_dir.glob(f"{module_name}.*.rst"):
        text = page.read_text(encoding="utf-8")
        if f".. currentmodule:: {module_name}\n" in text:
            found.update(directive.findall(text))
    return found


def test_every_public_module_is_documented_or_skipped(generated):
    result, _, messages = generated
    documented = {entry.name for entry in result.public}
    for name in _public_modules_on_disk():
        assert name in documented or name in result.skipped, name
    for name in result.skipped:
        assert any(name in message for message in messages), name


def test_every_public_module_has_all(generated):
    result, _, _ = generated
    for entry in result.public:
        assert hasattr(entry.module, "__all__"), f"{entry.name} has no __all__"


def test_every_public_name_has_a_page_and_an_overview_entry(generated):
    result, output_dir, _ = generated
    overview = (output_dir / "overview.rst.inc").read_text(encoding="utf-8")
    for entry in result.public:
        module = importlib.import_module(entry.name)
        expected = set(module.__all__)
        assert expected, f"{entry.name}.__all__ is empty"
        assert _documented_names(output_dir, entry.name) >= expected, entry.name
        for name in expected:
            assert f"generated/{entry.name}.{name}\n" in overview, (entry.name, name)


def test_known_modules_are_public(generated):
    result, _, _ = generated
    documented = {entry.name for entry in result.public} | set(result.skipped)
    for name in ("metrics", "nn", "datasets", "encoders"):
        assert f"sklearn_relrep.{name}" in documented


def test_private_helpers_exclude_reexported_names(generated):
    result, _, _ = generated
    exported = {
        id(getattr(entry.module, name))
        for entry in result.public
        for name in entry.names
    }
    assert result.private, "the private helper modules should be documented"
    for entry in result.private:
        for name in entry.names:
            assert id(getattr(entry.module, name)) not in exported, name


def test_class_pages_hide_upstream_members(generated):
    _, output_dir, _ = generated
    page = (output_dir / "sklearn_relrep.RelativeProjector.rst").read_text()
    inherited = re.search(r":inherited-members: (.*)", page).group(1).split(", ")
    assert "BaseEstimator" in inherited
    assert "BaseRelativeSpace" not in inherited  # reanchor is documented


def test_stale_pages_are_removed(apigen, tmp_path):
    stale = tmp_path / "sklearn_relrep.RemovedName.rst"
    stale.write_text("old")
    apigen.generate(tmp_path, log=lambda message: None)
    assert not stale.exists()
    assert (tmp_path / "sklearn_relrep.RelativeProjector.rst").exists()


def test_module_with_missing_dependency_is_skipped(apigen, tmp_path, monkeypatch):
    real_import = importlib.import_module

    def import_module(name, *args):
        if name == "sklearn_relrep.nn":
            raise ModuleNotFoundError("No module named 'an_optional_dependency'")
        return real_import(name, *args)

    monkeypatch.setattr(apigen.importlib, "import_module", import_module)
    messages = []
    result = apigen.generate(tmp_path, log=messages.append)
    assert "sklearn_relrep.nn" in result.skipped
    assert "sklearn_relrep.nn" not in {entry.name for entry in result.public}
    assert any("sklearn_relrep.nn" in message for message in messages)
    assert not list(tmp_path.glob("sklearn_relrep.nn.*.rst"))
    assert "sklearn_relrep.nn" in (tmp_path / "overview.rst.inc").read_text()
