"""Tables, figures and the Markdown report of the experiment runner."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "Report",
    "bar_chart",
    "format_mean_std",
    "heatmap",
    "markdown_to_rst",
    "pyplot",
    "summarize",
]


def summarize(
    records: pd.DataFrame, metric: str, *, columns: str = "pair"
) -> pd.DataFrame:
    """Pivot tidy per-seed records into a ``method × columns`` table of mean and std.

    Parameters
    ----------
    records : DataFrame
        One row per (method, column, seed), with a ``metric`` column.
    metric : str
        The column to aggregate.
    columns : str, default="pair"
        The column whose values become the table's columns.

    Returns
    -------
    DataFrame
        Indexed by method (in first-seen order), with a ``(mean, std)`` column pair
        per value of ``columns``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_relrep.experiments._report import summarize
    >>> records = pd.DataFrame({"method": ["a", "a"], "pair": ["x", "x"],
    ...                         "seed": [0, 1], "accuracy": [0.5, 0.7]})
    >>> summarize(records, "accuracy").round(2).to_dict()
    {('mean', 'x'): {'a': 0.6}, ('std', 'x'): {'a': 0.1}}
    """
    grouped = records.groupby(["method", columns], sort=False)[metric]
    table = pd.concat(
        {"mean": grouped.mean().unstack(), "std": grouped.std(ddof=0).unstack()}, axis=1
    )
    order = list(dict.fromkeys(records["method"]))
    column_order = list(dict.fromkeys(records[columns]))
    table = table.reindex(index=order)
    return table.reindex(
        columns=pd.MultiIndex.from_product([["mean", "std"], column_order])
    )


def format_mean_std(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Render a :func:`summarize` table as ``"mean ± std"`` strings."""
    mean, std = table["mean"], table["std"]
    return mean.combine(
        std,
        lambda m, s: pd.Series(
            [
                "n/a" if np.isnan(a) else f"{a:.{digits}f} ± {b:.{digits}f}"
                for a, b in zip(m, s, strict=True)
            ],
            index=m.index,
        ),
    )


# Lists the files that the last report wrote into its folder, so that the next
# report into the same folder removes those it does not write again, and only
# those.
MANIFEST_NAME = ".sklearn_relrep_report.json"


