"""Choose a relative representation by how well it stitches, not by in-domain CV.

A grid search over the similarity and the preprocessing of a
:class:`~sklearn_relrep.RelativeProjector` is scored two ways at once:

- ``in_domain``: the usual accuracy on the validation fold, in the space the
  model was trained on (encoder A);
- ``stitched``: the accuracy of the same fitted model re-anchored, with nothing
  retrained, on encoder B's embeddings of the same validation rows
  (:func:`~sklearn_relrep.make_stitched_scorer`).

The configuration each criterion picks is then refitted on all of A's training
data and tested on the held-out test set: in A's space and stitched to B's.

Data: BBC News (5 classes) embedded by all-MiniLM-L6-v2 (A) and
paraphrase-MiniLM-L3-v2 (B), 384-d each, when the ``[data]`` extra is installed
(embeddings are cached in ``~/.cache/sklearn_relrep`` after the first run);
otherwise the digits through two small MLP encoders trained with different seeds
and widths.

Run with ``python examples/model_selection_by_stitched_score.py``.
"""

import os

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector, make_stitched_scorer, zero_shot_stitch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def bbc_news():
    """BBC News train/test through MiniLM-L6 (A) and MiniLM-L3 (B)."""
    from sklearn_relrep.datasets import load_bbc_news
    from sklearn_relrep.encoders import MiniLML3Encoder, MiniLML6Encoder

    texts_train, y_train = load_bbc_news(subset="train", return_X_y=True)
    texts_test, y_test = load_bbc_news(subset="test", return_X_y=True)
    a, b = MiniLML6Encoder(), MiniLML3Encoder()
    return (
        "BBC News, MiniLM-L6 -> MiniLM-L3",
        (a.transform(texts_train), a.transform(texts_test), y_train),
        (b.transform(texts_train), b.transform(texts_test), y_test),
    )


def digits():
    """Digits through two MLP encoders (hidden layers of two widths and seeds)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.25, random_state=0, stratify=y
    )

    def encoder(width, seed):
        net = MLPClassifier((width,), max_iter=300, random_state=seed)
        net.fit(X_train, y_train)
        return lambda Z: np.maximum(Z @ net.coefs_[0] + net.intercepts_[0], 0.0)

    a, b = encoder(64, 0), encoder(96, 1)
    return (
        "digits, MLP-64 (seed 0) -> MLP-96 (seed 1)",
        (a(X_train), a(X_test), y_train),
        (b(X_train), b(X_test), y_test),
    )


try:
    name, (A_train, A_test, y_train), (B_train, B_test, y_test) = bbc_news()
except ImportError:
    name, (A_train, A_test, y_train), (B_train, B_test, y_test) = digits()
print(f"{name}: {len(A_train)} training and {len(A_test)} test samples\n")

pipeline = make_pipeline(
    RelativeProjector(n_anchors=300, random_state=0),
    LogisticRegression(max_iter=3000),
)
grid = {
    "relativeprojector__similarity": ["cosine", "euclidean", "l1", "linf"],
    "relativeprojector__preprocessing": [None, "center", "standard"],
}
search = GridSearchCV(
    pipeline,
    grid,
    scoring={
        "in_domain": "accuracy",
        "stitched": make_stitched_scorer(A_train, B_train),
    },
    refit=False,
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
).fit(A_train, y_train)

results = pd.DataFrame(search.cv_results_["params"]).rename(
    columns=lambda c: c.split("__")[-1]
)
results = results.astype(object).where(results.notna(), "None")
results["cv in-domain"] = search.cv_results_["mean_test_in_domain"]
results["cv stitched"] = search.cv_results_["mean_test_stitched"]
print(results.round(3).to_string(index=False), "\n")


def test_scores(params):
    model = clone(pipeline).set_params(**params).fit(A_train, y_train)
    stitched = zero_shot_stitch(model, B_train[model[0].anchor_indices_])
    return model.score(A_test, y_test), stitched.score(B_test, y_test)


print(f"{'picked by':<14}{'configuration':<28}{'test A -> A':>12}{'A -> B':>10}")
for criterion in ("in_domain", "stitched"):
    params = search.cv_results_["params"][
        int(np.argmax(search.cv_results_[f"mean_test_{criterion}"]))
    ]
    in_domain, stitched = test_scores(params)
    label = ", ".join(str(value) for value in params.values())
    print(f"{criterion:<14}{label:<28}{in_domain:>12.3f}{stitched:>10.3f}")
