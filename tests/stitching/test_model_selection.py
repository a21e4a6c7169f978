"""Model selection by zero-shot stitched score."""

import pickle

import numpy as np
import pytest
from scipy.linalg import block_diag
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector, make_stitched_scorer, zero_shot_stitch

GRID = {"relativeprojector__similarity": ["cosine", "euclidean", "l1"]}


@pytest.fixture(scope="module")
def spaces():
    """Digits in space A, and in a space B that only euclidean (of the grid) sees
    through: B turns pairs of coordinates by 45 degrees and moves the data, which
    changes cosines (a lot) and l1 distances (less).
    """
    X, y = load_digits(return_X_y=True)
    X, y = X[:600] / 16.0, y[:600]
    half = np.sqrt(0.5)
    rotation = block_diag(*[np.array([[half, -half], [half, half]])] * 32)
    X_b = X @ rotation + np.random.RandomState(0).normal(scale=3.0, size=64)
    return X, X_b, y


def _pipeline(**params):
    return make_pipeline(
        RelativeProjector(n_anchors=60, random_state=0, **params),
        LogisticRegression(max_iter=1000),
    )


def test_scorer_maps_fold_rows_and_anchor_rows_to_the_other_space(spaces):
    X_a, X_b, y = spaces
    train, valid = np.arange(100, 600), np.arange(100)
    model = _pipeline(similarity="cosine").fit(X_a[train], y[train])
    # inside a fold, anchor_indices_ count the fold's training rows
    anchors_b = X_b[train[model[0].anchor_indices_]]
    expected = zero_shot_stitch(model, anchors_b, route="reanchor").score(
        X_b[valid], y[valid]
    )
    scorer = make_stitched_scorer(X_a, X_b)
    assert scorer(model, X_a[valid], y[valid]) == pytest.approx(expected)
    # not the in-domain score
    assert expected < model.score(X_a[valid], y[valid]) - 0.1
    f1 = make_stitched_scorer(X_a, X_b, scoring="f1_macro")
    assert f1(model, X_a[valid], y[valid]) != pytest.approx(expected)


def test_grid_search_picks_the_configuration_that_stitches(spaces):
    X_a, X_b, y = spaces
    search = GridSearchCV(
        _pipeline(),
        GRID,
        scoring={
            "in_domain": "accuracy",
            "stitched": make_stitched_scorer(X_a, X_b),
        },
        refit="stitched",
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(X_a, y)
    results = search.cv_results_
    assert search.best_params_ == {"relativeprojector__similarity": "euclidean"}
    stitched = dict(
        zip(
            GRID["relativeprojector__similarity"],
            results["mean_test_stitched"],
            strict=True,
        )
    )
    in_domain = dict(
        zip(
            GRID["relativeprojector__similarity"],
            results["mean_test_in_domain"],
            strict=True,
        )
    )
    # euclidean stitches exactly as it works in-domain; the others lose
    assert stitched["euclidean"] == pytest.approx(in_domain["euclidean"])
    assert stitched["cosine"] < 0.5 < in_domain["cosine"]
    assert stitched["l1"] < stitched["euclidean"] - 0.01


def test_scorer_works_across_processes(spaces):
    X_a, X_b, y = spaces
    scorer = make_stitched_scorer(X_a, X_b)
    serial = cross_validate(
        _pipeline(similarity="cosine"), X_a, y, scoring=scorer, cv=2
    )
    parallel = cross_validate(
        _pipeline(similarity="cosine"), X_a, y, scoring=scorer, cv=2, n_jobs=2
    )
    np.testing.assert_array_equal(serial["test_score"], parallel["test_score"])
    assert pickle.loads(pickle.dumps(scorer))._row_index is None


def test_scorer_accepts_explicit_anchors_taken_from_x(spaces):
    X_a, X_b, y = spaces
    rows = np.arange(0, 600, 10)
    model = make_pipeline(
        RelativeProjector("cosine", anchors=X_a[rows]),
        LogisticRegression(max_iter=1000),
    ).fit(X_a, y)
    expected = zero_shot_stitch(model, X_b[rows], route="reanchor").score(X_b, y)
    assert make_stitched_scorer(X_a, X_b)(model, X_a, y) == pytest.approx(expected)


def test_scorer_errors(spaces):
    X_a, X_b, y = spaces
    with pytest.raises(ValueError, match="600 rows but X_target has 10"):
        make_stitched_scorer(X_a, X_b[:10])
    model = _pipeline().fit(X_a + 1.0, y)
    with pytest.raises(ValueError, match="60 of the 60 rows of the anchors_"):
        make_stitched_scorer(X_a, X_b)(model, X_a, y)
    model = _pipeline().fit(X_a, y)
    with pytest.raises(ValueError, match="rows of X are not rows of X_source"):
        make_stitched_scorer(X_a, X_b)(model, X_a[:5] + 1.0, y[:5])
    duplicated = np.vstack([X_a, X_a[:1]])
    other = np.vstack([X_b, X_b[1:2]])
    scorer = make_stitched_scorer(duplicated, other)
    with pytest.raises(ValueError, match="not parallel"):
        scorer(model, X_a[:1], y[:1])
    with pytest.raises(ValueError, match="needs pipelines whose first step is a rel"):
        scorer(make_pipeline(LogisticRegression()).fit(X_a, y), X_a, y)
