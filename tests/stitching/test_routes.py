"""Stitching routes on synthetic spaces related by a known map (issue 17).

Each test builds space B from space A by a map whose right route is known:
an orthogonal map (every route is exact), a general affine map (only the
translation undoes it) and a per-sample rescaling after a rotation, which is
not linear (only cosine re-anchoring is invariant to it).
"""

import numpy as np
import pytest
from scipy.stats import ortho_group
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline

from sklearn_relrep import (
    LinearAligner,
    ProcrustesAligner,
    RelativeProjector,
    StitchedEnsemble,
    StitchingClassifier,
    StitchingRegressor,
    finetune,
    make_stitched_scorer,
    select_route,
    stitching_matrix,
    zero_shot_stitch,
)

N_FEATURES = 8


@pytest.fixture(scope="module")
def space_a():
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=1.5, size=(5, N_FEATURES))
    y = np.repeat(np.arange(5), 120)
    X = centers[y] + rng.normal(size=(len(y), N_FEATURES))
    return X, y


def _classifier(X, y, n_anchors=60):
    return make_pipeline(
        RelativeProjector("cosine", n_anchors=n_anchors, random_state=0),
        LogisticRegression(max_iter=2000),
    ).fit(X, y)


def _affine(X):
    rng = np.random.RandomState(1)
    matrix = rng.normal(size=(N_FEATURES, N_FEATURES)) * rng.uniform(
        0.1, 3.0, size=N_FEATURES
    )
    return X @ matrix + 5.0


def _rescaled_rotation(X):
    scales = np.random.RandomState(2).uniform(0.1, 5.0, size=(len(X), 1))
    return scales * (X @ ortho_group.rvs(N_FEATURES, random_state=3))


def _agreement(model, stitched, X_a, X_b):
    return np.mean(model.predict(X_a) == stitched.predict(X_b))


def test_translation_undoes_an_affine_map_that_breaks_reanchoring(space_a):
    X, y = space_a
    model = _classifier(X, y)
    X_b = _affine(X)
    anchors_b = X_b[model[0].anchor_indices_]
    translated = zero_shot_stitch(model, anchors_b, route="translate")
    reanchored = zero_shot_stitch(model, anchors_b, route="reanchor")
    assert isinstance(translated, Pipeline)
    assert isinstance(translated.named_steps["translate"], LinearAligner)
    assert _agreement(model, translated, X, X_b) > 0.99
    assert _agreement(model, reanchored, X, X_b) < 0.9
    assert select_route(model, anchors_b).route == "translate"
    auto = zero_shot_stitch(model, anchors_b)
    assert "translate" in auto.named_steps


def test_reanchoring_survives_a_per_sample_rescaling_and_auto_picks_it(space_a):
    X, y = space_a
    model = _classifier(X, y)
    X_b = _rescaled_rotation(X)
    anchors_b = X_b[model[0].anchor_indices_]
    reanchored = zero_shot_stitch(model, anchors_b, route="reanchor")
    translated = zero_shot_stitch(model, anchors_b, route="translate")
    assert _agreement(model, reanchored, X, X_b) == 1.0
    assert _agreement(model, translated, X, X_b) < 0.99
    selection = select_route(model, anchors_b)
    assert selection.route == "reanchor"
    assert selection.scores["reanchor"] > selection.scores["translate"]
    auto = zero_shot_stitch(model, anchors_b)
    assert "translate" not in auto.named_steps


def test_an_orthogonal_map_is_exact_by_every_route_and_ties_go_to_reanchoring(
    space_a,
):
    X, y = space_a
    model = _classifier(X, y)
    X_b = X @ ortho_group.rvs(N_FEATURES, random_state=4)
    anchors_b = X_b[model[0].anchor_indices_]
    for route in ("reanchor", "translate", "ensemble"):
        stitched = zero_shot_stitch(model, anchors_b, route=route)
        assert _agreement(model, stitched, X, X_b) > 0.99, route
    assert select_route(model, anchors_b).route == "reanchor"


def test_an_absolute_pipeline_stitches_by_translation_with_its_anchors(space_a):
    X, y = space_a
    model = make_pipeline(LogisticRegression(max_iter=2000)).fit(X, y)
    X_b = _affine(X)
    rows = np.random.RandomState(5).choice(len(X), 40, replace=False)
    for route in ("auto", "translate"):
        stitched = zero_shot_stitch(model, X_b[rows], route=route, anchors_A=X[rows])
        assert _agreement(model, stitched, X, X_b) > 0.99
    with pytest.raises(ValueError, match="anchors_A"):
        zero_shot_stitch(model, X_b[rows], route="translate")
    with pytest.raises(ValueError, match="relative transformer"):
        zero_shot_stitch(model, X_b[rows], route="reanchor", anchors_A=X[rows])


