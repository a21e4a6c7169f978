"""Fine-tuning at stitching time: zero-shot, then a few labelled target samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .. import finetune
from ._figures import FINETUNE_MODES, ZERO_SHOT, finetune_curves
from ._methods import SINGLE_SIMILARITIES, Method, head_params
from ._report import format_mean_std, summarize
from ._stitching_experiment import fit_method, stitch_to

__all__ = ["finetune_experiment"]


def finetune_experiment(
    *, get_domain, domains, settings, device, report, progress, models
) -> str:
    """Fill the report's fine-tuning section; return its table as text.

    The attention models it fits are put in ``models``, where the stitching
    experiment finds them (the same method, spaces, seeds and head).
    """
    report.heading("Fine-tuning at stitching time")
    report.text(
        "A product space with the attention blender is trained on the source space "
        "and stitched zero-shot to the target space; then N labelled target samples "
        "fine-tune only the blender's Q/K/V (QKV opt), only the MLP head (MLP opt), "
        "or every parameter. Cells: target test accuracy."
    )
    method = Method("product/attention", SINGLE_SIMILARITIES, "attention")
    build = dict(
        n_anchors=settings.n_anchors, device=device, head=head_params(settings)
    )
    jobs = []
    for key in domains:
        domain = get_domain(key)
        names = list(domain.spaces)
        # The pairs (first space -> each other one, second -> first), grouped by
        # source so that each source's model is fitted once per seed.
        targets = {names[0]: names[1:], names[1]: [names[0]]}
        jobs += [
            (domain, source, targets[source], seed)
            for source in targets
            for seed in settings.seeds
        ]
    keys = [
        models.key(domain, method, source, seed, **build)
        for domain, source, _, seed in jobs
    ]
    runs = Parallel(n_jobs=settings.n_jobs, return_as="generator")(
        delayed(_finetune_one)(
            domain,
            method,
            source,
            targets,
            seed,
            settings,
            model=models.get(key),
            **build,
        )
        for (domain, source, targets, seed), key in zip(jobs, keys, strict=True)
    )
    records = []
    for key, (run, model) in zip(
        keys,
        tqdm(runs, total=len(jobs), desc="finetune", disable=not progress),
        strict=True,
    ):
        records.extend(run)
        models.put(key, model)
    records = pd.DataFrame.from_records(records)
    records["setting"] = records["method"] + " N=" + records["n_labelled"].astype(str)
    table = format_mean_std(
        summarize(records.assign(method=records["setting"]), "accuracy")
    )
    report.table(table)
    report.figure(
        finetune_curves(records),
        "finetune_curves",
        "accuracy against the number of labelled target samples",
    )
    return f"Fine-tuning at stitching time (accuracy)\n{table.to_string()}"


def _finetune_one(domain, method, source, targets, seed, settings, *, model, **build):
    """Zero-shot, then each fine-tuning mode and size, from ``source`` to each of
    ``targets`` with one seed: the records, and the model fitted on ``source``
    (``model``, if given)."""
    if model is None:
        model = fit_method(domain, method, source, seed, **build)
    records = []
    for target in targets:
        records += _finetuned_records(
            domain, method, model, source, target, seed, settings
        )
    return records, model


def _finetuned_records(domain, method, model, source, target, seed, settings):
    """The records of ``model`` (fitted on ``source``) stitched to ``target``."""
    space = domain.spaces[target]
    stitched = stitch_to(model, method, domain, target)
    base = dict(domain=domain.name, pair=f"{source}→{target}", seed=seed)
    records = [
        dict(
            base,
            method=ZERO_SHOT,
            n_labelled=0,
            accuracy=stitched.score(space.test, domain.y_test),
        )
    ]
    rng = np.random.RandomState(seed)
    for n in settings.finetune_sizes:
        rows = rng.choice(len(space.train), n, replace=False)
        for part, label in FINETUNE_MODES.items():
            tuned = finetune(
                stitched,
                space.train[rows],
                domain.y_train[rows],
                train=part,
                max_epochs=settings.finetune_epochs,
            )
            records.append(
                dict(
                    base,
                    method=label,
                    n_labelled=n,
                    accuracy=tuned.score(space.test, domain.y_test),
                )
            )
    return records
