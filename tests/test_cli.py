"""The experiment runner's command line: fast help, early one-line errors, names."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sklearn_relrep.experiments import _cli, _settings, _suite

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "sklearn", "scipy", "pandas", "skorch", "matplotlib")


def _run_python(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout's package."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the runner starts any work."""

    def run_suite(*args, **kwargs):
        raise AssertionError("work started although an option was bad")

    monkeypatch.setattr(_suite, "run_suite", run_suite)


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Record what ``main`` hands to ``run_suite`` instead of running it."""
    calls = []

    def run_suite(experiments, **kwargs):
        calls.append(dict(kwargs, experiments=experiments))
        return tmp_path / "report.md", "summary"

    monkeypatch.setattr(_suite, "run_suite", run_suite)
    return calls


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["stitching", "--help"],
        ["all", "--size", "smoke", "--device", "bogus"],
        ["all", "--n-anchors", "0"],
        ["stitching", "--n-anchors", "2000"],
    ],
    ids=["help", "subcommand-help", "bad-device", "bad-anchors", "too-many-anchors"],
)
def test_help_and_parse_errors_import_neither_torch_nor_sklearn(argv):
    code = (
        "import json, sys\n"
        "from sklearn_relrep.experiments._cli import main\n"
        "try:\n"
        f"    main({argv!r}, prog='sklearn-relrep')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "print(json.dumps(heavy))\n"
    )
    result = _run_python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_module_invocation_names_itself_as_typed():
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_relrep", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m sklearn_relrep ")
    assert "python -m sklearn_relrep all --size quick" in " ".join(
        result.stdout.split()
    )


def test_console_script_names_itself_after_argv0(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["/venv/bin/sklearn-relrep", "--help"])
    with pytest.raises(SystemExit) as exit_info:
        _cli.main()
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.startswith("usage: sklearn-relrep ")


@pytest.mark.parametrize("experiment", [*_settings.EXPERIMENTS, "all"])
def test_each_experiment_help_describes_it_and_its_duration(experiment, capsys):
    with pytest.raises(SystemExit):
        _cli.main([experiment, "--help"], prog="sklearn-relrep")
    text = " ".join(capsys.readouterr().out.split())
    description, duration = (
        _cli.ALL_HELP if experiment == "all" else _settings.EXPERIMENT_HELP[experiment]
    )
    assert " ".join(description.split()) in text
    assert f"Expected duration: {' '.join(duration.split())}." in text
    assert ("--data" in text) == (experiment != "reconstruction")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["all", "--device", "bogus"], "argument --device: device 'bogus'"),
        (["all", "--device", "cuda:x"], "argument --device"),
        (["all", "--n-anchors", "0"], "argument --n-anchors: 0 is not positive"),
        (["all", "--n-anchors", "many"], "argument --n-anchors: 'many'"),
        (["all", "--seeds", "-1"], "argument --seeds: -1 is negative"),
        (["all", "--seeds", "1", "1"], "--seeds lists a seed twice"),
        (["all", "--seeds", "4294967296"], "--seeds must be at most 4294967295"),
        (["all", "--seeds", "0", str(10**30)], "--seeds must be at most 4294967295"),
        (["all", "--n-jobs", "0"], "argument --n-jobs: 0 is not a number of"),
        (["all", "--n-jobs", "100000"], "argument --n-jobs: 100000 is not a"),
        (["all", "--n-jobs", "-100000"], "argument --n-jobs: -100000 is not a"),
        (["all", "--n-jobs", "two"], "argument --n-jobs: 'two' is not an integer"),
        (["all", "--n-train", "0"], "argument --n-train: 0 is not positive"),
        (["all", "--n-test", "5"], "--n-test must be at least 20"),
        (["stitching", "--n-anchors", "2000"], "more than the 1699 training"),
        (
            ["stitching", "--data", "vision", "--n-train", "100", "--n-anchors", "101"],
            "more than the 100 training samples of the vision data",
        ),
        (
            ["finetune", "--n-train", "150", "--n-anchors", "50"],
            "labels up to 200 training samples",
        ),
        (["all", "--cache-dir", ""], "argument --cache-dir: an empty path"),
        (["quick"], "invalid choice: 'quick'"),
        (["all", "--size", "quick", "--size", "huge"], "invalid choice: 'huge'"),
    ],
)
def test_bad_option_is_a_one_line_error_before_any_work(argv, message, no_work, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _cli.main(argv, prog="sklearn-relrep")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert message in err.strip().splitlines()[-1]


def test_anchors_are_checked_against_the_data_actually_available(recorded):
    # BBC News has 1699 training articles however many are asked for.
    _cli.main(["stitching", "--n-train", "4000", "--n-anchors", "1699"], prog="p")
    assert recorded[0]["overrides"]["n_anchors"] == 1699
    _cli.main(["stitching", "--data", "vision", "--n-anchors", "3000"], prog="p")
    assert recorded[1]["overrides"]["n_anchors"] == 3000


def test_output_that_is_a_file_is_rejected(tmp_path, no_work, capsys):
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(SystemExit) as exit_info:
        _cli.main(["all", "--output", str(tmp_path / "taken")], prog="p")
    assert exit_info.value.code == 2
    assert "is a file" in capsys.readouterr().err


def _broken_link(path):
    path.symlink_to(path.parent / "missing")
    return path


@pytest.mark.parametrize(
    "option, make, message",
    [
        ("--cache-dir", lambda file: file, "--cache-dir {file} is a file"),
        (
            "--cache-dir",
            lambda file: file / "sub" / "cache",
            "--cache-dir {file}/sub/cache cannot be created: {file} is a file",
        ),
        (
            "--output",
            lambda file: file / "report",
            "--output {file}/report cannot be created: {file} is a file",
        ),
        ("--output", lambda file: file, "--output {file} is a file"),
        (
            "--output",
            lambda file: _broken_link(file.parent / "link") / "report",
            "is a broken symbolic link",
        ),
    ],
    ids=[
        "cache-is-file",
        "cache-under-file",
        "output-under-file",
        "output-is-file",
        "output-under-broken-link",
    ],
)
def test_unusable_folder_is_a_one_line_error_before_any_work(
    option, make, message, tmp_path, no_work, capsys
):
    file = tmp_path / "taken"
    file.write_text("a file")
    folder = make(file)
    with pytest.raises(SystemExit) as exit_info:
        _cli.main(["all", "--size", "smoke", option, str(folder)], prog="p")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last_line = err.strip().splitlines()[-1]
    assert message.format(file=file) in last_line
    assert f"give {option} a folder that you can write in" in last_line
    assert file.read_text() == "a file"


def test_unusable_default_cache_is_a_one_line_error_before_any_work(
    tmp_path, monkeypatch, no_work, capsys
):
    file = tmp_path / "taken"
    file.write_text("a file")
    monkeypatch.setenv("SKLEARN_RELREP_CACHE", str(file))
    with pytest.raises(SystemExit):
        _cli.main(["all", "--output", str(tmp_path / "out")], prog="p")
    assert f"$SKLEARN_RELREP_CACHE {file} is a file; set" in capsys.readouterr().err
    monkeypatch.delenv("SKLEARN_RELREP_CACHE")
    monkeypatch.setenv("HOME", str(file))
    with pytest.raises(SystemExit):
        _cli.main(["all", "--output", str(tmp_path / "out")], prog="p")
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"the default cache folder {file}/.cache/sklearn_relrep cannot" in last_line
    assert not (tmp_path / "out").exists()  # nothing was created


def test_cuda_is_rejected_before_any_work_where_it_is_missing(no_work, capsys):
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    device = f"cuda:{count}" if count else "cuda"
    with pytest.raises(SystemExit) as exit_info:
        _cli.main(["all", "--device", device], prog="p")
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"device '{device}' was asked for" in last_line


def test_valid_options_reach_the_suite(recorded, tmp_path, capsys):
    argv = [
        "all",
        "--size",
        "quick",
        "--seeds",
        "0",
        "3",
        "--device",
        "cpu",
        "--data",
        "text",
        "--output",
        str(tmp_path / "out"),
        "--no-progress",
    ]
    assert _cli.main(argv, prog="python -m sklearn_relrep") == 0
    (call,) = recorded
    assert call["experiments"] == list(_settings.EXPERIMENTS)
    assert call["size"] == "quick" and call["device"] == "cpu"
    assert call["overrides"] == {"seeds": [0, 3]}
    assert call["data"] == "text" and call["progress"] is False
    assert call["command"].startswith("python -m sklearn_relrep all --size quick")
    assert "summary" in capsys.readouterr().out


def test_reconstruction_takes_no_data_option(recorded, capsys):
    _cli.main(["reconstruction", "--size", "smoke"], prog="p")
    assert recorded[0]["experiments"] == ["reconstruction"]
    with pytest.raises(SystemExit):
        _cli.main(["reconstruction", "--data", "text"], prog="p")
    assert "unrecognized arguments: --data" in capsys.readouterr().err
