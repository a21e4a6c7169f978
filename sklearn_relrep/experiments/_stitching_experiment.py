"""Zero-shot stitching: train on one encoder's space, test on every other's."""

from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from .._zero_shot import _scores, zero_shot_stitch
from ._domains import Domain
from ._methods import Method

__all__ = ["run_stitching"]


def stitch_to(model, method: Method, domain: Domain, target: str):
    """``model`` (fitted on some space) made to read ``target``'s space, or None."""
    space = domain.spaces[target]
    if not method.is_relative:
        width = model[-1].n_features_in_
        return model if space.test.shape[1] == width else None
    anchors = space.train[model[0].anchor_indices_]
    return zero_shot_stitch(model, anchors)


def run_stitching(
    domain: Domain,
    methods: list[Method],
    *,
    seeds,
    n_anchors,
    device,
    head: dict,
    progress: bool = True,
    label: str = "stitching",
) -> pd.DataFrame:
    """Every method × train space × test space × seed, as tidy records.

    ``label`` names the progress bar, before the domain's name.

    Returns
    -------
    DataFrame
        Columns ``domain, method, train, test, pair, seed`` and the scores
        (``accuracy`` and ``macro_f1``, or ``mse``).
    """
    records = []
    jobs = [(m, a, s) for s in seeds for m in methods for a in domain.spaces]
    for method, source, seed in tqdm(
        jobs, desc=f"{label} {domain.name}", disable=not progress
    ):
        model = method.build(
            task=domain.task, n_anchors=n_anchors, seed=seed, device=device, head=head
        )
        model.fit(domain.spaces[source].train, domain.y_train)
        for target, space in domain.spaces.items():
            stitched = stitch_to(model, method, domain, target)
            scores = (
                _scores(stitched, space.test, domain.y_test)
                if stitched is not None
                else {}
            )
            records.append(
                dict(
                    domain=domain.name,
                    method=method.name,
                    train=source,
                    test=target,
                    pair=f"{source}→{target}",
                    seed=seed,
                    **scores,
                )
            )
    return pd.DataFrame.from_records(records)
