"""
Scaling out with dask
=====================

The transformers and the stitchers accept dask arrays: ``fit`` reads only the
anchor rows, and ``transform`` and ``predict`` return lazy dask arrays that are
computed block by block, on the workers that hold the blocks. Model selection
parallelises through joblib, so the same search runs on threads, processes or a
dask cluster.

This page runs everything in one process (dask's threaded scheduler) so that it
stays light; :doc:`/scaling` shows the same on a ``LocalCluster``, with Ray and
Spark, and gives measured times and memory.

It needs dask (``pip install "sklearn_relrep[dask]"``).
"""

# %%
# A dask array, chunked in rows
# -----------------------------
# Embeddings too large for one process would come from ``da.from_zarr`` or
# ``da.from_npy_stack``. Here 20 000 synthetic 64-d rows (five classes) sit in
# 20 blocks of 1 000 rows. The array wraps a reader that records which rows it
# is asked for, to show what each step actually reads.
import dask.array as da
import numpy as np
from sklearn.datasets import make_classification

X_numpy, y = make_classification(
    n_samples=20_000,
    n_features=64,
    n_informative=16,
    n_classes=5,
    class_sep=2.0,
    random_state=0,
)
X_numpy = X_numpy.astype(np.float32)


class RecordingReader:
    """An array-like that remembers which row blocks were read from it."""

    def __init__(self, array, block_rows):
        self.array, self.block_rows = array, block_rows
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim
        self.blocks_read = set()

    def __getitem__(self, key):
        rows = np.arange(len(self.array))[key[0]]
        self.blocks_read.update((rows // self.block_rows).tolist())
        return self.array[key]


reader = RecordingReader(X_numpy, block_rows=1_000)
X = da.from_array(reader, chunks=(1_000, 64), asarray=True)
print(X)

# %%
# ``fit`` computes only the anchor rows
# -------------------------------------
# The anchor indices are drawn from the number of rows alone, so the same
# ``random_state`` draws the same anchors as on the numpy array; then only the
# blocks that hold an anchor are read.
from sklearn_relrep import RelativeProjector

projector = RelativeProjector("cosine", n_anchors=8, random_state=0).fit(X)
in_memory = RelativeProjector("cosine", n_anchors=8, random_state=0).fit(X_numpy)
print("anchor rows:", sorted(projector.anchor_indices_.tolist()))
print(f"blocks read by fit: {sorted(reader.blocks_read)} of {X.numblocks[0]}")
np.testing.assert_array_equal(projector.anchors_, in_memory.anchors_)

# %%
# ``transform`` is lazy
# ---------------------
# One task per row block; nothing is read until the result is computed (or
# reduced, as here, without ever gathering all rows in one place).
reader.blocks_read.clear()
Z = projector.transform(X)
print(Z)
print("dtype:", Z.dtype, "| row chunks:", Z.chunks[0][:3], "...")
print("blocks read so far:", len(reader.blocks_read))
column_means = Z.mean(axis=0).compute()
print("column means:", column_means.shape, "| blocks read:", len(reader.blocks_read))
max_diff = np.abs(Z.compute() - in_memory.transform(X_numpy)).max()
print(f"max |lazy - numpy| of the representation: {max_diff:.2e}")

# %%
# A stitching pipeline predicts lazily too
# ----------------------------------------
# Fit on an in-memory sample (a :class:`~sklearn_relrep.StitchingClassifier`
# trains on what fits in memory), then predict on the whole dask array. A
# pipeline whose steps are all ``sklearn_relrep`` estimators stays lazy end to
# end; ``score`` computes only the predictions and returns a float.
from sklearn.pipeline import make_pipeline

from sklearn_relrep import InvariantProductSpace, StitchingClassifier

model = make_pipeline(
    InvariantProductSpace(("cosine", "euclidean"), n_anchors=64, random_state=0),
    StitchingClassifier(max_epochs=10, random_state=0),
).fit(X_numpy[:2_000], y[:2_000])

lazy_labels = model.predict(X)
print(lazy_labels)
labels = lazy_labels.compute()
np.testing.assert_array_equal(labels, model.predict(X_numpy))
print("lazy predictions equal the numpy ones on all", len(labels), "rows")
held_out_accuracy = model.score(X[2_000:], y[2_000:])
print(f"accuracy on the 18 000 rows not trained on: {held_out_accuracy:.3f}")

# %%
# GridSearchCV through joblib
# ---------------------------
# Every fit of every candidate and fold is a joblib task. Here they run on
# threads; inside ``joblib.parallel_backend("dask")`` with a
# ``dask.distributed.Client`` they would run on the cluster's workers, with the
# same scores (see :doc:`/scaling`).
import joblib
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import GridSearchCV

search = GridSearchCV(
    make_pipeline(RelativeProjector(n_anchors=64, random_state=0), RidgeClassifier()),
    {
        "relativeprojector__similarity": ["cosine", "euclidean"],
        "relativeprojector__preprocessing": [None, "center"],
    },
    cv=3,
)
with joblib.parallel_backend("threading", n_jobs=2):
    search.fit(X_numpy[:3_000], y[:3_000])
print("best:", search.best_params_, f"cv accuracy {search.best_score_:.3f}")
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True
):
    print(f"  {params}: {score:.3f}")
