"""Dask collections in and out, anchor-only fits, tokens, and the docs' recipes."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import sklearn_relrep
from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
)

da = pytest.importorskip("dask.array", exc_type=ImportError)
dask = pytest.importorskip("dask", exc_type=ImportError)
dd = pytest.importorskip("dask.dataframe", exc_type=ImportError)

RECIPES = Path(__file__).resolve().parents[1] / "docs" / "scaling_recipes"
PACKAGE = Path(sklearn_relrep.__file__).parent
FAST = {"max_epochs": 3, "hidden_sizes": (16,), "device": "cpu", "random_state": 0}


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "estimator",
    [
        RelativeProjector("l1", n_anchors=12, random_state=0),
        InvariantProductSpace(n_anchors=7, random_state=0),
    ],
    ids=["projector", "product"],
)
def test_lazy_transform_matches_numpy(iris, estimator, dtype):
    X = iris[0].astype(dtype)
    fitted = estimator.fit(X)
    lazy = fitted.transform(da.from_array(X, chunks=(40, 3)))  # 2 column chunks
    expected = fitted.transform(X)
    assert isinstance(lazy, da.Array)
    assert lazy.shape == expected.shape
    assert lazy.chunks == ((40, 40, 40, 30), (expected.shape[1],))
    assert lazy.dtype == expected.dtype == dtype
    assert type(lazy._meta) is np.ndarray and lazy._meta.dtype == dtype
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-5)
    # declared and computed shapes agree on every slice
    assert lazy[:, 5:].compute().shape == expected[:, 5:].shape


def test_zero_row_and_unknown_chunks(iris):
    X = iris[0]
    projector = RelativeProjector(n_anchors=10, random_state=0).fit(X)
    with_empty = da.from_array(X, chunks=((0, 50, 0, 100), (4,)))
    assert projector.transform(with_empty).chunks[0] == (0, 50, 0, 100)
    np.testing.assert_allclose(
        projector.transform(with_empty).compute(), projector.transform(X)
    )
    unknown = da.from_array(X, chunks=(50, 4))
    unknown = unknown[unknown[:, 0] > 5.0]  # row chunk sizes are now unknown
    out = projector.transform(unknown)
    assert np.isnan(out.shape[0])
    np.testing.assert_allclose(out.compute(), projector.transform(X[X[:, 0] > 5.0]))


def test_dask_dataframe_in_dataframe_out(iris):
    X = pd.DataFrame(iris[0], columns=["a", "b", "c", "d"])
    frame = dd.from_pandas(X, npartitions=3)
    frame = frame[frame.a > 5.0]  # an empty partition is possible
    space = InvariantProductSpace(n_anchors=5, random_state=0).fit(frame)
    assert list(space.feature_names_in_) == ["a", "b", "c", "d"]
    lazy = space.transform(frame)
    assert isinstance(lazy, dd.DataFrame)
    assert list(lazy.columns) == list(space.get_feature_names_out())
    result = lazy.compute()
    in_memory = X[X.a > 5.0]
    pd.testing.assert_index_equal(result.index, in_memory.index)
    np.testing.assert_allclose(result.to_numpy(), space.transform(in_memory))


def test_fit_on_dask_draws_the_same_anchors_as_numpy(iris):
    X, y = iris
    lazy_X = da.from_array(X, chunks=(25, 4))
    for selection, lazy_y in [("random", None), ("stratified", da.from_array(y))]:
        on_dask = RelativeProjector(
            n_anchors=9, anchor_selection=selection, random_state=3
        ).fit(lazy_X, lazy_y)
        in_memory = RelativeProjector(
            n_anchors=9, anchor_selection=selection, random_state=3
        ).fit(X, y)
        np.testing.assert_array_equal(
            on_dask.anchor_indices_, in_memory.anchor_indices_
        )
        np.testing.assert_array_equal(on_dask.anchors_, in_memory.anchors_)
        assert on_dask.anchors is None  # the parameter is left as it was
        assert not hasattr(on_dask, "feature_names_in_")


def test_fit_on_dask_never_sets_the_anchors_parameter(iris, monkeypatch):
    """The user's ``anchors`` stays None even while the anchor rows are fitted."""
    X, _ = iris
    projector = RelativeProjector(n_anchors=6, random_state=0)
    seen = []
    fit_statistics = type(projector)._fit_anchor_statistics

    def spy(self, anchors):
        seen.append(self.get_params()["anchors"])
        return fit_statistics(self, anchors)

    monkeypatch.setattr(type(projector), "_fit_anchor_statistics", spy)
    projector.fit(da.from_array(X, chunks=(50, 4)))
    assert len(seen) == 1 and seen[0] is None
    assert projector.anchors_.shape == (6, 4)


