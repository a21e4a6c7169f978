"""The runner's stitching routes, anchor sweep and route report (issue 17)."""

import numpy as np
import pytest

from sklearn_relrep.experiments._domains import Domain, Space
from sklearn_relrep.experiments._methods import Method
from sklearn_relrep.experiments._report import Report
from sklearn_relrep.experiments._routes_section import (
    auto_table,
    main_records,
    route_section,
)
from sklearn_relrep.experiments._stitching_experiment import run_stitching

METHODS = [
    Method("absolute", None),
    Method("cosine", ("cosine",)),
    Method("product/weighted", ("cosine", "euclidean", "l1", "linf"), "weighted"),
]


@pytest.fixture(scope="module")
def affine_domain():
    """Three separable classes; space b is an affine image of space a, so the
    absolute baseline stitches by translation and not as it is."""
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=3.0, size=(3, 5))
    y = rng.randint(0, 3, 300)
    X = centers[y] + rng.normal(size=(300, 5))
    matrix = rng.normal(size=(5, 5))
    domain = Domain("synthetic", y[:240], y[240:])
    for name, Z in (("a", X), ("b", X @ matrix + 4.0)):
        domain.add(Space(name, Z[:240], Z[240:]))
    return domain


@pytest.fixture(scope="module")
def records(affine_domain):
    return run_stitching(
        affine_domain,
        METHODS,
        seeds=[0, 1],
        n_anchors=20,
        device="cpu",
        head={"max_epochs": 15, "lr": 1e-2},
        progress=False,
        with_routes=True,
        anchor_sweep=(10, 20),
        swept=("absolute", "product/weighted"),
    )


def test_each_method_is_scored_by_its_routes_from_one_fitted_model(records):
    routes = records.groupby("method")["route"].unique().map(set).to_dict()
    assert routes["absolute"] == {"none", "translate", "translate (Procrustes)"}
    assert routes["cosine"] == {"reanchor"}
    assert routes["product/weighted"] == {
        "reanchor",
        "translate",
        "ensemble",
        "auto",
        "auto (anchor labels)",
    }
    # the diagonal once per fitted model, under the method's own route
    diagonal = records[records["train"] == records["test"]]
    assert set(diagonal["route"]) == {"none", "reanchor"}
    assert (
        len(diagonal)
        == diagonal[["method", "train", "seed", "n_anchors"]].drop_duplicates().shape[0]
    )
    # the absolute head is fitted once per seed and source, and translated with
    # every count of the sweep; the swept product is refitted per count
    assert sorted(records.loc[records["method"] == "cosine", "n_anchors"].unique()) == [
        20
    ]
    for method in ("absolute", "product/weighted"):
        counts = records.loc[records["method"] == method, "n_anchors"].unique()
        assert sorted(counts) == [10, 20]


def test_translation_stitches_an_affine_map_that_the_raw_head_cannot_read(records):
    at_20 = records[(records["n_anchors"] == 20) & (records["method"] == "absolute")]
    own = at_20[at_20["train"] == at_20["test"]]["accuracy"].mean()
    cross = at_20[at_20["train"] != at_20["test"]].groupby("route")["accuracy"].mean()
    # an exact affine map, recovered from 20 anchors: as good as on its own space
    assert cross["translate"] == pytest.approx(own, abs=0.02)
    assert cross["translate"] > cross["none"] + 0.2


def test_auto_records_its_pick_and_scores_as_the_route_it_picked(records):
    auto = records[records["route"].isin(["auto", "auto (anchor labels)"])]
    cross = auto[auto["train"] != auto["test"]]
    assert set(cross["auto_pick"]) <= {"reanchor", "translate", "ensemble"}
    keys = ["method", "train", "test", "seed", "n_anchors"]
    fixed = records.set_index([*keys, "route"])["accuracy"]
    for row in cross.itertuples():
        picked = fixed[
            (row.method, row.train, row.test, row.seed, row.n_anchors, row.auto_pick)
        ]
        assert row.accuracy == picked


def test_main_tables_keep_each_methods_own_route_at_the_runs_anchor_count(records):
    main = main_records(records, 20)
    assert set(main["route"]) == {"none", "reanchor"}
    assert set(main["n_anchors"]) == {20}
    assert len(main) == 2 * 3 * 4  # seeds x methods x (train, test) pairs


def test_route_section_writes_the_route_table_sweep_and_auto_picks(records, tmp_path):
    pytest.importorskip("matplotlib", reason="the sweep's figure needs [data]")
    report = Report(tmp_path)
    summary = route_section(
        records,
        metric="accuracy",
        n_anchors=20,
        report=report,
        key="synthetic",
        title="synthetic",
        sweep=True,
    )
    markdown = report.write("t").read_text()
    assert "### Stitching routes: synthetic" in markdown
    assert "| absolute · translate |" in markdown
    assert "| product/weighted · auto (anchor labels) |" in markdown
    assert "Best route on the mean over pairs with 20 anchors:" in summary
    assert (tmp_path / "synthetic_anchor_sweep.png").stat().st_size > 1000
    picks = auto_table(records, "accuracy")
    assert list(picks.index.get_level_values("anchors").unique()) == [10, 20]
    # the best route is the best fixed route of the pair and count
    cross = records[(records["train"] == "a") & (records["test"] == "b")]
    at_10 = cross[(cross["n_anchors"] == 10) & ~cross["route"].str.startswith("auto")]
    means = at_10.groupby(at_10["method"] + " · " + at_10["route"])["accuracy"].mean()
    assert (
        picks.loc[("a→b", 10), "best route"]
        == means.drop("absolute · none", errors="ignore").idxmax()
    )
