"""Markdown of the stitching-quality records (``stitching_quality.py --report``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from _quality import load_records, per_pair, summarize

SHORT = {
    "text: BBC News": "text",
    "vision: MNIST classifiers": "vision",
    "vision: MNIST autoencoders": "recon",
}


def _metric(records: pd.DataFrame) -> str:
    return "accuracy" if records["accuracy"].notna().any() else "mse"


def side_by_side(records: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """One row per variant, ``mean / worst / seed std`` columns per domain."""
    columns = {}
    for domain, group in records.groupby("domain", sort=False):
        metric = _metric(group)
        table = summarize(group, metric).droplevel("domain")
        short = SHORT.get(domain, domain)
        digits = 3 if metric == "accuracy" else 4
        columns[f"{short} mean"] = table["cross mean"].map(f"{{:.{digits}f}}".format)
        columns[f"{short} worst"] = table["worst pair"].map(f"{{:.{digits}f}}".format)
        columns[f"{short} std"] = table["seed std"].map(f"{{:.{digits}f}}".format)
        columns[f"{short} n"] = table["seeds"]
    frame = pd.DataFrame(columns)
    return frame.reindex([n for n in names if n in frame.index]).fillna("")


def write_report(records_path: Path, report_path: Path, sections, header="") -> None:
    """``sections``: (title, text, variant names) triples, in order."""
    records = load_records(records_path)
    lines = ["# Stitching quality (issue 10)", "", header, ""]
    for title, text, names in sections:
        subset = records[records["variant"].isin(names)]
        if not len(subset):
            continue
        lines += [f"## {title}", "", text, ""]
        lines += [side_by_side(subset, names).to_markdown(), ""]
    lines += ["## Per pair (mean ± std over seeds)", ""]
    for domain, group in records.groupby("domain", sort=False):
        metric = _metric(group)
        digits = 3 if metric == "accuracy" else 4
        lines += [f"### {domain} ({metric})", ""]
        lines += [per_pair(group, metric, digits).to_markdown(), ""]
    report_path.write_text("\n".join(lines))
    print(f"wrote {report_path}")
