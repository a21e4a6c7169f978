"""The transformers inside scikit-learn's machinery: clone, pipelines, search, I/O."""

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklearn_relrep import InvariantProductSpace, RelativeProjector

digits = load_digits()
X, y = digits.data[:600], digits.target[:600]


def test_clone_gives_an_unfitted_equal_estimator():
    projector = RelativeProjector("l1", n_anchors=10, random_state=0).fit(X)
    cloned = clone(projector)
    assert cloned.get_params() == projector.get_params()
    assert not hasattr(cloned, "anchors_")


def test_pipeline_with_a_classifier_learns_digits():
    pipeline = Pipeline(
        [
            (
                "relative",
                RelativeProjector(
                    n_anchors=100, preprocessing="center", random_state=0
                ),
            ),
            ("classifier", LogisticRegression(max_iter=2000)),
        ]
    )
    pipeline.fit(X[:400], y[:400])
    absolute = LogisticRegression(max_iter=2000).fit(X[:400], y[:400])
    assert pipeline.score(X[400:], y[400:]) >= absolute.score(X[400:], y[400:]) - 0.05


def test_column_transformer_runs_one_projector_per_column_group():
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    columns = ColumnTransformer(
        [
            (
                "top",
                RelativeProjector(n_anchors=5, random_state=0),
                list(frame.columns[:32]),
            ),
            (
                "bottom",
                RelativeProjector("l1", n_anchors=4, random_state=0),
                list(frame.columns[32:]),
            ),
        ]
    )
    Z = columns.fit_transform(frame)
    assert Z.shape == (600, 9)
    names = columns.get_feature_names_out()
    assert names[0] == "top__cosine_a0" and names[-1] == "bottom__l1_a3"


@pytest.mark.parametrize(
    "grid",
    [
        {"relative__similarity": ["cosine", "euclidean", "l1", "linf"]},
        {
            "relative": [InvariantProductSpace(n_anchors=30, random_state=0)],
            "relative__similarities": [
                ("cosine",),
                ("cosine", "l1"),
                ("cosine", "euclidean", "l1", "linf"),
            ],
        },
    ],
    ids=["similarity", "similarities"],
)
def test_grid_search_over_similarities(grid):
    pipeline = Pipeline(
        [
            ("relative", RelativeProjector(n_anchors=30, random_state=0)),
            ("classifier", LogisticRegression(max_iter=2000)),
        ]
    )
    search = GridSearchCV(pipeline, grid, cv=3).fit(X, y)
    n_candidates = len(next(v for k, v in grid.items() if k != "relative"))
    assert len(search.cv_results_["params"]) == n_candidates
    assert search.best_score_ > 0.6


def test_set_output_pandas_names_columns():
    projector = RelativeProjector("linf", n_anchors=3, random_state=0).set_output(
        transform="pandas"
    )
    frame = projector.fit_transform(X)
    assert list(frame.columns) == ["linf_a0", "linf_a1", "linf_a2"]


@pytest.mark.parametrize(
    "estimator",
    [
        RelativeProjector("l1", n_anchors=12, preprocessing="standard", random_state=0),
        InvariantProductSpace(n_anchors=12, output_scaling="layer", random_state=0),
    ],
    ids=["projector", "product"],
)
def test_joblib_round_trip_gives_identical_output(tmp_path, estimator):
    estimator.fit(X)
    joblib.dump(estimator, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(restored.transform(X), estimator.transform(X))


def test_skops_round_trip_with_numpy_only_state(tmp_path):
    sio = pytest.importorskip("skops.io")
    estimator = InvariantProductSpace(
        n_anchors=12, preprocessing="center", random_state=0
    ).fit(X)
    sio.dump(estimator, tmp_path / "model.skops")
    untrusted = sio.get_untrusted_types(file=tmp_path / "model.skops")
    assert untrusted == ["sklearn_relrep.relative._transformers.InvariantProductSpace"]
    restored = sio.load(tmp_path / "model.skops", trusted=untrusted)
    np.testing.assert_array_equal(restored.transform(X), estimator.transform(X))
