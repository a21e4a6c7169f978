"""How well two latent spaces agree under each similarity, from parallel anchors only.

Before stitching two encoders one can ask, with no labels, which similarity
functions describe the anchors the same way in both spaces. For each
similarity the anchors' relative representations (anchor-to-anchor
similarities) are computed in each space and compared; a similarity under
which the two spaces disagree strongly will stitch badly.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_array

from ._backend import as_numpy
from ._compat import Interval, StrOptions, validate_params
from .relative import InvariantProductSpace

__all__ = ["invariance_report", "plot_invariance_report"]

METRIC_COLUMNS = ("correlation", "linear_cka", "knn_jaccard")
_FLOAT_DTYPES = (np.float64, np.float32)


def _import_pandas():
    try:
        import pandas
    except ImportError as error:  # pragma: no cover - pandas is in every extra
        raise ImportError(
            "invariance_report returns a pandas DataFrame; install pandas "
            "(pip install pandas)."
        ) from error
    return pandas


def _anchor_relative_representations(anchors_a, anchors_b, similarities, **options):
    """Each space's anchors described by their similarities to its own anchors."""
    space_a = InvariantProductSpace(
        similarities,
        anchors=anchors_a,
        output_scaling=None,
        orientation="similarity",
        **options,
    ).fit(anchors_a)
    space_b = space_a.reanchor(anchors_b)
    return (
        np.asarray(space_a.transform(anchors_a), dtype=np.float64),
        np.asarray(space_b.transform(anchors_b), dtype=np.float64),
        space_a.layout_,
    )


