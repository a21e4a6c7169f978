"""Zero-shot stitching: train on one encoder's space, test on every other's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .. import (
    ProcrustesAligner,
    RelativeProjector,
    select_route,
    stitching_matrix,
    zero_shot_stitch,
)
from ._domains import Domain, Space
from ._methods import Method

__all__ = ["FittedModels", "fit_method", "relative_pair", "run_stitching", "stitch_to"]


def fit_method(domain: Domain, method: Method, source: str, seed: int, **build):
    """``method`` built with ``seed`` and ``build`` (``n_anchors``, ``device``,
    ``head``), fitted on ``source``'s training samples."""
    model = method.build(task=domain.task, seed=seed, **build)
    return model.fit(domain.spaces[source].train, domain.y_train)


class FittedModels:
    """Fitted pipelines that several experiments of one run share.

    A model is keyed by everything its fit depends on (see :meth:`key`), so an
    experiment that needs a model another one has fitted takes it from here
    instead of training it again. Only the models put here are kept.
    """

    def __init__(self):
        self._models = {}

    @staticmethod
    def key(domain: Domain, method: Method, source: str, seed: int, **build):
        """What decides a fit: the domain, the method, the training space, the
        seed and the build options (``n_anchors``, ``device``, ``head``)."""
        options = tuple(
            (name, tuple(sorted(value.items())) if isinstance(value, dict) else value)
            for name, value in sorted(build.items())
        )
        return domain.name, method, source, seed, options

    def get(self, key):
        """The model stored under ``key``, or None."""
        return self._models.get(key)

    def put(self, key, model) -> None:
        self._models[key] = model


def stitch_to(model, method: Method, domain: Domain, target: str):
    """``model`` (fitted on some space) made to read ``target``'s space, or None."""
    space = domain.spaces[target]
    if not method.is_relative:
        width = model[-1].n_features_in_
        return model if space.test.shape[1] == width else None
    anchors = space.train[model[0].anchor_indices_]
    return zero_shot_stitch(model, anchors, route="reanchor")


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


# The row label of a model used as it is (the absolute baseline on its own width).
AS_IS = "none"
AUTO, AUTO_LABELS = "auto", "auto (anchor labels)"
PROCRUSTES = "translate (Procrustes)"


def anchor_rows(domain: Domain, source: str, *, n_anchors: int, seed: int):
    """The training rows a relative method with ``seed`` draws as its anchors."""
    train = domain.spaces[source].train
    return (
        RelativeProjector(n_anchors=n_anchors, random_state=seed)
        .fit(train)
        .anchor_indices_
    )


def _routes_of(method: Method, with_routes: bool) -> tuple[str, ...]:
    """The routes a method is scored by; the first one also scores the diagonal."""
    if not method.is_relative:
        return (AS_IS, "translate", PROCRUSTES) if with_routes else (AS_IS,)
    if method.is_single or not with_routes:
        return ("reanchor",)
    return ("reanchor", "translate", "ensemble", AUTO, AUTO_LABELS)


def _route_scores(domain, model, method, source, target, route, rows) -> dict:
    """Scores of ``model`` (fitted on ``source``) on ``target`` by ``route``;
    ``auto`` also records the route it picked."""
    spaces = domain.spaces
    width = model[-1].n_features_in_
    if (
        route == AS_IS
        and not method.is_relative
        and spaces[target].test.shape[1] != width
    ):
        return {}
    anchors = {name: spaces[name].train[rows] for name in (source, target)}
    options, extra = {}, {}
    if route in (AUTO, AUTO_LABELS):
        # What route="auto" does, split in two so that the pick is recorded and
        # the selection runs once.
        targets = domain.y_train[rows] if route == AUTO_LABELS else None
        pick = select_route(
            model, anchors[target], anchors_A=anchors[source], anchor_targets=targets
        ).route
        route, extra = pick, {"auto_pick": pick}
    elif route == PROCRUSTES:
        route, options = "translate", {"aligner": ProcrustesAligner()}
    table = stitching_matrix(
        {source: model},
        None if route == AS_IS else anchors,
        {target: spaces[target].test},
        domain.y_test,
        route="auto" if route == AS_IS else route,
        n_jobs=1,
        **options,
    )
    row = table.drop(columns=["train_space", "test_space"]).to_dict("records")[0]
    return {**row, **extra}