class Report:
    """Collects sections, tables and figures, and writes ``report.md``.

    The same report is also written as reStructuredText, ``report.rst``, so that
    it can be committed into the Sphinx site as it is.

    Figures are drawn into a hidden staging folder inside ``output_dir`` and the
    whole report is moved into place by :meth:`write`, so that a run that fails
    half-way leaves the previous report as it was (call :meth:`discard`). The
    files that the previous report wrote and this one does not (a figure of an
    experiment not run this time) are removed; files that no report wrote are
    never touched.

    Parameters
    ----------
    output_dir : path-like
        Folder for the reports and the PNG figures; created if missing.
    """

    def __init__(self, output_dir):
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self._staging = Path(tempfile.mkdtemp(prefix=".report-", dir=self.output_dir))
        self._lines: list[str] = []

    def heading(self, text: str, level: int = 2) -> None:
        self._lines += ["", "#" * level + " " + text, ""]

    def text(self, text: str) -> None:
        self._lines += [text, ""]

    def table(self, frame: pd.DataFrame) -> None:
        self._lines += [_markdown_table(frame), ""]

    def figure(self, figure, name: str, caption: str) -> Path:
        """Save ``figure`` as ``name.png``; return where :meth:`write` puts it."""
        plt = pyplot()
        figure.savefig(self._staging / f"{name}.png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        self._lines += [f"![{caption}]({name}.png)", ""]
        return self.output_dir / f"{name}.png"

    def write(self, title: str) -> Path:
        """Write ``report.md`` and ``report.rst``; return the Markdown path."""
        markdown = "\n".join([f"# {title}", *self._lines]).rstrip() + "\n"
        (self._staging / "report.md").write_text(markdown)
        (self._staging / "report.rst").write_text(markdown_to_rst(markdown))
        written = sorted(path.name for path in self._staging.iterdir())
        stale = set(self._previous_files()) - set(written)
        for name in written:
            os.replace(self._staging / name, self.output_dir / name)
        for name in sorted(stale):
            path = self.output_dir / name
            if path.is_file() and not path.is_symlink():
                path.unlink()
        manifest = self._staging / MANIFEST_NAME
        manifest.write_text(json.dumps({"files": written}, indent=1) + "\n")
        os.replace(manifest, self.output_dir / MANIFEST_NAME)
        self._staging.rmdir()
        return self.output_dir / "report.md"

    def discard(self) -> None:
        """Drop what was staged; the folder keeps the previous report."""
        shutil.rmtree(self._staging, ignore_errors=True)

    def _previous_files(self) -> list[str]:
        """The plain file names the previous report in this folder wrote."""
        try:
            listed = json.loads((self.output_dir / MANIFEST_NAME).read_text())["files"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        return [
            name
            for name in listed
            if isinstance(name, str) and name == Path(name).name and name[:1] != "."
        ]


_RST_UNDERLINES = {1: "=", 2: "-", 3: "~"}
_IMAGE = re.compile(r"^!\[(?P<caption>[^\]]*)\]\((?P<path>[^)]+)\)$")


def markdown_to_rst(markdown: str) -> str:
    r"""Translate the Markdown subset that :class:`Report` writes into rst.

    Headings, pipe tables, images and plain paragraphs (with inline code).

    Examples
    --------
    >>> from sklearn_relrep.experiments._report import markdown_to_rst
    >>> print(markdown_to_rst("## Scores\n\n| m | a |\n|---|---|\n| x | 1 |\n"))
    Scores
    ------
    <BLANKLINE>
    .. list-table::
       :header-rows: 1
    <BLANKLINE>
       * - m
         - a
       * - x
         - 1
    <BLANKLINE>
    """
    out: list[str] = []
    for line in markdown.splitlines():
        heading = re.match(r"^(#{1,3}) (.*)$", line)
        image = _IMAGE.match(line)
        if heading:
            text = heading[2]
            out += [text, _RST_UNDERLINES[len(heading[1])] * len(text)]
        elif image:
            out += [f".. image:: {image['path']}", f"   :alt: {image['caption']}"]
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if set("".join(cells)) <= {"-"}:
                continue
            if not out or not out[-1].startswith(("   *", "     -", ".. list-table")):
                out += [".. list-table::", "   :header-rows: 1", ""]
            out += [f"   * - {cells[0] or '..'}"] + [f"     - {c}" for c in cells[1:]]
        else:
            out.append(re.sub(r"(?<!`)`([^`]+)`(?!`)", r"``\1``", line))
    return "\n".join(out).rstrip() + "\n"


def _markdown_table(frame: pd.DataFrame) -> str:
    frame = frame.reset_index()
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.to_numpy()]
    return "\n".join([header, rule, *rows])


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (the runner has no screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def heatmap(matrix: pd.DataFrame, title: str, *, vmin=None, vmax=None, fmt=".2f"):
    """A labelled heatmap of a square or rectangular table."""
    plt = pyplot()
    figure, axis = plt.subplots(
        figsize=(1.2 + 1.1 * matrix.shape[1], 1.0 + 0.6 * matrix.shape[0])
    )
    image = axis.imshow(
        matrix.to_numpy(dtype=float), cmap="viridis", vmin=vmin, vmax=vmax
    )
    axis.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=35, ha="right")
    axis.set_yticks(range(matrix.shape[0]), matrix.index)
    for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
        if not np.isnan(value):
            axis.text(
                j,
                i,
                format(value, fmt),
                ha="center",
                va="center",
                color="w",
                fontsize=8,
            )
    axis.set_title(title)
    figure.colorbar(image, ax=axis, shrink=0.8)
    return figure


def bar_chart(table: pd.DataFrame, title: str, ylabel: str):
    """Grouped bars with standard-deviation error bars, from :func:`summarize`."""
    plt = pyplot()
    mean, std = table["mean"], table["std"]
    figure, axis = plt.subplots(figsize=(2.0 + 0.9 * len(mean.index), 3.6))
    width = 0.8 / max(len(mean.columns), 1)
    x = np.arange(len(mean.index))
    for i, column in enumerate(mean.columns):
        axis.bar(
            x + i * width,
            mean[column],
            width,
            yerr=std[column],
            label=str(column),
            capsize=2,
        )
    axis.set_xticks(x + 0.4 - width / 2, mean.index, rotation=35, ha="right")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.legend(fontsize=7)
    return figure