@validate_params(
    {
        "anchors_a": ["array-like"],
        "anchors_b": ["array-like"],
        "similarities": [list, tuple],
        "preprocessing": [StrOptions({"center", "standard", "l2"}), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "min_correlation": [Interval(Real, -1, 1, closed="both")],
        "max_gap": [Interval(Real, 0, 2, closed="both")],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def invariance_report(
    anchors_a,
    anchors_b,
    similarities: Sequence = ("cosine", "euclidean", "l1", "linf"),
    *,
    preprocessing: str | None = "center",
    n_neighbors: int = 10,
    min_correlation: float = 0.5,
    max_gap: float = 0.3,
    device="auto",
):
    """Agreement of two latent spaces under each similarity, from parallel anchors.

    For each similarity ``d`` the ``k`` anchors of each space are described by
    their relative representation ``R[i, j] = d(a_i, a_j)`` (a ``k x k``
    matrix, computed as :class:`InvariantProductSpace` computes it, by default
    on inputs centred by the anchors' mean). ``R_A`` and ``R_B`` are compared
    three ways, each "higher = the two spaces agree more":

    - ``correlation``: Pearson correlation of the off-diagonal entries of
      ``R_A`` and ``R_B`` (do the same anchor pairs look close in both?);
    - ``linear_cka``: :func:`~sklearn_relrep.metrics.linear_cka` of ``R_A``
      and ``R_B``, the anchors as samples and their relative coordinates as
      features;
    - ``knn_jaccard``: :func:`~sklearn_relrep.metrics.knn_jaccard_score` of the
      rows of ``R_A`` and ``R_B`` (euclidean neighbours among the anchors'
      relative representations).

    No labels and no other samples are used.

    **Flag rule.** A similarity is flagged (``flagged`` column) as likely to
    stitch badly when its ``correlation`` is below ``min_correlation``, or more
    than ``max_gap`` below the best similarity's ``correlation``. On BBC News
    through MiniLM-L6 and MiniLM-L3 ``linf`` scores about 0.17 against 0.72 for
    cosine and euclidean, and its zero-shot stitching accuracy is about 15
    points lower; on MNIST CNN/MLP encoders every similarity scores above 0.7
    and none is flagged. The ranking among unflagged similarities is a weak
    guide: on MNIST autoencoders the similarity ranked last by every column
    (``linf``) stitched best across architectures, so do not use the ranking
    to drop subspaces of a product space.

    Parameters
    ----------
    anchors_a : array-like of shape (n_anchors, n_features_a)
        The anchors embedded by encoder A.
    anchors_b : array-like of shape (n_anchors, n_features_b)
        The same anchors, in the same order, embedded by encoder B; the width
        may differ from A's.
    similarities : sequence of str or callable, \
            default=("cosine", "euclidean", "l1", "linf")
        As in :class:`InvariantProductSpace`.
    preprocessing : {"center", "standard", "l2"} or None, default="center"
        Applied to each space's anchors before the similarities, as in
        :class:`InvariantProductSpace` (statistics from each space's own
        anchors).
    n_neighbors : int, default=10
        Neighbours for ``knn_jaccard``; must be below ``n_anchors - 1``.
    min_correlation : float, default=0.5
        Flag a similarity whose ``correlation`` is below this.
    max_gap : float, default=0.3
        Flag a similarity whose ``correlation`` is more than this below the
        best similarity's.
    device : str or torch.device, default="auto"
        Where the relative representations are computed.

    Returns
    -------
    pandas.DataFrame
        One row per similarity (index ``similarity``), in the given order,
        with the columns ``correlation``, ``linear_cka``, ``knn_jaccard``,
        ``rank`` (1 = highest ``correlation``) and ``flagged`` (bool). The
        thresholds are in ``DataFrame.attrs``.

    Raises
    ------
    ValueError
        If the two anchor sets have different numbers of rows, or too few rows
        for ``n_neighbors``.

    See Also
    --------
    plot_invariance_report : A bar chart of the table.
    InvariantProductSpace : The relative subspaces the report compares.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from sklearn_relrep import invariance_report
    >>> rng = np.random.RandomState(0)
    >>> anchors = rng.normal(size=(60, 8))
    >>> rotated = anchors @ ortho_group.rvs(8, random_state=0) + 3.0
    >>> report = invariance_report(anchors, rotated, n_neighbors=5)
    >>> report.loc[["cosine", "euclidean"], "correlation"].round(6).tolist()
    [1.0, 1.0]
    >>> bool(report.loc["linf", "correlation"] < 1)
    True
    >>> report.columns.tolist()
    ['correlation', 'linear_cka', 'knn_jaccard', 'rank', 'flagged']
    """
    from .metrics import knn_jaccard_score, linear_cka

    pandas = _import_pandas()
    anchors_a = check_array(
        as_numpy(anchors_a), dtype=_FLOAT_DTYPES, input_name="anchors_a"
    )
    anchors_b = check_array(
        as_numpy(anchors_b), dtype=_FLOAT_DTYPES, input_name="anchors_b"
    )
    n_anchors = anchors_a.shape[0]
    if anchors_b.shape[0] != n_anchors:
        raise ValueError(
            f"anchors_a has {n_anchors} rows but anchors_b has "
            f"{anchors_b.shape[0]}; they must be the same anchor samples "
            "embedded by each encoder."
        )
    if n_neighbors >= n_anchors - 1:
        raise ValueError(
            f"n_neighbors={n_neighbors} needs at least {n_neighbors + 2} anchors; "
            f"got {n_anchors}. Pass more anchors or a smaller n_neighbors."
        )
    relative_a, relative_b, layout = _anchor_relative_representations(
        anchors_a,
        anchors_b,
        list(similarities),
        preprocessing=preprocessing,
        device=device,
    )
    off_diagonal = ~np.eye(n_anchors, dtype=bool)
    rows = {}
    for name, columns in zip(layout.names, layout.slices, strict=True):
        block_a, block_b = relative_a[:, columns], relative_b[:, columns]
        rows[name] = {
            "correlation": _pearson(block_a[off_diagonal], block_b[off_diagonal]),
            "linear_cka": linear_cka(block_a, block_b, device=device),
            "knn_jaccard": knn_jaccard_score(
                block_a,
                block_b,
                n_neighbors=n_neighbors,
                metric="euclidean",
                device=device,
            ),
        }
    table = pandas.DataFrame.from_dict(rows, orient="index")
    table.index.name = "similarity"
    correlation = table["correlation"]
    table["rank"] = correlation.rank(ascending=False, method="min").astype(int)
    threshold = max(min_correlation, correlation.max() - max_gap)
    table["flagged"] = correlation < threshold
    table.attrs.update(
        min_correlation=min_correlation, max_gap=max_gap, flag_below=threshold
    )
    return table


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x - x.mean(), y - y.mean()
    denominator = np.sqrt((x @ x) * (y @ y))
    return float(x @ y / denominator) if denominator > 0 else 0.0


def plot_invariance_report(report, *, ax=None):
    """A grouped bar chart of an :func:`invariance_report` table.

    One group of bars per similarity (its ``correlation``, ``linear_cka`` and
    ``knn_jaccard``); flagged similarities are labelled "flagged" and the
    flag threshold on ``correlation`` is drawn as a dashed line.

    Parameters
    ----------
    report : pandas.DataFrame
        The output of :func:`invariance_report`.
    ax : matplotlib Axes or None, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the chart.

    Raises
    ------
    ImportError
        If matplotlib is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep import invariance_report, plot_invariance_report
    >>> anchors = np.random.RandomState(0).normal(size=(40, 6))
    >>> report = invariance_report(anchors, 2 * anchors, n_neighbors=5)
    >>> figure = plot_invariance_report(report)
    >>> [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    ['cosine', 'euclidean', 'l1', 'linf']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(figure)
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "plot_invariance_report needs matplotlib; install it with "
            "pip install matplotlib (or the package's [data] extra)."
        ) from error
    missing = [c for c in (*METRIC_COLUMNS, "flagged") if c not in report.columns]
    if missing:
        raise ValueError(
            f"report lacks the columns {missing}; pass the DataFrame returned by "
            "invariance_report."
        )
    if ax is None:
        figure, ax = plt.subplots(figsize=(1.6 + 1.4 * len(report), 3.2))
    else:
        figure = ax.figure
    positions = np.arange(len(report))
    width = 0.8 / len(METRIC_COLUMNS)
    for i, column in enumerate(METRIC_COLUMNS):
        ax.bar(positions + (i - 1) * width, report[column], width, label=column)
    labels = [
        f"{name}\n(flagged)" if flagged else str(name)
        for name, flagged in zip(report.index, report["flagged"], strict=True)
    ]
    ax.set_xticks(positions, labels)
    if "flag_below" in report.attrs:
        ax.axhline(
            report.attrs["flag_below"],
            color="black",
            linestyle="--",
            linewidth=1,
            label="flag below (correlation)",
        )
    ax.set_ylim(min(0.0, float(report[list(METRIC_COLUMNS)].min().min())), 1.0)
    ax.set_ylabel("agreement of the two spaces")
    ax.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure
