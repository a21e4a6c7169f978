"""
Stitching two text encoders zero-shot
=====================================

Two pretrained sentence encoders embed the same news articles in 384
dimensions: all-MiniLM-L6-v2 (6 transformer layers) and
paraphrase-MiniLM-L3-v2 (3 layers). They were trained separately, so the
coordinates of one mean nothing to a classifier trained on the other.

This example trains a classifier on MiniLM-L6's space only, then reuses it on
MiniLM-L3's space with nothing retrained (*zero-shot stitching*): the relative
step is re-anchored on MiniLM-L3's embeddings of the same anchor articles, with
:func:`~sklearn_relrep.zero_shot_stitch`. It compares

- the absolute baseline: a classifier on the raw embeddings;
- a single relative projection (cosine, centred on the anchors);
- a product of four invariances (cosine, euclidean, L1, L∞) decoded by the
  QKV attention blender of :class:`~sklearn_relrep.StitchingClassifier`.

It needs the ``[data]`` extra (BBC News and the two encoders, all offline).
Embeddings are cached on disk, so a second run skips the encoding.
"""

# %%
# A small subset of BBC News
# --------------------------
# 600 training articles (stratified) and the fixed test split of 425 articles,
# five classes: business, entertainment, politics, sport and tech.
from sklearn.model_selection import train_test_split

from sklearn_relrep.datasets import load_bbc_news

train = load_bbc_news(subset="train")
test = load_bbc_news(subset="test")
texts_train, _, y_train, _ = train_test_split(
    train.data, train.target, train_size=600, stratify=train.target, random_state=0
)
texts_test, y_test = test.data, test.target
print(f"{len(texts_train)} training and {len(texts_test)} test articles")
print("classes:", ", ".join(train.target_names))

# %%
# Embed the articles with both encoders
# -------------------------------------
# Each encoder is a scikit-learn transformer that returns L2-normalised float32
# embeddings. Nothing is downloaded: the weights ship inside registry packages.
from sklearn_relrep.encoders import MiniLML3Encoder, MiniLML6Encoder

spaces = {}
for name, encoder in (
    ("MiniLM-L6", MiniLML6Encoder(progress=False)),
    ("MiniLM-L3", MiniLML3Encoder(progress=False)),
):
    spaces[name] = (encoder.transform(texts_train), encoder.transform(texts_test))
    print(f"{name}: train {spaces[name][0].shape}, test {spaces[name][1].shape}")

X_l6_train, X_l6_test = spaces["MiniLM-L6"]
X_l3_train, X_l3_test = spaces["MiniLM-L3"]

# %%
# The absolute baseline
# ---------------------
# Both spaces have 384 dimensions, so a classifier trained on MiniLM-L6 can be
# applied to MiniLM-L3's embeddings, but its coordinates only partly mean the
# same thing there.
from sklearn.linear_model import LogisticRegression

absolute = LogisticRegression(max_iter=2000).fit(X_l6_train, y_train)
scores = {
    "absolute": (absolute.score(X_l6_test, y_test), absolute.score(X_l3_test, y_test))
}

# %%
# One relative projection
# -----------------------
# :class:`~sklearn_relrep.RelativeProjector` describes every article by its
# cosine similarity to 300 anchor articles drawn from the training set.
# ``preprocessing="center"`` subtracts the anchors' mean first, which makes the
# cosine translation-invariant too.
#
# To stitch, encoder B needs only its embeddings of the *same* anchor articles:
# ``anchor_indices_`` says which training rows they are.
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector, zero_shot_stitch

cosine = make_pipeline(
    RelativeProjector("cosine", n_anchors=300, preprocessing="center", random_state=0),
    LogisticRegression(max_iter=2000),
).fit(X_l6_train, y_train)

anchors_l3 = X_l3_train[cosine[0].anchor_indices_]
cosine_on_l3 = zero_shot_stitch(cosine, anchors_l3)
scores["cosine"] = (
    cosine.score(X_l6_test, y_test),
    cosine_on_l3.score(X_l3_test, y_test),
)

# %%
# A product of invariances with the QKV blender
# ---------------------------------------------
# :class:`~sklearn_relrep.InvariantProductSpace` computes one relative subspace
# per similarity on the same anchors, every subspace oriented "higher is
# closer". :class:`~sklearn_relrep.StitchingClassifier` with
# ``aggregation="attention"`` normalises each subspace, runs one self-attention
# layer *across the four subspaces* (they are the tokens) and decodes the result
# with an MLP head: it learns which invariance to rely on.
from sklearn_relrep import InvariantProductSpace, StitchingClassifier

product = make_pipeline(
    InvariantProductSpace(
        ("cosine", "euclidean", "l1", "linf"), n_anchors=300, random_state=0
    ),
    StitchingClassifier(aggregation="attention", max_epochs=20, random_state=0),
).fit(X_l6_train, y_train)

print("subspaces:", product[0].layout_.names, product[0].layout_.widths)
product_on_l3 = zero_shot_stitch(product, X_l3_train[product[0].anchor_indices_])
scores["product + attention"] = (
    product.score(X_l6_test, y_test),
    product_on_l3.score(X_l3_test, y_test),
)

# %%
# Results
# -------
# "same encoder" tests the MiniLM-L6 classifier on MiniLM-L6's test embeddings;
# "stitched" tests the same classifier on MiniLM-L3's, with nothing retrained.
print(f"{'method':<22}{'same encoder':>14}{'stitched L6 → L3':>18}")
for method, (same, stitched) in scores.items():
    print(f"{method:<22}{same:>14.3f}{stitched:>18.3f}")

# %%
import matplotlib.pyplot as plt
import numpy as np

methods = list(scores)
positions = np.arange(len(methods))
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
for offset, column, label in ((-0.2, 0, "same encoder"), (0.2, 1, "stitched L6 → L3")):
    bars = ax.bar(
        positions + offset, [scores[m][column] for m in methods], 0.4, label=label
    )
    ax.bar_label(bars, fmt="%.2f", padding=2)
ax.set_xticks(positions, methods)
ax.set_ylim(0, 1.15)
ax.set_ylabel("test accuracy")
ax.set_title("Trained on MiniLM-L6, tested on each encoder")
ax.legend(loc="upper left", ncols=2, frameon=False)
plt.show()

# %%
# Every pair at once
# ------------------
# :func:`~sklearn_relrep.stitching_matrix` trains nothing: it takes one fitted
# pipeline per space and evaluates each on every space, after re-anchoring.
# Rows are the encoder the classifier was trained on, columns the encoder that
# embeds the test articles; the diagonal is the same-encoder reference.
from sklearn.base import clone

from sklearn_relrep import stitching_matrix

models = {"MiniLM-L6": product, "MiniLM-L3": clone(product).fit(X_l3_train, y_train)}
anchor_rows = product[0].anchor_indices_
table = stitching_matrix(
    models,
    {"MiniLM-L6": X_l6_train[anchor_rows], "MiniLM-L3": X_l3_train[anchor_rows]},
    {"MiniLM-L6": X_l6_test, "MiniLM-L3": X_l3_test},
    y_test,
)
print(
    table.pivot(index="train_space", columns="test_space", values="accuracy").round(3)
)

# %%
# The second model was trained with the first one's anchor rows (cloning keeps
# ``random_state``, and both spaces hold the same articles in the same order),
# so one set of anchor rows serves both directions.
#
# The product with the attention blender stitches these two encoders far better
# than the raw embeddings do. Whether it beats the best single similarity
# depends on the pair of encoders: see :doc:`/choosing_similarities` for the
# numbers measured on this project's pairs.
