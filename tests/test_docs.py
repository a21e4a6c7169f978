"""The documentation's machinery: API pages, gallery, inventories, results summary.

Nothing here builds the site or runs an example (CI builds the docs after the
tests); it checks the generators and the configuration they feed.
"""

import ast
import importlib
import importlib.util
import inspect
import re
import sys
import zlib
from pathlib import Path

import pytest

import sklearn_relrep

ROOT = Path(__file__).resolve().parents[1]
DOCS_DIR = ROOT / "docs"
EXAMPLES_DIR = ROOT / "examples"


def _load_docs_module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def apigen():
    return _load_docs_module("_apigen", DOCS_DIR / "_apigen.py")


@pytest.fixture(scope="module")
def gallery():
    return _load_docs_module("_gallery", DOCS_DIR / "_gallery.py")


@pytest.fixture(scope="module")
def results_summary():
    return _load_docs_module("_results_summary", DOCS_DIR / "_results_summary.py")


@pytest.fixture(scope="module")
def make_inventories():
    return _load_docs_module(
        "make_inventories", DOCS_DIR / "_inventories" / "make_inventories.py"
    )


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


# -- API pages: mini-galleries, aliases, private helpers -------------------------


def test_public_pages_end_with_a_minigallery_private_pages_do_not(generated):
    result, output_dir, _ = generated
    for entries, expected in ((result.public, True), (result.private, False)):
        for entry in entries:
            for name in entry.names:
                page = (output_dir / f"{entry.name}.{name}.rst").read_text()
                has_gallery = f".. minigallery:: {entry.name}.{name}\n" in page
                assert has_gallery is expected, (entry.name, name)


def test_private_helpers_document_only_what_the_package_defines(generated):
    result, _, _ = generated
    for entry in result.private:
        for name in entry.names:
            obj = getattr(entry.module, name)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                assert obj.__module__.startswith("sklearn_relrep"), (entry.name, name)
    compat = [entry for entry in result.private if entry.name.endswith("._compat")]
    assert all("validate_data" not in entry.names for entry in compat)


def test_public_aliases_name_every_public_class(apigen):
    aliases = apigen.public_aliases()
    assert aliases["RelativeProjector"] == "sklearn_relrep.RelativeProjector"
    assert aliases["MNISTEncoder"] == "sklearn_relrep.encoders.MNISTEncoder"
    assert "linear_cka" not in aliases  # functions are not types
    for target in aliases.values():
        module_name, _, name = target.rpartition(".")
        assert inspect.isclass(getattr(importlib.import_module(module_name), name))


def test_shape_dimension_names_are_the_dimensions_of_type_specs(apigen):
    names = apigen.shape_dimension_names()
    assert {"n_samples", "n_anchors", "n_features"} <= names
    # Types in the same specs must stay linkable.
    assert not names & {"ndarray", "int", "float", "str", "dtype", "shape"}


# -- the example gallery -----------------------------------------------------------


def _example_paths() -> list[Path]:
    return sorted(EXAMPLES_DIR.glob("*.py"))


@pytest.mark.parametrize("path", _example_paths(), ids=lambda path: path.name)
def test_every_example_compiles(path):
    compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_gallery_lists_every_gallery_script_and_nothing_else(gallery):
    scripts = gallery.gallery_scripts()
    assert scripts, "the gallery has no scripts"
    assert set(scripts) == set(gallery.EXAMPLE_REQUIREMENTS)
    on_disk = {path.name for path in _example_paths()}
    assert set(gallery.EXAMPLE_REQUIREMENTS) <= on_disk


def _gallery_scripts() -> list[str]:
    module = _load_docs_module("_gallery", DOCS_DIR / "_gallery.py")
    return module.gallery_scripts()


@pytest.mark.parametrize("name", _gallery_scripts())
def test_gallery_scripts_open_with_a_titled_docstring(name):
    tree = ast.parse((EXAMPLES_DIR / name).read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree, clean=False)
    assert docstring, f"{name} has no module docstring"
    lines = docstring.strip("\n").splitlines()
    assert len(lines) >= 2 and re.fullmatch(r"=+", lines[1]), name
    assert len(lines[1]) >= len(lines[0]), f"{name}: title underline too short"