def _recording_array(X, rows_per_block, directory: Path):
    """A dask array whose blocks leave a marker file when they are computed."""

    def load(start):
        (directory / f"block{start}").touch()
        return X[start : start + rows_per_block]

    blocks = [
        da.from_delayed(
            dask.delayed(load)(start),
            shape=(min(rows_per_block, len(X) - start), X.shape[1]),
            dtype=X.dtype,
        )
        for start in range(0, len(X), rows_per_block)
    ]
    return da.concatenate(blocks)


def test_fit_computes_only_the_blocks_holding_anchors(tmp_path):
    X = np.random.RandomState(0).normal(size=(2000, 8))
    lazy = _recording_array(X, 100, tmp_path)
    projector = RelativeProjector(n_anchors=3, random_state=0).fit(lazy)
    loaded = {int(p.name[5:]) for p in tmp_path.iterdir()}
    holding_anchors = {int(i) // 100 * 100 for i in projector.anchor_indices_}
    assert loaded == holding_anchors  # 3 of 20 blocks
    np.testing.assert_array_equal(projector.anchors_, X[projector.anchor_indices_])


def test_fit_on_dask_with_explicit_anchors_reads_one_block(tmp_path):
    X = np.random.RandomState(0).normal(size=(500, 8))
    lazy = _recording_array(X, 100, tmp_path)
    projector = RelativeProjector(anchors=X[:5] + 1.0).fit(lazy)
    assert [p.name for p in tmp_path.iterdir()] == ["block0"]
    np.testing.assert_allclose(projector.transform(X), projector.transform(lazy))


@pytest.mark.parametrize("selection", ["farthest", "kmeans"])
def test_fit_on_dask_refuses_selections_that_need_every_row(iris, selection):
    lazy = da.from_array(iris[0], chunks=50)
    projector = RelativeProjector(n_anchors=5, anchor_selection=selection)
    with pytest.raises(ValueError, match="needs every row of X in memory"):
        projector.fit(lazy)


def test_bad_dask_input_is_rejected_before_any_work(iris):
    projector = RelativeProjector(n_anchors=5, random_state=0).fit(iris[0])
    with pytest.raises(TypeError, match="2-D dask array or a dask DataFrame"):
        projector.transform(da.zeros(10))
    with pytest.raises(TypeError, match="2-D dask array or a dask DataFrame"):
        projector.transform(dask.delayed(iris[0]))
    with pytest.raises(ValueError, match="X has 3 features"):
        projector.transform(da.zeros((10, 3)))


@pytest.fixture(scope="module")
def classifier(iris):
    X, y = iris
    return make_pipeline(
        InvariantProductSpace(n_anchors=8, random_state=0),
        StitchingClassifier(aggregation="attention", lr=1e-2, **FAST),
    ).fit(X, y)


def test_stitcher_predictions_are_lazy_and_exact(iris, classifier):
    X, y = iris
    lazy_X = da.from_array(X, chunks=(64, 4))
    labels = classifier.predict(lazy_X)
    assert isinstance(labels, da.Array) and labels.chunks == ((64, 64, 22),)
    np.testing.assert_array_equal(labels.compute(), classifier.predict(X))
    probabilities = classifier.predict_proba(lazy_X)
    assert probabilities.chunks == ((64, 64, 22), (3,))
    np.testing.assert_allclose(probabilities.compute(), classifier.predict_proba(X))
    for method in ("decision_function", "predict_log_proba"):
        lazy = getattr(classifier, method)(lazy_X)
        assert isinstance(lazy, da.Array) and lazy.shape == (150, 3)
        np.testing.assert_allclose(lazy.compute(), getattr(classifier, method)(X))
    weights = np.linspace(0.5, 1.5, len(y))
    score = classifier.score(lazy_X, da.from_array(y), sample_weight=weights)
    assert isinstance(score, float)
    assert score == pytest.approx(classifier.score(X, y, sample_weight=weights))
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=2)
    probabilities = classifier.predict_proba(frame)
    assert isinstance(probabilities, dd.DataFrame)
    assert list(probabilities.columns) == [0, 1, 2]  # classes_
    assert isinstance(classifier.predict(frame), dd.Series)


