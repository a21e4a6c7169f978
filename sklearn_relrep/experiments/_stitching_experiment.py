"""Zero-shot stitching: train on one encoder's space, test on every other's."""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .. import stitching_matrix, zero_shot_stitch
from ._domains import Domain, Space
from ._methods import Method

__all__ = ["relative_pair", "run_stitching", "stitch_to"]


def stitch_to(model, method: Method, domain: Domain, target: str):
    """``model`` (fitted on some space) made to read ``target``'s space, or None."""
    space = domain.spaces[target]
    if not method.is_relative:
        width = model[-1].n_features_in_
        return model if space.test.shape[1] == width else None
    anchors = space.train[model[0].anchor_indices_]
    return zero_shot_stitch(model, anchors)


def relative_pair(relative, source: Space, target: Space):
    """Both spaces' test samples in the relative space of parallel anchors.

    ``relative`` (an unfitted relative transformer) is fitted on ``source``'s
    training samples, then reanchored on the same rows of ``target``'s.

    Returns
    -------
    source_test, target_test : ndarray
        The two test sets' relative representations, column for column.
    """
    relative = relative.fit(source.train)
    anchors = target.train[relative.anchor_indices_]
    return (
        np.asarray(relative.transform(source.test)),
        np.asarray(relative.reanchor(anchors).transform(target.test)),
    )


def _run_one(domain: Domain, method: Method, source: str, seed: int, **build):
    """Fit ``method`` on ``source`` with ``seed``; records for every target space."""
    model = method.build(task=domain.task, seed=seed, **build)
    model.fit(domain.spaces[source].train, domain.y_train)
    if method.is_relative:
        anchors = {
            target: space.train[model[0].anchor_indices_]
            for target, space in domain.spaces.items()
        }
        readable = domain.spaces
    else:  # absolute features: only the spaces of the source's width
        anchors = None
        width = model[-1].n_features_in_
        readable = {t: s for t, s in domain.spaces.items() if s.test.shape[1] == width}
    table = stitching_matrix(
        {source: model},
        anchors,
        {target: space.test for target, space in readable.items()},
        domain.y_test,
        n_jobs=1,
    )
    scores = {
        row.pop("test_space"): row
        for row in table.drop(columns="train_space").to_dict("records")
    }
    return [
        dict(
            domain=domain.name,
            method=method.name,
            train=source,
            test=target,
            pair=f"{source}→{target}",
            seed=seed,
            **scores.get(target, {}),
        )
        for target in domain.spaces
    ]


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
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Every method × train space × test space × seed, as tidy records.

    ``label`` names the progress bar, before the domain's name. The runs go
    through :class:`joblib.Parallel` with ``n_jobs``, so that an active joblib
    backend (dask, ray, spark) takes them; each run is seeded by its own seed
    only, so the records do not depend on ``n_jobs``.

    Returns
    -------
    DataFrame
        Columns ``domain, method, train, test, pair, seed`` and the scores
        (``accuracy`` and ``macro_f1``, or ``mse``).
    """
    jobs = [(m, a, s) for s in seeds for m in methods for a in domain.spaces]
    build = dict(n_anchors=n_anchors, device=device, head=head)
    runs = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_run_one)(domain, method, source, seed, **build)
        for method, source, seed in jobs
    )
    records = []
    for run in tqdm(
        runs, total=len(jobs), desc=f"{label} {domain.name}", disable=not progress
    ):
        records.extend(run)
    return pd.DataFrame.from_records(records)
