"""GridSearchCV on Ray, through joblib."""

import joblib
import ray
from ray.util.joblib import register_ray
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector

X, y = load_digits(return_X_y=True)
search = GridSearchCV(
    make_pipeline(
        RelativeProjector(n_anchors=100, random_state=0),
        LogisticRegression(max_iter=2000),
    ),
    {"relativeprojector__similarity": ["cosine", "euclidean"]},
    cv=3,
)

ray.init(num_cpus=2, include_dashboard=False)  # or ray.init(address="auto")
register_ray()
try:
    with joblib.parallel_backend("ray"):
        search.fit(X, y)
finally:
    ray.shutdown()
print(search.best_params_)