@pytest.mark.parametrize(
    "to_labels",
    [
        lambda names: names,  # numpy "<U": pandas 3 makes the template "str"
        lambda names: names.astype(object),
        lambda names: pd.Series(names),
        lambda names: pd.Series(names, dtype="string"),
        lambda names: pd.Categorical(names),
    ],
    ids=["unicode", "object", "pandas-str", "pandas-string", "categorical"],
)
def test_string_labels_predict_on_dask_dataframes_and_arrays(iris, to_labels):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = StitchingClassifier(**FAST).fit(X, to_labels(names))
    expected = model.predict(X)
    frame = dd.from_pandas(pd.DataFrame(X), npartitions=3)
    lazy = model.predict(frame)
    result = lazy.compute()
    assert result.dtype == lazy.dtype  # the declared template is the real dtype
    assert result.tolist() == expected.tolist()
    probabilities = model.predict_proba(frame).compute()
    assert list(probabilities.columns) == model.classes_.tolist()
    array = model.predict(da.from_array(X, chunks=60)).compute()
    assert array.tolist() == expected.tolist()


def test_pipeline_fit_on_dask_keeps_the_subspace_layout(iris):
    X, y = iris
    lazy_X = da.from_array(X, chunks=50)
    model = make_pipeline(
        InvariantProductSpace(n_anchors=6, random_state=0),
        StitchingClassifier(aggregation="attention", **FAST),
    ).fit(lazy_X, y)
    assert model[-1].subspace_widths_.tolist() == [6, 6, 6, 6]
    assert model[0].transform(lazy_X).layout == model[0].layout_
    assert not hasattr(
        RelativeProjector(n_anchors=3).fit(X).transform(lazy_X), "layout"
    )


def test_multi_output_regressor_on_dask(iris):
    X = iris[0]
    Y = X[:, :2] * 2.0
    model = make_pipeline(
        RelativeProjector("euclidean", n_anchors=20, random_state=0),
        StitchingRegressor(**FAST),
    ).fit(X, Y)
    lazy = model.predict(da.from_array(X, chunks=50))
    assert lazy.shape == (150, 2) and lazy.dtype == np.float64
    np.testing.assert_allclose(lazy.compute(), model.predict(X), rtol=1e-6)
    assert model.score(da.from_array(X, chunks=50), Y) == pytest.approx(
        model.score(X, Y)
    )