def test_the_ensemble_averages_the_two_routes_probabilities(space_a):
    X, y = space_a
    model = _classifier(X, y)
    X_b = _affine(X)
    anchors_b = X_b[model[0].anchor_indices_]
    ensemble = zero_shot_stitch(model, anchors_b, route="ensemble")
    assert isinstance(ensemble, StitchedEnsemble)
    expected = (
        zero_shot_stitch(model, anchors_b, route="reanchor").predict_proba(X_b)
        + zero_shot_stitch(model, anchors_b, route="translate").predict_proba(X_b)
    ) / 2
    np.testing.assert_allclose(ensemble.predict_proba(X_b), expected)
    np.testing.assert_array_equal(
        ensemble.predict(X_b), model.classes_[expected.argmax(1)]
    )


def test_routes_leave_the_source_pipeline_unchanged(space_a):
    X, y = space_a
    model = _classifier(X, y)
    before = model.predict_proba(X)
    anchors = model[0].anchors_.copy()
    for route in ("auto", "reanchor", "translate", "ensemble"):
        zero_shot_stitch(model, _affine(X)[model[0].anchor_indices_], route=route)
    np.testing.assert_array_equal(model.predict_proba(X), before)
    np.testing.assert_array_equal(model[0].anchors_, anchors)
    assert len(model.steps) == 2


def test_regressors_take_every_route_and_auto_scores_by_squared_error(space_a):
    X, _ = space_a
    targets = np.column_stack([np.sin(X[:, 0]), X[:, 1] * X[:, 2]])
    model = make_pipeline(
        RelativeProjector("cosine", n_anchors=60, random_state=0), Ridge(alpha=1e-3)
    ).fit(X, targets)
    X_b = _affine(X)
    anchors_b = X_b[model[0].anchor_indices_]
    translated = zero_shot_stitch(model, anchors_b, route="translate")
    np.testing.assert_allclose(translated.predict(X_b), model.predict(X), atol=1e-6)
    ensemble = zero_shot_stitch(model, anchors_b, route="ensemble")
    reanchored = zero_shot_stitch(model, anchors_b, route="reanchor")
    np.testing.assert_allclose(
        ensemble.predict(X_b),
        (translated.predict(X_b) + reanchored.predict(X_b)) / 2,
    )
    selection = select_route(
        model, anchors_b, anchor_targets=targets[model[0].anchor_indices_]
    )
    assert selection.criterion == "anchor targets"
    assert selection.route == "translate"
    assert selection.scores["translate"] > selection.scores["reanchor"]


def test_stitching_regressor_is_translated_into_its_decoder(space_a):
    X, _ = space_a
    targets = X[:, :3] ** 2
    model = make_pipeline(
        RelativeProjector("cosine", n_anchors=40, random_state=0),
        StitchingRegressor(max_epochs=5, random_state=0, device="cpu"),
    ).fit(X, targets)
    X_b = _affine(X)
    stitched = zero_shot_stitch(model, X_b[model[0].anchor_indices_], route="translate")
    np.testing.assert_allclose(stitched.predict(X_b), model.predict(X), atol=1e-4)


def test_auto_scores_against_anchor_labels_when_given(space_a):
    X, y = space_a
    model = _classifier(X, y)
    anchors_b = _affine(X)[model[0].anchor_indices_]
    labelled = select_route(
        model, anchors_b, anchor_targets=y[model[0].anchor_indices_]
    )
    unlabelled = select_route(model, anchors_b)
    assert labelled.criterion == "anchor targets"
    assert unlabelled.criterion == "source predictions"
    assert set(labelled.scores) == {"reanchor", "translate", "ensemble"}
    flipped = select_route(
        model, anchors_b, anchor_targets=(y[model[0].anchor_indices_] + 1) % 5
    )
    assert flipped.scores["translate"] < 0.1


def test_the_aligner_of_the_translation_is_the_users_choice(space_a):
    X, y = space_a
    model = _classifier(X, y)
    X_b = X @ ortho_group.rvs(N_FEATURES, random_state=6)
    aligner = ProcrustesAligner()
    stitched = zero_shot_stitch(
        model, X_b[model[0].anchor_indices_], route="translate", aligner=aligner
    )
    assert isinstance(stitched.named_steps["translate"], ProcrustesAligner)
    assert not hasattr(aligner, "coef_")  # the given aligner is cloned, not fitted
    assert _agreement(model, stitched, X, X_b) > 0.99


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"route": "teleport"}, "route must be one of"),
        ({"route": "auto", "cv": 1}, "cv must be an int"),
        ({"route": "auto", "anchor_targets": np.zeros(3)}, "anchor_targets has 3"),
        ({"route": "auto", "anchor_targets": np.full(60, 7)}, "never saw"),
        ({"route": "translate", "anchors_A": np.zeros((59, 8))}, "anchors has 60"),
    ],
)
def test_bad_route_options_are_clear_errors(space_a, kwargs, message):
    X, y = space_a
    model = _classifier(X, y)
    with pytest.raises(ValueError, match=message):
        zero_shot_stitch(model, _affine(X)[model[0].anchor_indices_], **kwargs)


