"""The report's figures that summarise records of several methods or spaces."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import RelativeProjector
from ._report import heatmaps, pyplot
from ._stitching_experiment import relative_pair

__all__ = [
    "FINETUNE_MODES",
    "ZERO_SHOT",
    "encoder_matrix",
    "finetune_curves",
    "pca_view",
    "similarity_matrices",
    "stitching_matrices",
]

# what ``finetune(..., train=mode)`` trains, as the fine-tuning records name it
FINETUNE_MODES = {
    "blender": "blender only (QKV opt)",
    "head": "head only (MLP opt)",
    "all": "all parameters",
}
ZERO_SHOT = "zero-shot"


def stitching_matrices(records: pd.DataFrame, title: str):
    """One train × test panel of mean accuracy per method, in the records' order.

    Parameters
    ----------
    records : DataFrame
        Stitching records of one domain (``method, train, test, accuracy``).
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    spaces = list(dict.fromkeys(records["train"]))
    panels = {
        method: group.pivot_table(
            index="train", columns="test", values="accuracy", aggfunc="mean"
        ).reindex(index=spaces, columns=spaces)
        for method, group in records.groupby("method", sort=False)
    }
    return heatmaps(
        panels,
        title,
        xlabel="tested on (encoder B)",
        ylabel="trained on (encoder A)",
        ncols=5,
        colorbar_label="accuracy (mean over seeds)",
    )


