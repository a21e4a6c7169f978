"""
Zero-shot stitching on the digits data set
==========================================

A first look at the idea, on data that ships with scikit-learn. Two "encoders"
map the 8x8 digits to latent spaces that differ by an unknown rotation and
rescaling, plus a little noise: a PCA, and the same PCA rotated by a random
orthogonal map and scaled by 3.

A classifier trained on encoder A's relative representation is reused, with
nothing retrained, on encoder B's embeddings once the projector is re-anchored
on B's embeddings of the same anchor images. A classifier trained on A's raw
coordinates cannot be reused that way.

It needs nothing beyond the core install; run it with
``python examples/stitch_digits.py``.
"""

# %%
# Two encoders that differ by a rotation and a rescaling
# ------------------------------------------------------
import numpy as np
from scipy.stats import ortho_group
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

encoder = PCA(n_components=32, random_state=0).fit(X_train)
rotation = ortho_group.rvs(32, random_state=0)
rng = np.random.RandomState(0)


def encode_a(images):
    return encoder.transform(images)


def encode_b(images):
    latent = 3.0 * encoder.transform(images) @ rotation
    return latent + rng.normal(scale=0.05, size=latent.shape)


# %%
# Train on A, stitch to B
# -----------------------
# :meth:`~sklearn_relrep.RelativeProjector.reanchor` returns a fitted copy of
# the projector that works in B's space; the classifier after it is reused as
# it is. ``output_scaling="scale"`` divides by the mean anchor-to-anchor value,
# which makes the distances invariant to the rescaling as well.
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector

absolute = LogisticRegression(max_iter=5000).fit(encode_a(X_train), y_train)
absolute_score = absolute.score(encode_b(X_test), y_test)

scores = {}
for similarity in ["cosine", "euclidean", "l1", "linf"]:
    model = make_pipeline(
        RelativeProjector(
            similarity,
            n_anchors=200,
            preprocessing="center",
            output_scaling="scale",
            random_state=0,
        ),
        LogisticRegression(max_iter=5000),
    ).fit(encode_a(X_train), y_train)
    projector = model[0]
    anchors_b = encode_b(X_train[projector.anchor_indices_])
    stitched = make_pipeline(projector.reanchor(anchors_b), model[-1])
    scores[similarity] = (
        model.score(encode_a(X_test), y_test),
        stitched.score(encode_b(X_test), y_test),
    )

print(f"{'similarity':<12}{'A -> A':>8}{'A -> B (stitched)':>20}")
for similarity, (same, stitched_score) in scores.items():
    print(f"{similarity:<12}{same:>8.3f}{stitched_score:>20.3f}")
print(
    f"{'absolute':<12}{absolute.score(encode_a(X_test), y_test):>8.3f}"
    f"{absolute_score:>20.3f}"
)

# %%
# Cosine and euclidean distance are unchanged by the rotation, so those relative
# classifiers transfer almost perfectly. L1 and L∞ are not rotation-invariant
# (they are invariant to permutations and sign flips of the coordinates), so
# they can lose accuracy here, L∞ most: which similarity to use depends on how
# the two spaces differ. See :doc:`/choosing_similarities`.
import matplotlib.pyplot as plt

labels = [*scores, "absolute"]
stitched_scores = [scores[s][1] for s in scores] + [absolute_score]
fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.bar(labels, stitched_scores, color=["C0"] * len(scores) + ["C3"])
ax.set_ylim(0, 1)
ax.set_ylabel("accuracy on encoder B")
ax.set_title("Trained on encoder A, tested on encoder B")
plt.show()
