"""Summarise the runner's committed results for the "Choosing similarities" page.

The page quotes measured numbers, and those change whenever the experiment
runner's report (``docs/results/report.md``) or the kernel benchmarks
(``benchmarks/RESULTS.md``) are regenerated. So the numbers are never typed into
the page: :func:`generate` reads both files at build time and writes
``_generated/results_summary.rst.inc``, which ``choosing_similarities.rst``
includes.

The parser reads the Markdown tables the runner writes: a ``method`` column,
then one column per ``train→test`` pair, cells ``"mean ± std"`` (or ``n/a``).
A stitching table is found under each ``###`` heading of the "Zero-shot
stitching" section and under the "Reconstruction stitching" section; MSE tables
(lower is better) are told apart by "MSE" in their section's text. A method
named ``absolute`` is the raw-embedding baseline, one starting with ``product``
a product of invariances, any other a single similarity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

OUTPUT = Path("_generated") / "results_summary.rst.inc"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks" / "RESULTS.md"
_CELL = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*±\s*(\d+(?:\.\d+)?)\s*$")


@dataclass
class Table:
    """One Markdown table: its header row and its body rows, as text cells."""

    header: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    """A heading, the text below it and its tables (up to the next heading)."""

    level: int
    title: str
    text: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)


@dataclass
class Stitching:
    """Scores of every method on every train→test pair of one domain."""

    name: str
    lower_is_better: bool
    pairs: list[str]
    scores: dict[str, list[float | None]]

    def cross_pairs(self) -> list[int]:
        """Indices of the pairs whose train and test encoders differ."""
        indices = []
        for index, pair in enumerate(self.pairs):
            source, _, target = pair.partition("→")
            if source.strip() != target.strip():
                indices.append(index)
        return indices

    def mean_cross(self, method: str) -> float | None:
        values = [self.scores[method][i] for i in self.cross_pairs()]
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    def worst_cross(self, method: str) -> tuple[float, str] | None:
        values = [
            (self.scores[method][i], self.pairs[i])
            for i in self.cross_pairs()
            if self.scores[method][i] is not None
        ]
        if not values:
            return None
        pick = max if self.lower_is_better else min
        return pick(values, key=lambda item: item[0])

    def best(self, methods: list[str], column: int | None = None):
        """The best of ``methods`` by mean cross score, or on one pair."""
        scored = []
        for method in methods:
            value = (
                self.mean_cross(method)
                if column is None
                else self.scores[method][column]
            )
            if value is not None:
                scored.append((value, method))
        if not scored:
            return None
        pick = min if self.lower_is_better else max
        value, method = pick(scored, key=lambda item: item[0])
        return method, value

    def worst(self, methods: list[str], column: int):
        scored = [
            (self.scores[m][column], m)
            for m in methods
            if self.scores[m][column] is not None
        ]
        if not scored:
            return None
        pick = max if self.lower_is_better else min
        value, method = pick(scored, key=lambda item: item[0])
        return method, value

    def singles(self) -> list[str]:
        return [m for m in self.scores if m != "absolute" and not is_product(m)]

    def products(self) -> list[str]:
        return [m for m in self.scores if is_product(m)]


def is_product(method: str) -> bool:
    return method.startswith("product")


def parse_markdown(text: str) -> list[Section]:
    """Split the report into sections with their tables."""
    sections = [Section(0, "")]
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        heading = re.match(r"^(#+)\s+(.*)$", line)
        if heading:
            sections.append(Section(len(heading.group(1)), heading.group(2).strip()))
        elif line.startswith("|"):
            block = []
            while index < len(lines) and lines[index].startswith("|"):
                block.append(_cells(lines[index]))
                index += 1
            body = [
                row
                for row in block[1:]
                if not all(re.fullmatch(r":?-+:?", c) for c in row)
            ]
            sections[-1].tables.append(Table(block[0], body))
            continue
        else:
            sections[-1].text.append(line)
        index += 1
    return sections


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_score(cell: str) -> float | None:
    """The mean of a ``"mean ± std"`` cell; None for ``n/a``."""
    if cell.strip() == "n/a":
        return None
    match = _CELL.match(cell)
    if match is None:
        raise ValueError(f"cannot read the score {cell!r}; expected 'mean ± std'.")
    return float(match.group(1))


def stitching_tables(sections: list[Section]) -> list[Stitching]:
    """The stitching tables of the report, one per domain, in report order."""
    found = []
    parent = ""
    for section in sections:
        if section.level <= 2:
            parent = section.title
        is_stitching = parent.lower().startswith(
            ("zero-shot stitching", "reconstruction")
        )
        if not is_stitching or not section.tables:
            continue
        table = section.tables[0]
        if not table.header or table.header[0] != "method":
            continue
        if not any("→" in column for column in table.header[1:]):
            continue
        name = section.title if section.level > 2 else parent
        lower = "MSE" in " ".join(section.text)
        scores = {row[0]: [parse_score(c) for c in row[1:]] for row in table.rows}
        found.append(Stitching(name, lower, table.header[1:], scores))
    if not found:
        raise ValueError(
            "found no stitching table in the report (a '| method | A→B |' table "
            "under 'Zero-shot stitching' or 'Reconstruction'); the report's format "
            "changed, so docs/_results_summary.py needs updating."
        )
    return found


@dataclass
class Routes:
    """The report's route comparison of one domain (``### Stitching routes: X``)."""

    name: str
    verdict: str
    routes: Table
    sweep: Table | None