def encoder_matrix(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """A symmetric encoder × encoder matrix from records of unordered pairs.

    Parameters
    ----------
    records : DataFrame
        Rows with a ``pair`` ``"a↔b"`` and a ``metric`` column (seeds averaged).
    metric : str
        The column to average.

    Returns
    -------
    DataFrame
        Square, in first-seen order of the encoders, with 1 on the diagonal (a
        space compared with itself).

    Examples
    --------
    >>> import pandas as pd
    >>> records = pd.DataFrame({"pair": ["a↔b", "a↔b"], "cka": [0.5, 0.7]})
    >>> encoder_matrix(records, "cka").to_numpy().round(2).tolist()
    [[1.0, 0.6], [0.6, 1.0]]
    """
    means = records.groupby("pair", sort=False)[metric].mean()
    pairs = [pair.split("↔") for pair in means.index]
    names = list(dict.fromkeys(name for pair in pairs for name in pair))
    matrix = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for (a, b), value in zip(pairs, means, strict=True):
        matrix.loc[a, b] = matrix.loc[b, a] = value
    return matrix


def similarity_matrices(records: pd.DataFrame, metric: str, relative: str):
    """Per domain, the encoder × encoder matrix of absolute | ``relative`` spaces.

    Parameters
    ----------
    records : DataFrame
        The similarity experiment's records (``domain, method, pair``, metrics).
    metric : str
        The metric column to draw.
    relative : str
        The ``method`` drawn as the relative space.

    Returns
    -------
    matplotlib.figure.Figure
    """
    panels = {}
    for domain, group in records.groupby("domain", sort=False):
        labels = {"absolute": "absolute", relative: f"relative ({relative})"}
        for method, label in labels.items():
            rows = group[group["method"] == method]
            panels[f"{domain}\n{label}"] = encoder_matrix(rows, metric)
    return heatmaps(
        panels,
        f"{metric} between encoders: absolute against relative ({relative})",
        xlabel="encoder",
        ylabel="encoder",
        ncols=2,
        colorbar_label=f"{metric} (mean over seeds)",
    )


def finetune_curves(records: pd.DataFrame):
    """Accuracy against N per fine-tuning mode, one panel per domain.

    Each mode's curve starts at the zero-shot accuracy (N = 0); the line is
    the mean over pairs and seeds and the band ± one standard deviation.

    Parameters
    ----------
    records : DataFrame
        ``domain, method, n_labelled, accuracy`` rows; ``method`` is
        :data:`ZERO_SHOT` or a value of :data:`FINETUNE_MODES`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot()
    domains = list(dict.fromkeys(records["domain"]))
    figure, axes = plt.subplots(
        1,
        len(domains),
        figsize=(0.5 + 4.0 * len(domains), 3.6),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    for axis, domain in zip(axes[0], domains, strict=True):
        rows = records[records["domain"] == domain]
        zero_shot = rows[rows["method"] == ZERO_SHOT]
        for mode in FINETUNE_MODES.values():
            curve = pd.concat([zero_shot, rows[rows["method"] == mode]])
            stats = curve.groupby("n_labelled")["accuracy"].agg(
                mean="mean", std=lambda a: a.std(ddof=0)
            )
            (line,) = axis.plot(stats.index, stats["mean"], marker="o", label=mode)
            axis.fill_between(
                stats.index,
                stats["mean"] - stats["std"],
                stats["mean"] + stats["std"],
                color=line.get_color(),
                alpha=0.2,
            )
        sizes = sorted(rows["n_labelled"].unique())
        axis.set_xscale("symlog", linthresh=max(min(sizes[1:], default=1), 1))
        axis.set_xticks(sizes, [str(n) for n in sizes])
        axis.set_title(domain, fontsize=9)
        axis.set_xlabel("N labelled target samples (0: zero-shot)")
        axis.grid(alpha=0.3)
    axes[0, 0].set_ylabel("target test accuracy")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=len(labels))
    figure.suptitle("Fine-tuning the stitched model (mean ± std over pairs, seeds)")
    return figure


def pca_view(
    domain, source: str, target: str, *, n_anchors: int, seed: int, device: str
):
    """Absolute and cosine-relative spaces of two encoders, as PCA-2 scatters.

    The absolute spaces get one PCA each (they share no coordinates); the two
    relative spaces share the anchors' axes, so one PCA, fitted on
    ``source``'s, projects both. At most 2000 test samples, coloured by class.

    Parameters
    ----------
    domain : Domain
        A classification domain.
    source, target : str
        The two spaces (encoders A and B).
    n_anchors, seed : int
        The relative projection's anchors, drawn with ``seed``.
    device : str
        Where the projection runs.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from sklearn.decomposition import PCA

    plt = pyplot()
    spaces = domain.spaces[source], domain.spaces[target]
    projector = RelativeProjector(
        "cosine", n_anchors=n_anchors, random_state=seed, device=device
    )
    relative = relative_pair(projector, *spaces)
    rng = np.random.RandomState(seed)
    n_test = len(domain.y_test)
    shown = np.sort(rng.choice(n_test, min(n_test, 2000), replace=False))
    pca = PCA(2, random_state=seed).fit(relative[0][shown])
    points = {
        f"absolute {source}": PCA(2, random_state=seed).fit_transform(
            spaces[0].test[shown]
        ),
        f"absolute {target}": PCA(2, random_state=seed).fit_transform(
            spaces[1].test[shown]
        ),
        f"relative (cosine) {source}": pca.transform(relative[0][shown]),
        f"relative (cosine) {target}": pca.transform(relative[1][shown]),
    }
    figure, axes = plt.subplots(2, 2, figsize=(7.5, 7.0), layout="constrained")
    labels = domain.y_test[shown]
    for axis, (title, xy) in zip(axes.flat, points.items(), strict=True):
        scatter = axis.scatter(
            xy[:, 0], xy[:, 1], c=labels, cmap="tab10", s=5, alpha=0.8, linewidths=0
        )
        axis.set_title(title, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    axes[0, 0].set_ylabel("PCA 2 (own PCA per space)")
    axes[1, 0].set_ylabel("PCA 2 (one PCA, fitted on A)")
    handles, names = scatter.legend_elements()
    figure.legend(handles, names, title="class", loc="outside right center", fontsize=7)
    figure.suptitle(f"{domain.name}: {source} (A) and {target} (B), test samples")
    return figure
