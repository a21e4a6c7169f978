"""Torch tensors in and out of the transformers (issue 11, item 3)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import torch

from sklearn_relrep import InvariantProductSpace, RelativeProjector

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