def route_tables(sections: list[Section]) -> list[Routes]:
    """Every "Stitching routes" section of the report, in report order."""
    found = []
    for section in sections:
        if not section.title.startswith("Stitching routes: ") or not section.tables:
            continue
        routes = section.tables[0]
        if "mean over pairs" not in routes.header:
            raise ValueError(
                f"the route table of {section.title!r} has no 'mean over pairs' "
                "column; the report's format changed, so docs/_results_summary.py "
                "needs updating."
            )
        sweep = next(
            (t for t in section.tables[1:] if t.header[0].endswith("by anchors")), None
        )
        verdict = next(
            (line for line in section.text if line.startswith("Best route")), ""
        )
        name = section.title.removeprefix("Stitching routes: ")
        found.append(Routes(name, verdict, routes, sweep))
    return found


def _routes_summary(routes: Routes) -> list[str]:
    title = f"Routes: {routes.name}"
    lines = [title, "~" * len(title), ""]
    if routes.verdict:
        lines += [routes.verdict, ""]
    header = routes.routes.header
    mean, worst = header.index("mean over pairs"), header.index("worst pair")
    rows = [[f"``{row[0]}``", row[mean], row[worst]] for row in routes.routes.rows]
    lines += _list_table(["model · route", "mean over pairs", "worst pair"], rows)
    if routes.sweep is not None:
        lines += [
            "By number of anchors (mean over pairs, ± std over seeds):",
            "",
        ]
        lines += _list_table(
            ["model · route", *routes.sweep.header[1:]],
            [[f"``{row[0]}``", *row[1:]] for row in routes.sweep.rows],
        )
    return lines


def kernel_costs(text: str) -> dict[str, str]:
    """Similarity -> float32 time relative to a matmul, from the benchmark table."""
    for section in parse_markdown(text):
        for table in section.tables:
            if table.header[:3] == ["similarity", "implementation", "float32"]:
                return {
                    row[0]: row[2] for row in table.rows if row[1] == "sklearn_relrep"
                }
    return {}


def _format(value: float | None, lower_is_better: bool) -> str:
    if value is None:
        return "n/a"
    return f"{value:.4f}" if lower_is_better else f"{value:.3f}"


def _list_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines += [f"     - {cell}" for cell in row[1:]]
    return [*lines, ""]


