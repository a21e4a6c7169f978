"""Zero-shot stitching between two latent spaces of the digits data set.

Two "encoders" map the 8x8 digits to latent spaces that differ by an unknown
rotation and rescaling, plus a little noise: a PCA, and the same PCA rotated by a
random orthogonal map and scaled by 3. A classifier trained on encoder A's
relative representation is reused, with nothing retrained, on encoder B's
embeddings once the projector is re-anchored on B's parallel anchors.

Run with ``python examples/stitch_digits.py``.
"""

import numpy as np
from scipy.stats import ortho_group
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sklearn_relrep import RelativeProjector

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


print(
    f"{'similarity':<12}{'A -> A':>8}{'B -> B (stitched)':>20}{'absolute A -> B':>18}"
)
absolute = LogisticRegression(max_iter=5000).fit(encode_a(X_train), y_train)
for similarity in ["cosine", "euclidean", "l1", "linf"]:
    model = make_pipeline(
        RelativeProjector(
            similarity,
            n_anchors=200,
            normalization="center",
            output_normalization="scale",
            random_state=0,
        ),
        LogisticRegression(max_iter=5000),
    ).fit(encode_a(X_train), y_train)
    projector = model[0]
    anchors_b = encode_b(X_train[projector.anchor_indices_])
    stitched = make_pipeline(projector.reanchor(anchors_b), model[-1])
    print(
        f"{similarity:<12}{model.score(encode_a(X_test), y_test):>8.3f}"
        f"{stitched.score(encode_b(X_test), y_test):>20.3f}"
        f"{absolute.score(encode_b(X_test), y_test):>18.3f}"
    )
