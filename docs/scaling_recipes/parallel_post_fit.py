"""The dask-ml ParallelPostFit trap, and what to do instead."""

import dask.array as da
import numpy as np
from dask_ml.wrappers import ParallelPostFit
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector

X, y = load_digits(return_X_y=True)
X_lazy = da.from_array(X, chunks=(600, 64))

# The trap: ParallelPostFit.transform maps each block but declares the *input's*
# chunks, (n, 64), while every block comes back 200 wide. Nothing fails until a
# slice such as wrapped_Z[:, 100:] computes to shape (1797, 0). transform_meta=
# only sets the dtype, not the width, so it cannot fix this.
wrapped = ParallelPostFit(RelativeProjector(n_anchors=200, random_state=0)).fit(X)
wrapped_Z = wrapped.transform(X_lazy)  # declared (1797, 64): wrong

# Fix 1: no wrapper. The transformers are dask-aware and declare their output.
projector = RelativeProjector(n_anchors=200, random_state=0).fit(X_lazy)
Z = projector.transform(X_lazy)  # declared (1797, 200): right
assert Z[:, 100:].compute().shape == (1797, 100)

# Fix 2: keep ParallelPostFit for what it does right: predict and predict_proba
# of a whole pipeline, whatever its last step (here a scikit-learn classifier).
model = ParallelPostFit(
    make_pipeline(
        RelativeProjector(n_anchors=200, random_state=0),
        LogisticRegression(max_iter=2000),
    )
).fit(X, y)
labels = model.predict(X_lazy)  # lazy, shape (1797,)
probabilities = model.predict_proba(X_lazy)  # lazy, shape (1797, 10)
assert np.array_equal(labels.compute(), model.predict(X))
