"""Torch tensors in and out of every estimator and metric (issues 11 and 19)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import torch

from sklearn_relrep import (
    InvariantProductSpace,
    LinearAligner,
    ProcrustesAligner,
    RelativeProjector,
    StitchingClassifier,
    StitchingRegressor,
    invariance_report,
    metrics,
)

X = np.random.RandomState(0).normal(size=(40, 6)).astype(np.float32)


def test_tensor_that_requires_grad_is_detached_without_dispatch():
    projector = RelativeProjector("l1", n_anchors=5, random_state=0).fit(X)
    tensor = torch.from_numpy(X).requires_grad_(True)
    out = projector.transform(tensor)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, projector.transform(X))


def test_fit_on_a_tensor_keeps_numpy_state():
    space = InvariantProductSpace(n_anchors=5, random_state=0).fit(torch.from_numpy(X))
    assert isinstance(space.anchors_, np.ndarray)
    np.testing.assert_array_equal(
        space.anchors_,
        InvariantProductSpace(n_anchors=5, random_state=0).fit(X).anchors_,
    )


def test_tensor_in_tensor_out_with_array_api_dispatch():
    """Run in a fresh interpreter: scipy's array API mode is read at import."""
    script = textwrap.dedent(
        """
        import numpy as np, sklearn, torch
        from sklearn_relrep import InvariantProductSpace, RelativeProjector
        X = np.random.RandomState(0).normal(size=(40, 6)).astype(np.float32)
        for estimator in (RelativeProjector("euclidean", n_anchors=5, random_state=0),
                          InvariantProductSpace(n_anchors=5, random_state=0)):
            estimator.fit(X)
            expected = np.asarray(estimator.transform(X))
            with sklearn.config_context(array_api_dispatch=True):
                tensor = torch.from_numpy(X).requires_grad_(True)
                out = estimator.transform(tensor)
            assert isinstance(out, torch.Tensor), type(out)
            assert out.device == tensor.device and out.dtype == torch.float32
            assert not out.requires_grad
            np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)
        print("ok")
        """
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


# Half precision (issue 19, item 9) -----------------------------------------------

FAST = {"max_epochs": 2, "hidden_sizes": (8,), "device": "cpu", "random_state": 0}
Y = X @ np.random.RandomState(1).normal(size=(6, 5)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(int)


def _calls():
    """Every entry point where a tensor can come in, as ``name: f(X, Y)``."""
    projector = RelativeProjector(n_anchors=5, random_state=0)
    product = InvariantProductSpace(n_anchors=5, random_state=0)
    classifier = StitchingClassifier(**FAST)
    regressor = StitchingRegressor(**FAST)
    calls = {
        "RelativeProjector.fit": lambda A, B: projector.fit(A).anchors_,
        "RelativeProjector.transform": lambda A, B: projector.fit(X).transform(A),
        "InvariantProductSpace.fit": lambda A, B: product.fit(A).anchors_,
        "InvariantProductSpace.transform": lambda A, B: product.fit(X).transform(A),
        "StitchingClassifier.fit": lambda A, B: classifier.fit(A, LABELS).predict(X),
        "StitchingClassifier.partial_fit": lambda A, B: classifier.partial_fit(
            A, LABELS, classes=[0, 1]
        ).predict_proba(X),
        "StitchingClassifier.predict_proba": lambda A, B: classifier.fit(
            X, LABELS
        ).predict_proba(A),
        "StitchingRegressor.fit": lambda A, B: regressor.fit(A, Y).predict(X),
        "StitchingRegressor.predict": lambda A, B: regressor.fit(X, Y).predict(A),
        "invariance_report": lambda A, B: invariance_report(A, B, n_neighbors=3),
        "pairwise_space_similarity": lambda A, B: metrics.pairwise_space_similarity(
            {"a": A, "b": B}
        ),
    }
    for aligner in (LinearAligner(), ProcrustesAligner()):
        name = type(aligner).__name__
        calls[f"{name}.fit"] = lambda A, B, a=aligner: a.fit(A, B).coef_
        calls[f"{name}.transform"] = lambda A, B, a=aligner: a.fit(X, Y).transform(A)
    for name in metrics.__all__:
        if name != "pairwise_space_similarity":
            metric = getattr(metrics, name)
            width = Y.shape[1]
            calls[f"metrics.{name}"] = lambda A, B, m=metric, w=width: m(A[:, :w], B)
    return calls


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("call", sorted(_calls()))
def test_half_precision_tensors_are_upcast_to_float32(call, dtype):
    A, B = torch.from_numpy(X).to(dtype), torch.from_numpy(Y).to(dtype)
    out = _calls()[call](A, B)
    expected = _calls()[call](A.float().numpy(), B.float().numpy())
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(out, expected)
    else:
        assert np.asarray(out).dtype == np.asarray(expected).dtype
        np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))