def _domain_summary(domain: Stitching) -> list[str]:
    lower = domain.lower_is_better
    metric = "test MSE, lower is better" if lower else "test accuracy"
    lines = [domain.name, "~" * len(domain.name), ""]
    best_single = domain.best(domain.singles())
    best_product = domain.best(domain.products())
    summary = []
    if best_single:
        summary.append(
            f"best single similarity **{best_single[0]}** "
            f"({_format(best_single[1], lower)})"
        )
    if best_product:
        summary.append(
            f"best product **{best_product[0]}** ({_format(best_product[1], lower)})"
        )
    if "absolute" in domain.scores:
        summary.append(
            f"absolute baseline {_format(domain.mean_cross('absolute'), lower)}"
        )
    lines += [
        f"Mean over the {len(domain.cross_pairs())} cross-encoder pairs ({metric}): "
        + "; ".join(summary)
        + ".",
        "",
    ]
    verdict = _product_verdict(domain)
    if verdict:
        lines += [verdict, ""]
    rows = []
    for method in domain.scores:
        worst = domain.worst_cross(method)
        rows.append(
            [
                f"``{method}``",
                _format(domain.mean_cross(method), lower),
                "n/a" if worst is None else f"{_format(worst[0], lower)} ({worst[1]})",
            ]
        )
    lines += _list_table(["method", "mean across encoders", "worst pair"], rows)
    pair_rows = []
    for column in domain.cross_pairs():
        best = domain.best(domain.singles(), column)
        worst = domain.worst(domain.singles(), column)
        product = domain.best(domain.products(), column)
        pair_rows.append(
            [
                domain.pairs[column],
                "n/a" if best is None else f"{best[0]} ({_format(best[1], lower)})",
                "n/a" if worst is None else f"{worst[0]} ({_format(worst[1], lower)})",
                "n/a"
                if product is None
                else f"{product[0]} ({_format(product[1], lower)})",
            ]
        )
    lines += _list_table(
        ["pair", "best single", "worst single", "best product"], pair_rows
    )
    return lines


def _product_verdict(domain: Stitching) -> str:
    """How the best product compares with the best and worst single similarity."""
    singles = domain.singles()
    best_single = domain.best(singles)
    best_product = domain.best(domain.products())
    if not (best_single and best_product):
        return ""
    means = [(domain.mean_cross(m), m) for m in singles]
    pick = max if domain.lower_is_better else min
    worst_value, worst_name = pick(
        (item for item in means if item[0] is not None), key=lambda item: item[0]
    )
    sign = -1 if domain.lower_is_better else 1
    gap_best = sign * (best_product[1] - best_single[1])
    gap_worst = sign * (best_product[1] - worst_value)

    def amount(gap: float) -> str:
        size = (
            f"{abs(gap):.4f} MSE"
            if domain.lower_is_better
            else f"{abs(gap) * 100:.1f} points"
        )
        return f"{size} {'better' if gap >= 0 else 'worse'}"

    return (
        f"The best product is {amount(gap_best)} than the best single similarity "
        f"({best_single[0]}) and {amount(gap_worst)} than the worst "
        f"({worst_name})."
    )


def render(report_text: str, benchmark_text: str = "") -> str:
    """The reST that ``choosing_similarities.rst`` includes."""
    domains = stitching_tables(parse_markdown(report_text))
    domains.sort(key=lambda domain: domain.lower_is_better)  # accuracy first
    lines = [
        ".. This file is written at build time by docs/_results_summary.py from",
        "   docs/results/report.md; do not edit it.",
        "",
    ]
    for domain in domains:
        lines += _domain_summary(domain)
    for routes in route_tables(parse_markdown(report_text)):
        lines += _routes_summary(routes)
    costs = kernel_costs(benchmark_text)
    if costs:
        lines += [
            "Compute cost",
            "~~~~~~~~~~~~",
            "",
            "Time of each similarity's transform relative to one matrix product of "
            "the same shape (float32, from ``benchmarks/RESULTS.md``); a product "
            "space computes all of them on the same anchors, and returns one "
            "block of ``n_anchors`` columns per similarity:",
            "",
        ]
        lines += _list_table(
            ["similarity", "time / matmul"],
            [[f"``{name}``", ratio] for name, ratio in costs.items()],
        )
    return "\n".join(lines) + "\n"


def generate(report: Path, output: Path, benchmarks: Path = BENCHMARKS) -> str:
    """Write the summary of ``report`` into ``output`` (only when it changed)."""
    benchmark_text = (
        benchmarks.read_text(encoding="utf-8") if benchmarks.exists() else ""
    )
    text = render(report.read_text(encoding="utf-8"), benchmark_text)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not output.exists() or output.read_text(encoding="utf-8") != text:
        output.write_text(text, encoding="utf-8")
    return text