@pytest.mark.parametrize("path", _example_paths(), ids=lambda path: path.name)
def test_examples_import_only_public_names(path):
    """Every example must still run when copied out of the repository."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path.name}: relative import"
            if node.module.split(".")[0] == "sklearn_relrep":
                parts = node.module.split(".") + [alias.name for alias in node.names]
                private = [part for part in parts if part.startswith("_")]
                assert not private, f"{path.name} imports {node.module}: {private}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [node.module]
                if isinstance(node, ast.ImportFrom)
                else [alias.name for alias in node.names]
            )
            assert not any(name and name.startswith("_") for name in names), path.name


def test_plan_runs_what_can_run_and_says_what_is_missing(gallery):
    requirements = {"a.py": ("sklearn_relrep_no_such_distribution",), "b.py": ()}
    runnable, skipped = gallery.plan(["a.py", "b.py"], requirements)
    assert runnable == ["b.py"]
    assert skipped == {"a.py": ["sklearn_relrep_no_such_distribution"]}
    with pytest.raises(RuntimeError, match="sklearn_relrep_no_such_distribution"):
        gallery.plan(["a.py", "b.py"], requirements, require_data=True)
    with pytest.raises(RuntimeError, match="examples/c.py is not listed"):
        gallery.plan(["c.py"], requirements)


def test_require_data_is_read_from_the_environment(gallery, monkeypatch):
    monkeypatch.delenv(gallery.REQUIRE_DATA_ENV, raising=False)
    assert not gallery.require_data_from_env()
    monkeypatch.setenv(gallery.REQUIRE_DATA_ENV, "0")
    assert not gallery.require_data_from_env()
    monkeypatch.setenv(gallery.REQUIRE_DATA_ENV, "1")
    assert gallery.require_data_from_env()


def test_gallery_patterns_select_the_right_files(gallery):
    run = re.compile(gallery.filename_pattern(["text_stitching.py"]))
    assert run.search("/repo/docs/../examples/text_stitching.py")
    assert not run.search("/repo/docs/../examples/vision_stitching.py")
    assert not run.search("/repo/docs/../examples/my_text_stitching.py")
    assert not re.compile(gallery.filename_pattern([])).search("/e/text_stitching.py")
    ignore = re.compile(gallery.ignore_pattern())
    for name in (*gallery.NOT_IN_GALLERY, "_helpers.py", "__init__.py"):
        assert ignore.search(f"/repo/examples/{name}"), name
    for name in gallery.EXAMPLE_REQUIREMENTS:
        assert not ignore.search(f"/repo/examples/{name}"), name


def test_gallery_order_follows_the_listing(gallery):
    order = gallery.ExampleOrder("")
    names = list(gallery.EXAMPLE_REQUIREMENTS)
    shuffled = sorted(names + ["zzz_unlisted.py"], reverse=True)
    assert sorted(shuffled, key=order) == [*names, "zzz_unlisted.py"]


# -- intersphinx inventories ---------------------------------------------------------


def _read_inventory(path: Path) -> dict[tuple[str, str], str]:
    """(name, domain:role) -> full URI, read the way Sphinx reads it."""
    raw = path.read_bytes()
    header_end = 0
    for _ in range(4):
        header_end = raw.index(b"\n", header_end) + 1
    assert raw.startswith(b"# Sphinx inventory version 2\n")
    entries = {}
    line_re = re.compile(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S*)\s+(.*)")
    for line in zlib.decompress(raw[header_end:]).decode("utf-8").splitlines():
        name, role, _, uri, _ = line_re.match(line).groups()
        entries[name, role] = uri[:-1] + name if uri.endswith("$") else uri
    return entries


@pytest.fixture(scope="module")
def inventories(make_inventories):
    return {
        key: _read_inventory(DOCS_DIR / "_inventories" / f"{key}.inv")
        for key in make_inventories.BASE_URLS
    }


def test_every_project_of_the_mapping_has_a_committed_inventory(make_inventories):
    assert set(make_inventories.BASE_URLS) == set(make_inventories.PROJECTS)
    for key in make_inventories.BASE_URLS:
        assert (DOCS_DIR / "_inventories" / f"{key}.inv").is_file(), key


@pytest.mark.parametrize(
    ("key", "name", "role", "uri"),
    [
        (
            "sklearn",
            "sklearn.pipeline.Pipeline",
            "py:class",
            "modules/generated/sklearn.pipeline.Pipeline.html#sklearn.pipeline.Pipeline",
        ),
        (
            "sklearn",
            "sklearn.pipeline.Pipeline.fit",
            "py:method",
            "modules/generated/sklearn.pipeline.Pipeline.html"
            "#sklearn.pipeline.Pipeline.fit",
        ),
        ("sklearn", "array-like", "std:term", "glossary.html#term-array-like"),
        ("sklearn", "random_state", "std:term", "glossary.html#term-random_state"),
        (
            "numpy",
            "numpy.ndarray",
            "py:class",
            "reference/generated/numpy.ndarray.html#numpy.ndarray",
        ),
        (
            "numpy",
            "numpy.float32",
            "py:class",
            "reference/arrays.scalars.html#numpy.float32",
        ),
        (
            "torch",
            "torch.nn.Module",
            "py:class",
            "generated/torch.nn.Module.html#torch.nn.Module",
        ),
        ("torch", "torch.Tensor", "py:class", "tensors.html#torch.Tensor"),
        ("torch", "torch.device", "py:class", "tensor_attributes.html#torch.device"),
        ("skorch", "skorch.net.NeuralNet", "py:class", "net.html#skorch.net.NeuralNet"),
        ("skorch", "skorch.NeuralNet", "py:class", "net.html#skorch.net.NeuralNet"),
        (
            "skorch",
            "skorch.callbacks.EarlyStopping",
            "py:class",
            "callbacks.html#skorch.callbacks.EarlyStopping",
        ),
        ("python", "int", "py:class", "library/functions.html#int"),
        ("python", "str", "py:class", "library/stdtypes.html#str"),
        ("python", "os.PathLike", "py:class", "library/os.html#os.PathLike"),
        (
            "pandas",
            "pandas.DataFrame",
            "py:class",
            "reference/api/pandas.DataFrame.html#pandas.DataFrame",
        ),
    ],
)
def test_inventories_follow_each_projects_url_scheme(inventories, key, name, role, uri):
    assert inventories[key].get((name, role)) == uri


_QUALIFIED = re.compile(r"\b(?:numpy|sklearn|torch|skorch|pandas|scipy)(?:\.\w+)+")


def test_every_external_name_in_the_docstrings_is_in_an_inventory(
    apigen, generated, inventories
):
    """A fully qualified external name in a docstring must resolve to a link."""
    result, _, _ = generated
    known = {name for inventory in inventories.values() for name, _ in inventory}
    found = set()
    for docstring in apigen.documented_docstrings([*result.public, *result.private]):
        for line in docstring.splitlines():
            if not line.lstrip().startswith((">>>", "...")):
                found |= set(_QUALIFIED.findall(line))
    assert {"numpy.ndarray", "torch.Tensor", "sklearn.pipeline.Pipeline"} <= found
    assert not found - known, sorted(found - known)


# -- the measured numbers of "Choosing similarities" ---------------------------------

_REPORT = DOCS_DIR / "results" / "report.md"
_SUMMARY_LINE = re.compile(
    r"best single similarity (\S+) = ([\d.]+); best product aggregation (\S+) = "
    r"([\d.]+)"
)


def test_results_summary_agrees_with_the_reports_own_summary_lines(results_summary):
    text = _REPORT.read_text(encoding="utf-8")
    claims = _SUMMARY_LINE.findall(text)
    assert claims, "the report has no summary lines to check against"
    domains = results_summary.stitching_tables(results_summary.parse_markdown(text))
    assert len(domains) == len(claims)
    # Both appear in report order; the runner's means use unrounded cells.
    for domain, (single, single_value, product, product_value) in zip(
        domains, claims, strict=True
    ):
        best_single = domain.best(domain.singles())
        best_product = domain.best(domain.products())
        assert best_single[0] == single
        assert best_product[0] == product
        # Half a unit in the last digit of the claim and of the table cells.
        cell_digits = 4 if domain.lower_is_better else 3
        for (_, value), claim in (
            (best_single, single_value),
            (best_product, product_value),
        ):
            claim_digits = len(claim.partition(".")[2])
            tolerance = 0.5 * 10.0**-claim_digits + 0.5 * 10.0**-cell_digits
            assert value == pytest.approx(float(claim), abs=tolerance)


def test_results_summary_renders_every_domain_and_the_kernel_costs(results_summary):
    text = results_summary.render(
        _REPORT.read_text(encoding="utf-8"),
        results_summary.BENCHMARKS.read_text(encoding="utf-8"),
    )
    for heading in ("text: BBC News", "vision: MNIST classifiers", "Reconstruction"):
        assert heading in text
    assert "Compute cost" in text and "``linf``" in text
    for domain in ("text: BBC News", "vision: MNIST classifiers"):
        assert f"Routes: {domain}" in text
    assert "Routes: vision: MNIST autoencoders" in text


def test_results_summary_ranks_by_the_right_direction(results_summary):
    report = """
