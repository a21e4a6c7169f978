"""The attention blender's internal targets, checked outside the report
(benchmarks/attention_targets.py)."""

import runpy
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "attention_targets.py"
attention_targets = runpy.run_path(str(SCRIPT))["attention_targets"]
main = runpy.run_path(str(SCRIPT))["main"]


def _records(scores: dict[str, list[list[float]]]) -> pd.DataFrame:
    """Records of two ordered pairs; ``scores[method][pair]`` lists seed scores."""
    rows = []
    for method, pairs in scores.items():
        for pair, values in zip(("a→b", "b→a"), pairs, strict=True):
            train, test = pair.split("→")
            for seed, value in enumerate(values):
                rows.append(
                    dict(method=method, train=train, test=test, pair=pair, seed=seed)
                    | {"accuracy": value, "mse": value}
                )
    return pd.DataFrame(rows)


def test_attention_targets_say_met_and_not_met():
    close = _records(
        {
            "cosine": [[0.90, 0.92], [0.80, 0.82]],
            "product/concat": [[0.88, 0.90], [0.80, 0.84]],
            "product/attention": [[0.90, 0.915], [0.80, 0.815]],
        }
    )
    text = attention_targets(close)
    assert text.count("NOT met") == 0 and text.count(": met") == 3
    behind = close.assign(
        accuracy=np.where(
            close["method"] == "product/attention",
            close["accuracy"] - 0.02,
            close["accuracy"],
        )
    )
    assert attention_targets(behind).count("NOT met") == 2
    mse = _records(
        {"l1": [[0.10, 0.10], [0.10, 0.10]], "product/attention": [[0.13] * 2] * 2}
    )
    assert "1.300x" in attention_targets(mse, "mse")
    assert "does NOT meet" in attention_targets(mse, "mse")


def test_the_verdict_agrees_with_the_ratio_it_prints():
    mse = _records(
        {"l1": [[0.1, 0.1]] * 2, "product/attention": [[0.1200004, 0.1200004]] * 2}
    )
    text = attention_targets(mse, "mse")
    assert "1.200x" in text and "it meets" in text


def test_the_script_reads_the_runners_records(tmp_path, capsys):
    records = _records(
        {"cosine": [[0.9, 0.9]] * 2, "product/attention": [[0.8, 0.8]] * 2}
    ).assign(route="reanchor", n_anchors=300)
    other = records.assign(route="translate", accuracy=1.0)
    path = tmp_path / "text_stitching_records.csv"
    pd.concat([records, other]).to_csv(path, index=False)
    main([str(path)])
    assert "mean 0.800 against cosine 0.900: NOT met" in capsys.readouterr().out
