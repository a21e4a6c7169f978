"""Dask arrays and DataFrames in and out: the fit reads only the anchor rows."""

import dask.array as da
import dask.dataframe as dd
import numpy as np
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline

from sklearn_relrep import InvariantProductSpace, RelativeProjector, StitchingClassifier

# Embeddings that do not fit in one process would come from
# da.from_zarr / da.from_npy_stack / dd.read_parquet; here a chunked array.
X_digits, y_digits = load_digits(return_X_y=True)
X = da.from_array(X_digits.astype(np.float32), chunks=(500, 32))

# fit draws the anchor indices from the number of rows, then computes only
# those rows; the same random_state gives the same anchors as on numpy data.
projector = RelativeProjector("cosine", n_anchors=100, random_state=0).fit(X)

# transform is lazy: one task per row block, the column chunks merged first.
Z = projector.transform(X)
print(Z)  # dask.array<..., shape=(1797, 100), dtype=float32, chunksize=(500, 100)>
column_means = Z.mean(axis=0).compute()  # reduce lazily, never gather all rows

# A pipeline of dask-aware steps predicts lazily too; score computes only the
# predictions (one label per row) and returns a float.
model = make_pipeline(
    InvariantProductSpace(n_anchors=32, random_state=0),
    StitchingClassifier(aggregation="attention", max_epochs=10, random_state=0),
).fit(X_digits, y_digits)
labels = model.predict(X)  # dask.array<..., shape=(1797,), dtype=int64>
probabilities = model.predict_proba(X)  # dask.array<..., shape=(1797, 10)>
accuracy = model.score(X, y_digits)  # a float

# dask DataFrame in, dask DataFrame out: columns are get_feature_names_out(),
# index and partitions are X's.
frame = dd.from_dask_array(X, columns=[f"pixel{i}" for i in range(64)])
named = RelativeProjector(n_anchors=10, random_state=0).fit(frame)
lazy_frame = named.transform(frame)
print(list(lazy_frame.columns[:3]))  # ['cosine_a0', 'cosine_a1', 'cosine_a2']
