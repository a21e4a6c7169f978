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
    "annotation_color",
    "bar_chart",
    "format_mean_std",
    "heatmaps",
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

    def records(self, frame: pd.DataFrame, name: str) -> None:
        """Save the tidy records behind the tables as ``name.csv``."""
        frame.to_csv(self._staging / f"{name}.csv", index=False)

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


def annotation_color(rgba) -> str:
    """The text colour, ``"white"`` or ``"black"``, that reads best on ``rgba``.

    The one of the two with the higher WCAG contrast ratio against the cell's
    relative luminance: white on dark cells, black on light ones.

    Parameters
    ----------
    rgba : sequence of float
        The cell's colour, channels in ``[0, 1]`` (alpha ignored).

    Returns
    -------
    str
        ``"white"`` or ``"black"``.

    Examples
    --------
    >>> annotation_color((0.27, 0.0, 0.33, 1.0)), annotation_color((0.99, 0.9, 0.14))
    ('white', 'black')
    """
    channels = np.asarray(rgba, dtype=float)[:3]
    linear = np.where(
        channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4
    )
    luminance = float(linear @ [0.2126, 0.7152, 0.0722])
    on_white = 1.05 / (luminance + 0.05)
    on_black = (luminance + 0.05) / 0.05
    return "white" if on_white > on_black else "black"


def heatmaps(
    panels: dict[str, pd.DataFrame],
    title: str,
    *,
    xlabel: str,
    ylabel: str,
    vmin: float = 0.0,
    vmax: float = 1.0,
    fmt: str = ".2f",
    ncols: int | None = None,
    colorbar_label: str = "",
):
    """Small multiples of annotated heatmaps sharing one colour scale and bar.

    Each cell shows its value in white or black by :func:`annotation_color`;
    missing cells are grey and read ``n/a``. The axis labels are written on the
    outer panels only, the tick labels on every panel.

    Parameters
    ----------
    panels : dict of str to DataFrame
        Panel title to matrix (rows on the y axis, columns on the x axis).
    title : str
        The figure's title.
    xlabel, ylabel : str
        What the columns and the rows are.
    vmin, vmax : float, default=0.0, 1.0
        The shared colour scale.
    fmt : str, default=".2f"
        Format of the annotations.
    ncols : int, optional
        Panels per row; all in one row by default.
    colorbar_label : str, default=""
        The colour bar's label.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    plt = pyplot()
    ncols = min(ncols or len(panels), len(panels))
    nrows = -(-len(panels) // ncols)
    n_rows, n_cols = np.max([m.shape for m in panels.values()], axis=0)
    width = 0.6 + ncols * (1.2 + 0.6 * n_cols)
    height = 0.6 + nrows * (1.4 + 0.5 * n_rows)
    figure, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width, height),
        squeeze=False,
        layout="constrained",
    )
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")
    norm = Normalize(vmin, vmax)
    drawn = axes.flat[: len(panels)]
    for index, (axis, (name, matrix)) in enumerate(
        zip(drawn, panels.items(), strict=True)
    ):
        values = matrix.to_numpy(dtype=float)
        axis.imshow(values, cmap=cmap, norm=norm)
        axis.set_xticks(range(values.shape[1]), matrix.columns, rotation=35, ha="right")
        axis.set_yticks(range(values.shape[0]), matrix.index)
        for (i, j), value in np.ndenumerate(values):
            missing = np.isnan(value)
            axis.text(
                j,
                i,
                "n/a" if missing else format(value, fmt),
                ha="center",
                va="center",
                fontsize=8,
                color="black" if missing else annotation_color(cmap(norm(value))),
            )
        axis.set_title(name, fontsize=9)
        if index % ncols == 0:
            axis.set_ylabel(ylabel, fontsize=8)
        if index + ncols >= len(panels):
            axis.set_xlabel(xlabel, fontsize=8)
    for axis in axes.flat[len(panels) :]:
        axis.remove()
    figure.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=list(drawn),
        shrink=0.8,
        label=colorbar_label,
    )
    figure.suptitle(title)
    return figure


def bar_chart(table: pd.DataFrame, title: str, ylabel: str):
    """Grouped bars with standard-deviation error bars, from :func:`summarize`.

    The legend sits to the right of the axes, where it covers no bar; the
    constrained layout keeps it inside the figure.
    """
    plt = pyplot()
    mean, std = table["mean"], table["std"]
    figure, axis = plt.subplots(
        figsize=(3.5 + 0.9 * len(mean.index), 3.6), layout="constrained"
    )
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
    axis.legend(
        fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0
    )
    return figure
