"""The four experiments: each fills its report section and returns a summary.

They take the same keyword arguments; ``models`` (a
:class:`~sklearn_relrep.experiments._stitching_experiment.FittedModels`) holds
the fitted pipelines that one experiment of the run shares with another.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..stitching import PRODUCT_AGGREGATION
from ._figures import (
    pca_view,
    similarity_matrices,
    stitching_matrices,
)
from ._finetune_experiment import finetune_experiment
from ._invariance_section import invariance_section
from ._methods import SINGLE_SIMILARITIES, Method, default_methods, head_params
from ._report import bar_chart, format_mean_std, pyplot, summarize
from ._routes_section import main_records, route_section
from ._stitching_experiment import relative_pair, run_stitching, stitch_to

__all__ = ["EXPERIMENT_FUNCTIONS"]


DEFAULT_PRODUCT = f"product/{PRODUCT_AGGREGATION}"
ATTENTION = "product/attention"


def _cross_mean(records: pd.DataFrame, metric: str) -> pd.Series:
    cross = records[records["train"] != records["test"]].dropna(subset=[metric])
    return cross.groupby("method", sort=False)[metric].mean()


def stitching(
    *, get_domain, domains, settings, device, report, progress, models
) -> str:
    report.heading("Zero-shot stitching")
    report.text(
        "Rows: how embeddings reach the head (absolute = raw embeddings; a single "
        "similarity with the reference settings, and cosine on inputs centred by "
        "the anchors' mean; the product of all four with an aggregation, "
        f"{DEFAULT_PRODUCT} being the default pipeline; product/logreg is the "
        "baseline: a plain LogisticRegression on the product features, each "
        "subspace standardised with its own anchors' statistics). Columns: "
        "train space → test space; the diagonal is the same-encoder reference. "
        "Cells: test accuracy, mean ± std over seeds. Absolute cells between "
        "spaces of different widths are n/a."
    )
    summaries = []
    for key in domains:
        domain = get_domain(key)
        n_train = len(domain.y_train)
        all_records = run_stitching(
            domain,
            default_methods(),
            seeds=settings.seeds,
            n_anchors=settings.n_anchors,
            device=device,
            head=head_params(settings),
            progress=progress,
            n_jobs=settings.n_jobs,
            with_routes=True,
            anchor_sweep=tuple(k for k in settings.anchor_sweep if k <= n_train),
            swept=("absolute", DEFAULT_PRODUCT),
            models=models,
        )
        report.records(all_records, f"{key}_stitching_records")
        records = main_records(all_records, settings.n_anchors)
        table = format_mean_std(summarize(records, "accuracy"))
        report.heading(domain.name, 3)
        report.table(table)
        report.table(
            format_mean_std(summarize(records, "macro_f1")).rename_axis("macro F1")
        )
        report.figure(
            stitching_matrices(records, f"{domain.name}: zero-shot stitching"),
            f"{key}_stitching_matrices",
            "stitching matrix of every method (rows: trained on; columns: tested on)",
        )
        cross = records[records["train"] != records["test"]]
        report.figure(
            bar_chart(
                summarize(cross, "accuracy", columns="pair"),
                f"{domain.name}: cross-encoder accuracy",
                "accuracy",
            ),
            f"{key}_stitching_bars",
            "cross-encoder accuracy per projection",
        )
        source, target = list(domain.spaces)[:2]
        report.figure(
            pca_view(
                domain,
                source,
                target,
                n_anchors=settings.n_anchors,
                seed=settings.seeds[0],
                device=device,
            ),
            f"{key}_pca_view",
            "PCA of two encoders' absolute and relative (cosine) spaces",
        )
        verdicts = [
            _verdict(_cross_mean(records, "accuracy")),
            _against_baseline(records),
            _attention_standing(records, "accuracy"),
        ]
        for verdict in filter(None, verdicts):
            report.text(verdict)
        verdict = "\n".join(filter(None, verdicts))
        title = f"Zero-shot stitching accuracy, {domain.name}"
        summaries.append(f"{title}\n{table.to_string()}\n{verdict}")
        summaries.append(
            route_section(
                all_records,
                metric="accuracy",
                n_anchors=settings.n_anchors,
                report=report,
                key=key,
                title=domain.name,
                sweep=len(set(all_records["n_anchors"])) > 1,
            )
        )
        summaries.append(
            invariance_section(
                domain, records, settings=settings, device=device, report=report
            )
        )
    return "\n\n".join(summaries)


def _against_baseline(records: pd.DataFrame) -> str:
    """Say per pair whether the default pipeline beats the logistic baseline."""
    cross = records[records["train"] != records["test"]]
    means = cross.pivot_table(
        index="method", columns="pair", values="accuracy", aggfunc="mean"
    )
    if not {DEFAULT_PRODUCT, "product/logreg"} <= set(means.index):
        return ""
    gaps = means.loc[DEFAULT_PRODUCT] - means.loc["product/logreg"]
    worse = [pair for pair, gap in gaps.items() if gap < 0]
    return (
        f"Default pipeline ({DEFAULT_PRODUCT}) minus the logistic-regression "
        f"baseline, per pair: "
        + ", ".join(f"{pair} {gap:+.3f}" for pair, gap in gaps.items())
        + (
            f"; it is below the baseline on {worse}."
            if worse
            else "; it is at least as good on every pair."
        )
    )


def _attention_standing(records: pd.DataFrame, metric: str) -> str:
    """Where the attention blender stands against the default product."""
    cross = _cross_mean(records, metric)
    if ATTENTION not in cross or DEFAULT_PRODUCT not in cross:
        return ""
    return (
        f"The attention blender ({ATTENTION}) scores {cross[ATTENTION]:.4g} on the "
        f"mean over cross pairs, against {cross[DEFAULT_PRODUCT]:.4g} for the "
        f"default {DEFAULT_PRODUCT}; it is kept for the fine-tuning of its Q/K/V, "
        "not as the default."
    )


def _verdict(cross: pd.Series, higher_is_better: bool = True) -> str:
    """Say plainly whether the best product beats the best single similarity."""
    sign = 1 if higher_is_better else -1
    single_names = [n for n in cross.index if n.split("/")[0] in SINGLE_SIMILARITIES]
    singles = sign * cross[single_names]
    products = (
        sign
        * cross[
            [
                n
                for n in cross.index
                if n.startswith("product/") and n != "product/logreg"
            ]
        ]
    )
    single, product = singles.idxmax(), products.idxmax()
    outcome = (
        "matches or beats" if products.max() >= singles.max() else "does NOT match"
    )
    return (
        f"Mean cross-encoder score: best single similarity {single} = "
        f"{cross[single]:.3f}; best product aggregation {product} = "
        f"{cross[product]:.3f}; the product {outcome} the best single similarity."
    )


def similarity(
    *, get_domain, domains, settings, device, report, progress, models
) -> str:
    from ..metrics import (
        knn_jaccard_score,
        linear_cka,
        mean_cosine_similarity,
        mean_reciprocal_rank,
    )

    report.heading("Latent similarity across encoders")
    report.text(
        "For each pair of spaces, the test samples' representations under each "
        "projection (anchors parallel, seeds averaged): mean cosine of paired "
        "vectors, mutual 10-NN Jaccard, retrieval MRR, and linear CKA."
    )
    methods = [
        Method("absolute", None),
        *(Method(s, (s,)) for s in SINGLE_SIMILARITIES),
        Method("product", SINGLE_SIMILARITIES),
    ]
    records = []
    for key in domains:
        domain = get_domain(key)
        names = list(domain.spaces)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        for (a, b), method, seed in tqdm(
            [(p, m, s) for p in pairs for m in methods for s in settings.seeds],
            desc=f"similarity {domain.name}",
            disable=not progress,
        ):
            A, B = domain.spaces[a], domain.spaces[b]
            if method.is_relative:
                relative = method.relative_step(
                    n_anchors=settings.n_anchors, seed=seed, device=device
                )
                ZA, ZB = relative_pair(relative, A, B)
            else:
                ZA, ZB = A.test, B.test
            same_width = ZA.shape[1] == ZB.shape[1]
            records.append(
                dict(
                    domain=domain.name,
                    pair=f"{a}↔{b}",
                    method=method.name,
                    seed=seed,
                    mean_cosine=mean_cosine_similarity(ZA, ZB)
                    if same_width
                    else np.nan,
                    jaccard_10=knn_jaccard_score(ZA, ZB, n_neighbors=10),
                    mrr=mean_reciprocal_rank(ZA, ZB) if same_width else np.nan,
                    linear_cka=linear_cka(ZA, ZB),
                )
            )
    records = pd.DataFrame.from_records(records)
    summaries = []
    for metric in ("mean_cosine", "jaccard_10", "mrr", "linear_cka"):
        table = format_mean_std(summarize(records, metric))
        report.heading(metric, 3)
        report.table(table)
        summaries.append(f"{metric}\n{table.to_string()}")
        report.figure(
            similarity_matrices(records, metric, relative="cosine"),
            f"similarity_{metric}",
            f"{metric} between encoders, absolute against relative (cosine); "
            "the diagonal is 1 by definition",
        )
    return "Latent similarity\n" + "\n\n".join(summaries)


def reconstruction(
    *, get_domain, domains, settings, device, report, progress, models
) -> str:
    report.heading("Reconstruction stitching (MNIST autoencoders)")
    report.text(
        "A StitchingRegressor decodes the relative representation of autoencoder A's "
        "latents to pixels; it is stitched zero-shot to autoencoder B. Cells: test "
        "MSE (lower is better). The absolute row decodes B's raw latents with a "
        "decoder trained on A's."
    )
    domain = get_domain("vision-ae")
    methods = default_methods(logistic_baseline=False)
    head = head_params(settings)
    if settings.reconstruction_epochs is not None:
        head = {**head, "max_epochs": settings.reconstruction_epochs}
    all_records = run_stitching(
        domain,
        methods,
        seeds=settings.seeds,
        n_anchors=settings.n_anchors,
        device=device,
        head=head,
        progress=progress,
        label="reconstruction",
        n_jobs=settings.n_jobs,
        with_routes=True,
        models=models,
        keep=lambda method, source, seed: (
            source == _grid_source(domain) and seed == settings.seeds[0]
        ),
    )
    report.records(all_records, "reconstruction_records")
    records = main_records(all_records, settings.n_anchors)
    table = format_mean_std(summarize(records, "mse"), digits=4)
    report.table(table)
    report.text(_verdict(_cross_mean(records, "mse"), higher_is_better=False))
    report.text(_attention_standing(records, "mse"))
    report.figure(
        _reconstruction_grid(domain, methods, settings, device, head, models),
        "reconstruction_grid",
        "reconstructions",
    )
    routes = route_section(
        all_records,
        metric="mse",
        n_anchors=settings.n_anchors,
        report=report,
        key="reconstruction",
        title=domain.name,
        sweep=False,
    )
    return f"Reconstruction MSE, {domain.name}\n{table.to_string()}\n\n{routes}"


def _grid_source(domain) -> str:
    """The space whose decoders the reconstruction grid shows."""
    return next(iter(domain.spaces))


def _reconstruction_grid(domain, methods, settings, device, head, models):
    """Eight test digits decoded by each method's first-seed decoder, fitted on
    the first space and stitched to the last; the decoders are those the
    reconstruction runs kept in ``models``."""
    plt = pyplot()
    names = list(domain.spaces)
    source, target = _grid_source(domain), names[-1]
    seed = settings.seeds[0]
    shown = domain.y_test[:8]
    rows = {"input": shown}
    build = dict(n_anchors=settings.n_anchors, device=device, head=head)
    for method in methods:
        model = models.get(models.key(domain, method, source, seed, **build))
        stitched = stitch_to(model, method, domain, target)
        if stitched is not None:
            rows[f"{method.name}\n{source}→{target}"] = stitched.predict(
                domain.spaces[target].test[:8]
            )
    side = int(np.sqrt(shown.shape[1]))
    figure, axes = plt.subplots(len(rows), 8, figsize=(9.5, 1.1 * len(rows)))
    for r, (label, images) in enumerate(rows.items()):
        for c in range(8):
            axes[r, c].imshow(np.clip(images[c], 0, 1).reshape(side, side), cmap="gray")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
    return figure


EXPERIMENT_FUNCTIONS = {
    "stitching": stitching,
    "similarity": similarity,
    "finetune": finetune_experiment,
    "reconstruction": reconstruction,
}
