"""The report's comparison of stitching routes, and the anchor-count sweep."""

from __future__ import annotations

import pandas as pd

from ._report import format_mean_std, pyplot
from ._stitching_experiment import AS_IS, AUTO, AUTO_LABELS

__all__ = [
    "anchor_sweep_figure",
    "auto_table",
    "main_records",
    "route_section",
    "route_table",
    "sweep_table",
]


def main_records(records: pd.DataFrame, n_anchors: int) -> pd.DataFrame:
    """The records of each method by its own route (re-anchoring, or as it is)
    with the run's anchor count: the rows of the per-method tables."""
    keep = (records["n_anchors"] == n_anchors) & records["route"].isin(
        ["reanchor", AS_IS]
    )
    return records[keep]


def _cross(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    cross = records[records["train"] != records["test"]].dropna(subset=[metric])
    return cross.assign(row=cross["method"] + " · " + cross["route"])


def _route_rows(records: pd.DataFrame) -> pd.DataFrame:
    """Records of the methods that were stitched by more than their own route."""
    routed = records.groupby("method")["route"].transform("nunique") > 1
    return records[routed]


def route_table(records: pd.DataFrame, metric: str, n_anchors: int) -> pd.DataFrame:
    """``method · route`` × cross pair, mean ± std over seeds, with the mean over
    pairs and the worst pair."""
    cross = _cross(_route_rows(records[records["n_anchors"] == n_anchors]), metric)
    grouped = cross.groupby(["row", "pair"], sort=False)[metric]
    means, stds = grouped.mean().unstack(), grouped.std(ddof=0).unstack()
    order = list(dict.fromkeys(cross["row"]))
    means, stds = means.reindex(order), stds.reindex(order)
    worst = means.min(axis=1) if metric != "mse" else means.max(axis=1)
    digits = 4 if metric == "mse" else 3
    table = format_mean_std(pd.concat({"mean": means, "std": stds}, axis=1), digits)
    table["mean over pairs"] = means.mean(axis=1).map(f"{{:.{digits}f}}".format)
    table["worst pair"] = worst.map(f"{{:.{digits}f}}".format)
    return table.rename_axis(f"{metric}, {n_anchors} anchors")


def _sweep_means(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Cross-pair mean per row and seed, then mean and std over seeds, per count."""
    cross = _cross(records, metric)
    counts = cross.groupby("row")["n_anchors"].transform("nunique")
    cross = cross[counts == counts.max()]
    per_seed = cross.groupby(["row", "n_anchors", "seed"], sort=False)[metric].mean()
    stats = per_seed.groupby(["row", "n_anchors"], sort=False).agg(
        ["mean", lambda s: s.std(ddof=0)]
    )
    stats.columns = ["mean", "std"]
    return stats


def sweep_table(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows stitched at every anchor count × count: cross-pair mean ± std."""
    stats = _sweep_means(records, metric)
    table = format_mean_std(
        pd.concat(
            {
                "mean": stats["mean"].unstack().sort_index(axis=1),
                "std": stats["std"].unstack().sort_index(axis=1),
            },
            axis=1,
        )
    )
    return table.rename_axis(f"{metric} (mean over pairs) by anchors")


def anchor_sweep_figure(records: pd.DataFrame, metric: str, title: str):
    """Cross-pair mean against the number of anchors, one line per route."""
    plt = pyplot()
    stats = _sweep_means(records, metric)
    figure, axis = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    for row in dict.fromkeys(stats.index.get_level_values("row")):
        line = stats.loc[row]
        axis.errorbar(
            line.index, line["mean"], yerr=line["std"], marker="o", capsize=2, label=row
        )
    axis.set_xscale("log")
    counts = sorted(stats.index.get_level_values("n_anchors").unique())
    axis.set_xticks(counts, [str(n) for n in counts])
    axis.set_xlabel("number of anchors")
    axis.set_ylabel(f"cross-encoder {metric}")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure


def auto_table(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per cross pair and anchor count: the best route, and what ``auto`` picked.

    The best route is the one with the best mean over seeds among every
    route stitched at that count (the absolute baseline's translations too);
    ``auto`` and ``auto (anchor labels)`` are scored as the routes they picked.
    """
    sign = -1.0 if metric == "mse" else 1.0
    cross = _cross(records, metric)
    cross = cross[cross["route"] != AS_IS]
    means = cross.groupby(["pair", "n_anchors", "row"], sort=False)[metric].mean()
    rows = []
    for (pair, n_anchors), group in means.groupby(level=["pair", "n_anchors"]):
        group = group.droplevel(["pair", "n_anchors"])
        is_auto = [r.endswith((f"· {AUTO}", f"· {AUTO_LABELS}")) for r in group.index]
        fixed = group[[not auto for auto in is_auto]]
        best = (sign * fixed).idxmax()
        entry = {"pair": pair, "anchors": n_anchors, "best route": best}
        entry[f"best {metric}"] = f"{fixed[best]:.4g}"
        for auto in (AUTO, AUTO_LABELS):
            label = next((r for r in group.index if r.endswith(f"· {auto}")), None)
            if label is None:
                continue
            picks = cross[
                (cross["row"] == label)
                & (cross["pair"] == pair)
                & (cross["n_anchors"] == n_anchors)
            ]["auto_pick"].value_counts()
            entry[f"{auto} picked"] = ", ".join(f"{r} ×{n}" for r, n in picks.items())
            entry[f"{auto} − best"] = f"{sign * (group[label] - fixed[best]):+.4f}"
        rows.append(entry)
    return pd.DataFrame(rows).set_index(["pair", "anchors"])


def route_section(
    records: pd.DataFrame,
    *,
    metric: str,
    n_anchors: int,
    report,
    key: str,
    title: str,
    sweep: bool,
) -> str:
    """Write the route comparison (and the sweep) into ``report``; return a
    plain-text summary with the tables."""
    report.heading(f"Stitching routes: {title}", 3)
    report.text(
        "Every route from the same fitted models and the same anchors: re-anchoring "
        "the relative step, translating B's embeddings into A's space with a map "
        "fitted on the anchors (LinearAligner(alpha='auto'); the absolute baseline "
        "also by ProcrustesAligner), the ensemble of the two, and auto, the route "
        "chosen on held-out anchors without labels (auto) or with the anchors' "
        "labels (auto (anchor labels)). Cells: cross-encoder "
        f"{metric}, mean ± std over seeds."
    )
    table = route_table(records, metric, n_anchors)
    report.table(table)
    means = table["mean over pairs"].astype(float)
    best = means.idxmin() if metric == "mse" else means.idxmax()
    recommendation = (
        f"Best route on the mean over pairs with {n_anchors} anchors: {best} "
        f"({means[best]:.4g})."
    )
    report.text(recommendation)
    parts = [f"Routes, {title}\n{table.to_string()}\n{recommendation}"]
    if sweep:
        swept = sweep_table(records, metric)
        report.table(swept)
        report.figure(
            anchor_sweep_figure(records, metric, f"{title}: routes by anchor count"),
            f"{key}_anchor_sweep",
            "cross-encoder accuracy against the number of anchors, per route",
        )
        picks = auto_table(records, metric)
        report.text(
            "Per pair and anchor count: the best route (mean over seeds) and what "
            "auto picked over the seeds, with its score minus the best route's."
        )
        report.table(picks)
        parts += [f"Anchor sweep, {title}\n{swept.to_string()}", picks.to_string()]
    return "\n\n".join(parts)
