"""The invariance report of each encoder pair, and how well it ranks similarities."""

from __future__ import annotations

import pandas as pd
from scipy.stats import spearmanr

from .. import InvariantProductSpace, invariance_report, plot_invariance_report
from ._methods import SINGLE_SIMILARITIES
from ._report import format_mean_std, summarize

__all__ = [
    "invariance_records",
    "invariance_section",
    "pair_report",
    "ranking_agreement",
]


def pair_report(domain, a: str, b: str, *, seed: int, n_anchors: int, device):
    """The invariance report of spaces ``a`` and ``b`` on one seed's anchors.

    The anchors are the rows a product space with ``random_state=seed`` draws,
    the same ones the stitching pipelines of that seed use.
    """
    indices = (
        InvariantProductSpace(n_anchors=n_anchors, random_state=seed, device=device)
        .fit(domain.spaces[a].train)
        .anchor_indices_
    )
    return invariance_report(
        domain.spaces[a].train[indices], domain.spaces[b].train[indices], device=device
    )


def invariance_records(domain, *, seeds, n_anchors: int, device) -> pd.DataFrame:
    """The report of every unordered pair of spaces, on each seed's anchors."""
    names = list(domain.spaces)
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for seed in seeds:
                table = pair_report(
                    domain, a, b, seed=seed, n_anchors=n_anchors, device=device
                )
                for similarity, values in table.iterrows():
                    rows.append(
                        dict(
                            pair=f"{a}↔{b}",
                            seed=seed,
                            method=similarity,
                            **values.to_dict(),
                        )
                    )
    return pd.DataFrame.from_records(rows)


def _single_accuracy(records: pd.DataFrame) -> pd.DataFrame:
    """Cross-encoder accuracy of each single similarity per ordered pair.

    Cosine is taken on centred inputs (``cosine/center``) when that row exists,
    as the report computes it.
    """
    cross = records[records["train"] != records["test"]]
    means = cross.pivot_table(
        index="pair", columns="method", values="accuracy", aggfunc="mean"
    )
    columns = {}
    for similarity in SINGLE_SIMILARITIES:
        centred = f"{similarity}/center"
        source = centred if centred in means.columns else similarity
        if source in means.columns:
            columns[similarity] = means[source]
    return pd.DataFrame(columns)


def ranking_agreement(
    report_records: pd.DataFrame, stitching_records: pd.DataFrame
) -> pd.DataFrame:
    """Spearman correlation, per ordered pair, of report and stitching rankings.

    For each ordered pair ``A→B`` the four similarities are ranked by the
    report's ``correlation`` (mean over seeds, of the unordered pair) and by
    their zero-shot accuracy (mean over seeds); the table gives Spearman's rho
    between the two, the similarity each ranks first, and the flagged ones.
    """
    accuracy = _single_accuracy(stitching_records)
    mean_report = report_records.groupby(["pair", "method"])[
        ["correlation", "flagged"]
    ].mean()
    rows = {}
    for ordered, stitched in accuracy.iterrows():
        source, target = ordered.split("→")
        unordered = next(
            (
                f"{a}↔{b}"
                for a, b in ((source, target), (target, source))
                if f"{a}↔{b}" in mean_report.index.get_level_values(0)
            ),
            None,
        )
        if unordered is None:
            continue
        report = mean_report.loc[unordered].reindex(stitched.index)
        rho = spearmanr(report["correlation"], stitched).statistic
        rows[ordered] = {
            "spearman": rho,
            "report's first": report["correlation"].idxmax(),
            "stitching's first": stitched.idxmax(),
            "flagged (most seeds)": ", ".join(report.index[report["flagged"] > 0.5])
            or "none",
            "stitching's last": stitched.idxmin(),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("pair")


def invariance_section(domain, records, *, settings, device, report) -> str:
    """Fill the report's invariance section for ``domain``; return a summary."""
    report.heading(f"Invariance report: {domain.name}", 3)
    report.text(
        "From the parallel anchors only (no labels): for each similarity, Pearson "
        "correlation of the two spaces' off-diagonal anchor-to-anchor matrices "
        "(centred inputs), mean ± std over the seeds' anchor draws. A similarity "
        "is flagged when its correlation is below 0.5 or more than 0.3 below the "
        "best similarity's. The second table compares the report's ranking of the "
        "four similarities with their zero-shot stitching accuracy (Spearman per "
        "ordered pair)."
    )
    inv = invariance_records(
        domain, seeds=settings.seeds, n_anchors=settings.n_anchors, device=device
    )
    correlation = format_mean_std(summarize(inv, "correlation"))
    flagged = inv.groupby(["method", "pair"], sort=False)["flagged"].sum().unstack()
    flagged = flagged.astype(int).astype(str) + f"/{len(settings.seeds)}"
    report.table(correlation.rename_axis("correlation"))
    report.table(flagged.rename_axis("flagged (seeds)"))
    agreement = ranking_agreement(inv, records)
    if len(agreement):
        report.table(agreement.round(2))
        report.text(
            f"Mean Spearman over ordered pairs: {agreement['spearman'].mean():.2f}."
        )
    a, b = list(domain.spaces)[:2]
    seed = settings.seeds[0]
    figure = plot_invariance_report(
        pair_report(
            domain, a, b, seed=seed, n_anchors=settings.n_anchors, device=device
        )
    )
    figure.axes[0].set_title(f"{domain.name}: {a}↔{b}, seed {seed}")
    key = "text" if domain.name.startswith("text") else "vision"
    report.figure(figure, f"{key}_invariance_report", "invariance report")
    lines = [f"Invariance report, {domain.name} (correlation)", correlation.to_string()]
    if len(agreement):
        lines.append(agreement.round(2).to_string())
    return "\n".join(lines)
