"""Checks on a model rebuilt from a file: feature names, weight budget, smoke test.

They bound what a hostile config can make the loader allocate and make
inconsistent parameters and state fail at load time rather than at the first
prediction.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.pipeline import Pipeline

from ..nn import StitchingNetwork

__all__ = [
    "check_features_in",
    "check_weight_budget",
    "smoke_test",
    "weight_lower_bound",
]

_SMOKE_WIDTH_CAP = 2**20


def _fail(where: str, problem: str) -> ValueError:
    return ValueError(f"{where}: {problem}.")


def check_features_in(state: dict, where: str) -> None:
    width = state.get("n_features_in_")
    if "n_features_in_" in state and (
        isinstance(width, bool) or not isinstance(width, int) or width < 1
    ):
        raise _fail(where, f"n_features_in_ must be a positive int, got {width!r}")
    names = state.get("feature_names_in_")
    if "feature_names_in_" in state and not (
        isinstance(names, np.ndarray)
        and names.ndim == 1
        and names.dtype.kind in "UO"
        and len(names) == width
    ):
        raise _fail(where, "feature_names_in_ must hold n_features_in_ strings")


def _sizes(value, name: str, *, allow_empty: bool = False) -> list[int]:
    """``value`` as a list of positive Python ints, or a ``ValueError``."""
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
        value = value.tolist()
    if not (
        isinstance(value, list | tuple)
        and (value or allow_empty)
        and all(
            isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1
            for v in value
        )
    ):
        raise ValueError(f"{name} must be positive integers; got {value!r}")
    return [int(v) for v in value]


def weight_lower_bound(params: dict, state: dict) -> int:
    """A lower bound on the weights a stitcher's network has, from its config.

    The saved state gives the subspace widths, the blender and the number of
    outputs, the parameters the hidden sizes; the network's own
    :meth:`~sklearn_relrep.nn.StitchingNetwork.min_weights` adds up its parts.
    Only exact Python ints enter the sum, so it cannot overflow.
    """
    widths = _sizes(state.get("subspace_widths_"), "the subspace widths")
    classes = state.get("classes_")
    n_outputs = len(classes) if classes is not None else state.get("n_outputs_")
    (n_outputs,) = _sizes([n_outputs], "the number of outputs")
    hidden = _sizes(params.get("hidden_sizes"), "hidden_sizes", allow_empty=True)
    aggregation = state.get("aggregation_")
    if not isinstance(aggregation, str):
        raise ValueError(f"aggregation_ must be a string; got {aggregation!r}")
    return StitchingNetwork.min_weights(
        widths, n_outputs, aggregation=aggregation, hidden_sizes=hidden
    )


def check_weight_budget(params: dict, state: dict, where: str) -> None:
    weights = state.get("module_state")
    if not isinstance(weights, dict):
        raise _fail(where, "the state lacks the network weights ('module_state')")
    stored = sum(int(np.size(w)) for w in weights.values() if isinstance(w, np.ndarray))
    try:
        implied = weight_lower_bound(params, state)
    except (TypeError, ValueError) as exc:
        raise _fail(where, str(exc)) from exc
    if implied > stored:
        raise _fail(
            where,
            f"the parameters imply a network of at least {implied} weights but the "
            f"weights file holds {stored}; config and weights do not belong together",
        )


# the smoke test -----------------------------------------------------------------


def _input_width(model) -> int:
    while isinstance(model, Pipeline):
        model = next(
            (s for _, s in model.steps if s not in (None, "passthrough")), None
        )
    width = getattr(model, "n_features_in_", None)
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError("the model does not say how many input features it takes")
    return width


def smoke_test(model, n_weights: int) -> None:
    """Predict on two rows of zeros, so that inconsistent state fails at load time."""
    width = _input_width(model)
    if width > max(_SMOKE_WIDTH_CAP, n_weights):
        raise ValueError(f"n_features_in_={width} is implausibly large for this file")
    X = np.zeros((2, width))
    for method in ("predict_proba", "predict", "transform"):
        if not hasattr(model, method):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rows = np.shape(getattr(model, method)(X))[0]
        except Exception as exc:  # whatever the inconsistency, report it here
            raise ValueError(
                f"the rebuilt model fails {method} on two rows of zeros, so its "
                f"parameters and state do not fit together ({type(exc).__name__}: "
                f"{exc})"
            ) from exc
        if rows != 2:
            raise ValueError(f"{method} returned {rows} rows for 2")
