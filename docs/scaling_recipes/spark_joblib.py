"""GridSearchCV on Spark, through joblib (joblibspark)."""

import joblib
from joblibspark import register_spark
from pyspark.sql import SparkSession
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

spark = (
    SparkSession.builder.master("local[2]")  # or your cluster
    .config("spark.ui.showConsoleProgress", "false")
    .getOrCreate()
)
register_spark()
try:
    with joblib.parallel_backend("spark", n_jobs=2):
        search.fit(X, y)
finally:
    spark.stop()
print(search.best_params_)