def test_tokens_hash_state_and_parameters_without_pickling(iris, classifier):
    X = iris[0]
    a = RelativeProjector(n_anchors=6, random_state=0)
    b = RelativeProjector(n_anchors=6, random_state=0)
    assert dask.base.tokenize(a) == dask.base.tokenize(b)
    a.fit(X)
    assert dask.base.tokenize(a) != dask.base.tokenize(b)
    b.fit(X)
    assert dask.base.tokenize(a) == dask.base.tokenize(b)
    b.fit(X + 1.0)  # same indices and parameters, other anchors
    assert dask.base.tokenize(a) != dask.base.tokenize(b)

    stitcher = classifier[-1]
    token = dask.base.tokenize(stitcher)
    assert dask.base.tokenize(stitcher) == token
    weight = next(stitcher.net_.module_.parameters())
    saved = weight.detach().clone()
    with torch.no_grad():
        weight.add_(1.0)
    try:
        assert dask.base.tokenize(stitcher) != token
    finally:
        with torch.no_grad():
            weight.copy_(saved)
    assert dask.base.tokenize(stitcher) == token
    # two equal lazy transforms get the same graph name; another state does not
    lazy = da.from_array(X, chunks=50)
    assert a.transform(lazy).name == a.transform(lazy).name
    assert a.transform(lazy).name != b.transform(lazy).name


def test_recipe_dask_arrays():
    namespace = runpy.run_path(str(RECIPES / "dask_arrays.py"))
    X, projector = namespace["X_digits"].astype(np.float32), namespace["projector"]
    np.testing.assert_allclose(
        namespace["column_means"], projector.transform(X).mean(0), rtol=1e-5
    )
    assert namespace["labels"].shape == (1797,)
    assert isinstance(namespace["accuracy"], float)
    assert namespace["probabilities"].shape == (1797, 10)


def test_recipe_parallel_post_fit_trap():
    pytest.importorskip("dask_ml", exc_type=ImportError)
    namespace = runpy.run_path(str(RECIPES / "parallel_post_fit.py"))
    # The trap the page warns about. If this starts failing, dask-ml fixed
    # ParallelPostFit.transform: update docs/scaling.rst.
    assert namespace["wrapped_Z"].shape == (1797, 64)
    assert namespace["wrapped_Z"][:, 100:].compute().shape == (1797, 0)
    assert namespace["Z"].shape == (1797, 200)
    assert namespace["probabilities"].shape == (1797, 10)


