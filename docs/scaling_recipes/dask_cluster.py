"""GridSearchCV and lazy transforms on a dask LocalCluster."""

import dask.array as da
import joblib
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.linear_model import RidgeClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector

X, y = load_digits(return_X_y=True)
search = GridSearchCV(
    make_pipeline(
        RelativeProjector(n_anchors=50, random_state=0),
        RidgeClassifier(),
    ),
    {
        "relativeprojector__similarity": ["cosine", "euclidean"],
        "relativeprojector__preprocessing": [None, "center"],
    },
    cv=2,
)

if __name__ == "__main__":  # worker processes re-import this file
    with (
        LocalCluster(n_workers=2, processes=True, threads_per_worker=1) as cluster,
        Client(cluster) as client,
    ):
        # Every fit of every candidate and fold runs on the cluster's workers.
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
        print(search.best_params_)

        # A lazy transform computes on the workers, block by block.
        X_lazy = da.from_array(X, chunks=(500, 32))
        projector = search.best_estimator_[0]
        Z = projector.transform(X_lazy).compute()
        assert np.allclose(Z, projector.transform(X))