def _run_one(
    domain, method, source, seed, *, anchor_counts, with_routes, model, keep, **build
):
    """Fit ``method`` on ``source`` with ``seed`` (unless ``model`` is that fit);
    records for every target space, route and anchor count, and the model if
    ``keep``.

    A relative method is fitted with its one anchor count; the absolute
    baseline's head does not depend on the anchors and is fitted once, then
    translated with each count's anchors.
    """
    main = anchor_counts[0]
    if model is None:
        model = fit_method(domain, method, source, seed, n_anchors=main, **build)
    records = []
    for n_anchors in anchor_counts:
        rows = (
            model[0].anchor_indices_
            if method.is_relative
            else anchor_rows(domain, source, n_anchors=n_anchors, seed=seed)
        )
        routes = _routes_of(method, with_routes)
        if n_anchors != main:
            routes = tuple(route for route in routes if route != AS_IS)
        for route in routes:
            for target in domain.spaces:
                if target == source and (route != routes[0] or n_anchors != main):
                    continue
                scored_by = AS_IS if target == source else route
                scores = _route_scores(
                    domain, model, method, source, target, scored_by, rows
                )
                records.append(
                    dict(
                        domain=domain.name,
                        method=method.name,
                        route=route,
                        n_anchors=n_anchors,
                        train=source,
                        test=target,
                        pair=f"{source}→{target}",
                        seed=seed,
                        **scores,
                    )
                )
    return records, model if keep else None


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
    with_routes: bool = False,
    anchor_sweep: tuple[int, ...] = (),
    swept: tuple[str, ...] = (),
    models: FittedModels | None = None,
    keep: Callable[[Method, str, int], bool] | None = None,
) -> pd.DataFrame:
    """Every method × train space × test space × seed, as tidy records.

    ``label`` names the progress bar, before the domain's name. The runs go
    through :class:`joblib.Parallel` with ``n_jobs``, so that an active joblib
    backend (dask, ray, spark) takes them; each run is seeded by its own seed
    only, so the records do not depend on ``n_jobs``.

    With ``with_routes``, the absolute baseline is also translated (by the
    default ``LinearAligner(alpha="auto")`` and by ``ProcrustesAligner``) and
    each product method is also stitched by translation, by the ensemble and by
    the automatic choice (label-free, and with the anchors' labels). The
    methods named in ``swept`` are also run with each anchor count of
    ``anchor_sweep``, with every route.

    Returns
    -------
    DataFrame
        Columns ``domain, method, route, n_anchors, train, test, pair, seed``,
        the scores (``accuracy`` and ``macro_f1``, or ``mse``) and, for the
        ``auto`` routes, ``auto_pick``. The diagonal (a model on its own
        space) is recorded once per model, under its first route.
    """
    others = tuple(k for k in anchor_sweep if k != n_anchors)
    jobs = []
    for seed in seeds:
        for method in methods:
            counts = [(n_anchors,)]
            if method.name in swept:
                if method.is_relative:
                    counts += [(k,) for k in others]
                else:
                    counts = [(n_anchors, *others)]
            jobs += [
                (method, source, seed, c) for c in counts for source in domain.spaces
            ]
    models = FittedModels() if models is None else models
    build = dict(device=device, head=head)
    keys = [
        models.key(domain, method, source, seed, n_anchors=counts[0], **build)
        for method, source, seed, counts in jobs
    ]
    kept = [
        keep is not None and keep(method, source, seed)
        for method, source, seed, _ in jobs
    ]
    runs = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_run_one)(
            domain,
            method,
            source,
            seed,
            anchor_counts=counts,
            with_routes=with_routes,
            model=models.get(key),
            keep=keep_it,
            **build,
        )
        for (method, source, seed, counts), key, keep_it in zip(
            jobs, keys, kept, strict=True
        )
    )
    records = []
    for key, (run, model) in zip(
        keys,
        tqdm(
            runs, total=len(jobs), desc=f"{label} {domain.name}", disable=not progress
        ),
        strict=True,
    ):
        records.extend(run)
        if model is not None:
            models.put(key, model)
    return pd.DataFrame.from_records(records)