def test_recipe_dask_cluster_gridsearch_matches_serial():
    """The CI check: a 2-process LocalCluster gives the serial search's scores."""
    pytest.importorskip("distributed", exc_type=ImportError)
    namespace = runpy.run_path(str(RECIPES / "dask_cluster.py"), run_name="__main__")
    on_cluster = namespace["search"].cv_results_
    assert len(on_cluster["params"]) == 4
    serial = GridSearchCV(
        namespace["search"].estimator,
        namespace["search"].param_grid,
        cv=2,
        n_jobs=1,
    ).fit(namespace["X"], namespace["y"])
    np.testing.assert_array_equal(
        on_cluster["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        on_cluster["split0_test_score"], serial.cv_results_["split0_test_score"]
    )


def _run_python(*args: str, env=None) -> str:
    """Run ``python *args`` in a fresh process from the repository root."""
    completed = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PACKAGE.parent,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def test_tokens_follow_the_fitted_state_after_dask_ml_registers_its_own():
    """dask-ml tokenizes every scikit-learn estimator by its parameters alone."""
    pytest.importorskip("dask_ml", exc_type=ImportError)
    code = (
        "import dask.base, dask_ml.model_selection, numpy as np, torch;"
        "from sklearn_relrep import StitchingClassifier as S;"
        "X = np.random.RandomState(0).normal(size=(40, 4)); y = X[:, 0] > 0;"
        "a = S(max_epochs=1, device='cpu');"
        "before = dask.base.tokenize(a);"
        "a.fit(X, y); token = dask.base.tokenize(a); assert token != before;"
        "w = next(a.net_.module_.parameters());"
        "torch.no_grad()(lambda: w.add_(1.0))();"
        "assert dask.base.tokenize(a) != token"
    )
    _run_python("-c", code)


def _run_recipe_in_its_own_process(name: str) -> str:
    """Ray and Spark patch process-wide state (Ray replaces ``builtins.print``)."""
    return _run_python(str(RECIPES / name))


@pytest.mark.slow
def test_recipe_ray():
    pytest.importorskip("ray")
    out = _run_recipe_in_its_own_process("ray_joblib.py")
    assert "{'relativeprojector__similarity': " in out


@pytest.mark.slow
def test_recipe_spark():
    pytest.importorskip("pyspark")
    pytest.importorskip("joblibspark")
    out = _run_recipe_in_its_own_process("spark_joblib.py")
    assert "{'relativeprojector__similarity': " in out


def test_numba_cache_goes_to_the_cache_directory_not_the_package(tmp_path):
    """A fresh process compiles the l1/linf kernels into $SKLEARN_RELREP_CACHE."""
    pytest.importorskip("numba")
    before = set(PACKAGE.rglob("*.nbi"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(SKLEARN_RELREP_CACHE=str(tmp_path), SKLEARN_RELREP_DISABLE_NUMBA="")
    code = (
        "import numpy as np;"
        "from sklearn_relrep.relative._kernels import _numba_module as m;"
        "x = np.ones((4, 3), np.float32); out = np.empty((4, 4), np.float32);"
        "m().l1(x, x, out); assert (out == 0).all()"
    )
    _run_python("-c", code, env=env)
    written = list((tmp_path / "numba").rglob("*.nbi"))
    assert any("_kernels_numba" in p.name for p in written), written
    assert set(PACKAGE.rglob("*.nbi")) == before


def test_dask_arrays_do_not_need_dask_dataframe():
    """A dask-array-only install (no pandas or pyarrow) transforms lazily."""
    code = (
        "import sys; sys.modules['dask.dataframe'] = None\n"
        "import dask.array as da, numpy as np\n"
        "from sklearn_relrep import RelativeProjector\n"
        "X = np.random.RandomState(0).normal(size=(60, 4))\n"
        "projector = RelativeProjector(n_anchors=5, random_state=0).fit(X)\n"
        "lazy = projector.transform(da.from_array(X, chunks=20))\n"
        "assert isinstance(lazy, da.Array)\n"
        "np.testing.assert_allclose(lazy.compute(), projector.transform(X))\n"
    )
    _run_python("-c", code)


def test_warmup_compiles_into_numba_cache_dir_when_it_is_set(tmp_path):
    """``warmup()`` in a fresh process fills ``$NUMBA_CACHE_DIR``, not the package."""
    pytest.importorskip("numba")
    before = set(PACKAGE.rglob("*.nbi"))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba_here"))
    env.update(SKLEARN_RELREP_CACHE=str(tmp_path / "unused"))
    env.pop("SKLEARN_RELREP_DISABLE_NUMBA", None)
    code = (
        "from sklearn_relrep import warmup; timings = warmup(('float32',));"
        "assert sorted(timings) == ['l1-float32', 'linf-float32'], timings"
    )
    _run_python("-c", code, env=env)
    written = list((tmp_path / "numba_here").rglob("*.nbi"))
    assert any("_kernels_numba" in p.name for p in written), written
    assert not (tmp_path / "unused" / "numba").exists()
    assert set(PACKAGE.rglob("*.nbi")) == before


def test_the_package_never_imports_dask_unless_given_a_dask_collection():
    code = (
        "import sys, numpy as np\n"
        "from sklearn_relrep import InvariantProductSpace, StitchingClassifier\n"
        "X = np.random.RandomState(0).normal(size=(40, 4))\n"
        "Z = InvariantProductSpace(n_anchors=5, random_state=0).fit_transform(X)\n"
        "StitchingClassifier(max_epochs=1).fit(Z, X[:, 0] > 0).predict(Z)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'dask'], 'dask'\n"
    )
    _run_python("-c", code)