## Zero-shot stitching
### toy
| method | a→a | a→b | b→a |
|---|---|---|---|
| absolute | 0.900 ± 0.010 | 0.100 ± 0.010 | n/a |
| cosine | 0.900 ± 0.010 | 0.700 ± 0.010 | 0.800 ± 0.010 |
| linf | 0.900 ± 0.010 | 0.800 ± 0.010 | 0.600 ± 0.010 |
| product/concat | 0.900 ± 0.010 | 0.760 ± 0.010 | 0.760 ± 0.010 |

## Reconstruction stitching
Cells: test MSE (lower is better).

| method | a→b |
|---|---|
| cosine | 0.0500 ± 0.0010 |
| linf | 0.0300 ± 0.0010 |
"""
    accuracy, mse = results_summary.stitching_tables(
        results_summary.parse_markdown(report)
    )
    assert accuracy.cross_pairs() == [1, 2]
    assert accuracy.best(accuracy.singles()) == ("cosine", pytest.approx(0.75))
    assert accuracy.worst_cross("linf") == (0.6, "b→a")
    assert accuracy.mean_cross("absolute") == pytest.approx(0.1)  # n/a skipped
    assert mse.lower_is_better
    assert mse.best(mse.singles()) == ("linf", pytest.approx(0.03))
    rendered = results_summary.render(report)
    assert "1.0 points better than the best single similarity (cosine)" in rendered


def test_results_summary_refuses_a_report_it_cannot_read(results_summary):
    with pytest.raises(ValueError, match="found no stitching table"):
        results_summary.stitching_tables(results_summary.parse_markdown("# nothing"))
    with pytest.raises(ValueError, match="cannot read the score"):
        results_summary.parse_score("0.9 +- 0.1")


def test_docstrings_are_written_out_not_built():
    """Readers and tools see every docstring as written: no ``__doc__ = ...``."""
    root = Path(sklearn_relrep.__file__).parent
    built = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__doc__"
                for target in node.targets
            ):
                built.append(f"{path.relative_to(root)}:{node.lineno}")
    assert built == []


def test_pages_cover_what_users_look_for():
    """Install, citing and FAQ pages hold the topics issue 13 lists."""
    install = (DOCS_DIR / "install.rst").read_text(encoding="utf-8")
    for heading in ("On a CPU", "On a GPU (CUDA)", "Optional extras"):
        assert f"\n{heading}\n" in install, heading
    citing = (DOCS_DIR / "citing.rst").read_text(encoding="utf-8")
    assert citing.count("@inproceedings{") == 2
    assert "Relative representations enable zero-shot" in citing
    assert "From Bricks to Bridges" in citing
    faq = (DOCS_DIR / "faq.rst").read_text(encoding="utf-8").lower()
    for topic in ("negative distances", "how many anchors", "another data set", "gpu"):
        assert topic in faq, topic
    conf = (DOCS_DIR / "conf.py").read_text(encoding="utf-8")
    assert 'html_theme = "pydata_sphinx_theme"' in conf
    changelog = (DOCS_DIR / "changelog.rst").read_text(encoding="utf-8")
    assert sklearn_relrep.__version__.removesuffix(".dev0") in changelog


def test_committed_report_and_its_figures_match():
    """docs/results holds exactly the figures its report shows."""
    results = DOCS_DIR / "results"
    report = (results / "report.md").read_text(encoding="utf-8")
    shown = set(re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", report))
    assert shown, "the report shows no figure"
    assert shown == {path.name for path in results.glob("*.png")}


def test_results_summary_copies_each_domains_routes_and_sweep(results_summary):
    report = """
## Zero-shot stitching
### toy
| method | a→a | a→b |
|---|---|---|
| cosine | 0.900 ± 0.010 | 0.700 ± 0.010 |

### Stitching routes: toy

Best route on the mean over pairs with 300 anchors: absolute · translate (0.95).

| accuracy, 300 anchors | a→b | mean over pairs | worst pair |
|---|---|---|---|
| absolute · translate | 0.950 ± 0.010 | 0.950 | 0.950 |
| product/weighted · auto | 0.900 ± 0.010 | 0.900 | 0.900 |

| accuracy (mean over pairs) by anchors | 30 | 300 |
|---|---|---|
| absolute · translate | 0.700 ± 0.010 | 0.950 ± 0.010 |
"""
    text = results_summary.render(report)
    assert "Routes: toy" in text
    assert "Best route on the mean over pairs with 300 anchors" in text
    assert "   * - ``product/weighted · auto``\n     - 0.900\n     - 0.900" in text
    assert "     - 30\n     - 300" in text
    broken = report.replace("mean over pairs |", "average |")
    with pytest.raises(ValueError, match="no 'mean over pairs' column"):
        results_summary.render(broken)