def test_auto_alpha_is_the_leave_one_out_choice_of_ridge_cv():
    from sklearn.linear_model import RidgeCV

    rng = np.random.RandomState(7)
    for n_anchors, width in ((30, 50), (200, 20)):
        A = rng.normal(size=(n_anchors, width))
        B = A @ rng.normal(size=(width, width)) + 3 * rng.normal(size=A.shape)
        aligner = LinearAligner(alpha="auto").fit(A, B)
        singular = np.linalg.svd(A - A.mean(0), compute_uv=False)
        grid = np.logspace(-6, 2, 33) * np.mean(singular**2)
        assert aligner.alpha_ == pytest.approx(RidgeCV(alphas=grid).fit(A, B).alpha_)
    assert LinearAligner(alpha=0.5).fit(A, B).alpha_ == 0.5
    # An exact map is best fitted by plain least squares, which RidgeCV cannot try.
    assert LinearAligner(alpha="auto").fit(A, A @ A.T[:, :5]).alpha_ == 0.0


def test_auto_alpha_keeps_few_anchors_from_overfitting():
    rng = np.random.RandomState(8)
    A = rng.normal(size=(570, 64))
    B = A @ rng.normal(size=(64, 64)) + 4 * rng.normal(size=A.shape)
    fit, held_out = slice(0, 70), slice(70, None)

    def error(alpha):
        aligner = LinearAligner(alpha=alpha).fit(A[fit], B[fit])
        return np.mean((aligner.transform(A[held_out]) - B[held_out]) ** 2)

    assert error("auto") < 0.8 * error(0.0)


def test_stitching_matrix_and_finetune_take_every_route(space_a):
    X, y = space_a
    spaces = {"a": X, "b": _affine(X)}
    rows = np.random.RandomState(9).choice(len(X), 60, replace=False)
    models = {
        name: make_pipeline(
            RelativeProjector("cosine", anchors=Z[rows]),
            StitchingClassifier(max_epochs=5, random_state=0, device="cpu"),
        ).fit(Z, y)
        for name, Z in spaces.items()
    }
    anchors = {name: Z[rows] for name, Z in spaces.items()}
    tables = {
        route: stitching_matrix(models, anchors, spaces, y, route=route)
        for route in ("reanchor", "translate", "ensemble", "auto")
    }
    cross = {
        route: table.query("train_space != test_space")["accuracy"].mean()
        for route, table in tables.items()
    }
    assert cross["translate"] > cross["reanchor"]
    for route in ("translate", "ensemble"):
        stitched = zero_shot_stitch(models["a"], anchors["b"], route=route)
        tuned = finetune(stitched, spaces["b"][:50], y[:50], train="head", max_epochs=1)
        assert type(tuned) is type(stitched)
        assert tuned.predict(spaces["b"]).shape == y.shape


def test_the_stitched_scorer_takes_a_route(space_a):
    X, y = space_a
    X_b = _affine(X)
    model = _classifier(X, y)
    for route in ("reanchor", "translate"):
        scorer = make_stitched_scorer(X, X_b, route=route)
        expected = zero_shot_stitch(
            model, X_b[model[0].anchor_indices_], route=route
        ).score(X_b, y)
        assert scorer(model, X, y) == pytest.approx(expected)
    with pytest.raises(ValueError, match="route must be one of"):
        make_stitched_scorer(X, X_b, route="nowhere")


def test_ensemble_members_must_agree_on_their_task_and_classes():
    X = np.random.RandomState(10).normal(size=(40, 3))
    y = np.arange(40) % 2
    with pytest.raises(ValueError, match="one task"):
        StitchedEnsemble([("c", LogisticRegression()), ("r", LinearRegression())]).fit(
            X, y
        )
    with pytest.raises(ValueError, match="weights"):
        StitchedEnsemble(
            [("a", LogisticRegression()), ("b", clone(LogisticRegression()))],
            weights=[1.0, -1.0],
        ).fit(X, y)


def test_auto_holds_out_one_anchor_at_a_time_when_there_are_fewer_than_cv(space_a):
    X, y = space_a
    model = _classifier(X, y, n_anchors=4)
    anchors_b = _affine(X)[model[0].anchor_indices_]
    selection = select_route(model, anchors_b, cv=5)
    assert selection.n_splits == 4
    with pytest.raises(ValueError, match="at least 2 anchors"):
        select_route(model, anchors_b[:1], anchors_A=model[0].anchors_[:1])


def test_a_pipeline_fitted_on_named_columns_is_translated_without_warnings(
    space_a, recwarn
):
    pd = pytest.importorskip("pandas")
    X, y = space_a
    A = pd.DataFrame(X, columns=[f"a{i}" for i in range(N_FEATURES)])
    B = pd.DataFrame(_affine(X), columns=[f"b{i}" for i in range(N_FEATURES)])
    model = _classifier(A, y)
    anchors_b = B.iloc[model[0].anchor_indices_]
    for route in ("translate", "ensemble", "auto"):
        zero_shot_stitch(model, anchors_b, route=route).predict(B)
    translated = zero_shot_stitch(model, anchors_b, route="translate")
    aligner = translated.named_steps["translate"]
    assert list(aligner.get_feature_names_out()) == list(A.columns)
    assert list(aligner.transform(B.iloc[:3]).columns) == list(A.columns)
    assert not [w for w in recwarn if "feature names" in str(w.message)]