# Under array_api_dispatch (issue 19, item 10) -------------------------------------


def _run_with_dispatch(script: str) -> None:
    """Run ``script`` in a fresh interpreter with scipy's array API mode on.

    scikit-learn refuses ``array_api_dispatch=True`` unless ``SCIPY_ARRAY_API``
    was set before scipy was imported, so it cannot run in this process.
    """
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok"


def test_stitchers_aligners_and_metrics_take_tensors_under_array_api_dispatch():
    _run_with_dispatch(
        """
        import numpy as np, sklearn, torch
        from sklearn.pipeline import make_pipeline
        from sklearn_relrep import (
            InvariantProductSpace, LinearAligner, ProcrustesAligner,
            RelativeProjector, StitchingClassifier, StitchingRegressor, metrics,
        )
        rng = np.random.RandomState(0)
        X = rng.normal(size=(60, 6)).astype(np.float32)
        y = (X[:, 0] > 0).astype(np.int64)
        T, Ty = torch.from_numpy(X), torch.from_numpy(y)
        FAST = dict(max_epochs=2, hidden_sizes=(8,), device="cpu", random_state=0)

        for first in (RelativeProjector(n_anchors=5, random_state=0),
                      InvariantProductSpace(n_anchors=5, random_state=0)):
            expected = make_pipeline(first, StitchingClassifier(**FAST)).fit(X, y)
            with sklearn.config_context(array_api_dispatch=True):
                model = make_pipeline(first, StitchingClassifier(**FAST)).fit(T, Ty)
                assert isinstance(model[0].transform(T), torch.Tensor)
                labels, proba = model.predict(T), model.predict_proba(T)
                score = model.score(T, Ty)
                model[-1].partial_fit(model[0].transform(T), Ty)
            # the layout of the product space reaches the stitcher
            widths = model[-1].subspace_widths_.tolist()
            assert widths == expected[-1].subspace_widths_.tolist(), widths
            np.testing.assert_array_equal(labels, expected.predict(X))
            np.testing.assert_allclose(proba, expected.predict_proba(X), rtol=1e-6)
            assert score == expected.score(X, y)

        with sklearn.config_context(array_api_dispatch=True):
            Z = RelativeProjector(n_anchors=5, random_state=0).fit(T).transform(T)
            regressor = StitchingRegressor(**FAST).fit(Z, T[:, :2])
            regressor.partial_fit(Z, T[:, :2])
            predicted = regressor.predict(Z)
            for aligner in (LinearAligner(), ProcrustesAligner()):
                mapped = aligner.fit(T, T.flip(1)).transform(T)
                assert mapped.shape == (60, 6), mapped.shape
            scores = {
                name: getattr(metrics, name)(Z, Z.flip(1))
                for name in metrics.__all__ if name != "pairwise_space_similarity"
            }
            matrix = metrics.pairwise_space_similarity({"a": Z, "b": Z})
            half = RelativeProjector(n_anchors=5, random_state=0).fit(X)
            out = half.transform(T.to(torch.bfloat16))
            assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        assert predicted.shape == (60, 2)
        Z = Z.numpy()
        for name, value in scores.items():
            assert value == getattr(metrics, name)(Z, Z[:, ::-1]), name
        assert matrix.shape == (2, 2)
        print("ok")
        """
    )
