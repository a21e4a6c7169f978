"""Which estimators the safe format stores, and how each is described and rebuilt.

Every class is on an explicit allow-list, matched exactly (no subclasses):

- this package's estimators give and take their fitted state through the state
  protocol (:meth:`~sklearn_relrep._state.StateMixin._get_state` and
  ``_set_state``), which rejects attribute names outside their own list;
- scikit-learn's preprocessing steps have their parameters and fitted
  attributes listed here, name by name;
- a :class:`~sklearn.pipeline.Pipeline` holds any of them (or ``"passthrough"``).

A fresh estimator is built from the saved parameters, which are checked against
the class's parameter constraints before any state is set. For estimators with
a torch network, the weights the parameters imply are bounded by the weights
actually stored *before* the network is built.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, Normalizer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._backend import resolve_device
from .._compat import transform_output, validate_estimator_params
from ..nn import StitchingNetwork
from ..relative import InvariantProductSpace, RelativeProjector
from ..stitching import StitchingClassifier, StitchingRegressor
from ._codec import decode, encode

__all__ = ["CLASSES", "build", "describe", "smoke_test", "weight_lower_bound"]

# This package's estimators: parameters from get_params, state via the protocol.
_PROTOCOL_CLASSES = (
    RelativeProjector,
    InvariantProductSpace,
    StitchingClassifier,
    StitchingRegressor,
)
_FEATURES_IN = ("n_features_in_", "feature_names_in_")
# scikit-learn's steps: class -> (parameter names, fitted attribute names).
_SKLEARN_CLASSES = {
    StandardScaler: (
        ("copy", "with_mean", "with_std"),
        (*_FEATURES_IN, "n_samples_seen_", "mean_", "var_", "scale_"),
    ),
    MinMaxScaler: (
        ("feature_range", "copy", "clip"),
        (*_FEATURES_IN, "n_samples_seen_", "min_", "scale_", "data_min_")
        + ("data_max_", "data_range_"),
    ),
    MaxAbsScaler: (
        ("copy", "clip"),
        (*_FEATURES_IN, "n_samples_seen_", "max_abs_", "scale_"),
    ),
    Normalizer: (("norm", "copy"), _FEATURES_IN),
    PCA: (
        ("n_components", "copy", "whiten", "svd_solver", "tol", "iterated_power")
        + ("n_oversamples", "power_iteration_normalizer", "random_state"),
        (*_FEATURES_IN, "mean_", "components_", "explained_variance_")
        + ("explained_variance_ratio_", "singular_values_", "noise_variance_")
        + ("n_components_", "n_samples_"),
    ),
}
_PIPELINE_PARAMS = tuple(p for p in Pipeline([]).get_params(deep=False) if p != "steps")
CLASSES = {
    cls.__name__: cls for cls in (*_PROTOCOL_CLASSES, *_SKLEARN_CLASSES, Pipeline)
}
_OUTPUTS = ("default", "pandas", "polars")
_PREFIXED_OPTION = re.compile(r"[a-z][a-z0-9_]*[a-z0-9]__[a-z][a-z0-9_]*")
_SMOKE_WIDTH_CAP = 2**20


def _fail(where: str, problem: str) -> ValueError:
    return ValueError(f"{where}: {problem}.")


# saving -------------------------------------------------------------------------


def _allowed_class(estimator, where: str) -> type:
    cls = type(estimator)
    if CLASSES.get(cls.__name__) is not cls:
        raise TypeError(
            f"{where} is a {cls.__module__}.{cls.__name__}; the safe format stores "
            f"only {sorted(CLASSES)} (use joblib for other models)."
        )
    return cls


def describe(estimator, where: str, arrays: dict) -> dict:
    """JSON-able description of a fitted ``estimator``; arrays go to ``arrays``."""
    cls = _allowed_class(estimator, where)
    params = estimator.get_params(deep=False)
    description = {"class": cls.__name__}
    if cls is Pipeline:
        description["steps"] = [
            [name, _describe_step(step, f"{where}.steps.{name}", arrays)]
            for name, step in params.pop("steps")
        ]
        if params.get("memory") is not None:
            raise TypeError(f"{where} caches with memory=...; set it to None to save.")
    else:
        check_is_fitted(estimator)
        if cls in _SKLEARN_CLASSES:
            names, attributes = _SKLEARN_CLASSES[cls]
            unknown = sorted(set(params) - set(names))
            if unknown:
                raise TypeError(f"{where}: parameters {unknown} cannot be saved.")
            state = {
                a: getattr(estimator, a) for a in attributes if hasattr(estimator, a)
            }
        else:
            state = estimator._get_state()
        description["state"] = encode(state, f"{where}.state", arrays)["__dict__"]
        output = transform_output(estimator)
        if output is not None:
            description["output"] = output
    description["params"] = encode(params, f"{where}.params", arrays)["__dict__"]
    return description


def _describe_step(step, where: str, arrays: dict):
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return step
    return describe(step, where, arrays)


# loading ------------------------------------------------------------------------


def _params(cls: type, description: dict, where: str, arrays, used, device) -> dict:
    raw = description.get("params")
    if not isinstance(raw, dict):
        raise _fail(where, "'params' must be an object")
    if cls is Pipeline:
        allowed = set(_PIPELINE_PARAMS)
    elif cls in _SKLEARN_CLASSES:  # the listed ones this version knows
        allowed = set(_SKLEARN_CLASSES[cls][0]) & set(cls().get_params(deep=False))
    else:
        allowed = set(cls().get_params(deep=False))
    unknown = sorted(
        name for name in set(raw) - allowed if not _is_prefixed_option(cls, name)
    )
    if unknown:
        raise _fail(where, f"{cls.__name__} has no parameter(s) {unknown[:5]}")
    params = decode({"__dict__": raw}, f"{where}.params", arrays, used)
    if "device" in params:
        if device is not None:
            params["device"] = device
        _check_saved_device(params["device"], where)
    return params


def _is_prefixed_option(cls: type, name: str) -> bool:
    """Whether ``name`` is a skorch-style ``prefix__option`` that ``cls`` takes.

    The estimator itself checks the prefix; names that could shadow anything
    (dunders, no prefix) never get that far.
    """
    takes_kwargs = any(
        p.kind is p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values()
    )
    return takes_kwargs and _PREFIXED_OPTION.fullmatch(name) is not None


def _check_saved_device(device, where: str) -> None:
    if not isinstance(device, str):
        raise _fail(where, f"device must be a string, got {type(device).__name__}")
    try:
        resolve_device(device)
    except RuntimeError as exc:
        raise _fail(
            where,
            f"saved with device={device!r}, which is not available here ({exc}); "
            "pass load_stitcher(..., device='cpu') or device='auto'",
        ) from exc


def _state(cls: type, description: dict, where: str, arrays, used) -> dict:
    raw = description.get("state")
    if not isinstance(raw, dict):
        raise _fail(where, "'state' must be an object")
    for name in raw:
        if name.startswith("__") or callable(inspect.getattr_static(cls, name, None)):
            raise _fail(where, f"the state names {name!r}, a method of {cls.__name__}")
    if cls in _SKLEARN_CLASSES:
        unknown = sorted(set(raw) - set(_SKLEARN_CLASSES[cls][1]))
        if unknown:
            raise _fail(
                where, f"{cls.__name__} has no state attribute(s) {unknown[:5]}"
            )
    state = decode({"__dict__": raw}, f"{where}.state", arrays, used)
    _check_features_in(state, where)
    if cls in _SKLEARN_CLASSES:
        for name, value in state.items():
            if not isinstance(value, np.ndarray | np.number | int | float | type(None)):
                raise _fail(where, f"{name} has an unexpected {type(value).__name__}")
    return state


def _check_features_in(state: dict, where: str) -> None:
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


def _check_weight_budget(params: dict, state: dict, where: str) -> None:
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


def build(description, where: str, arrays: dict, used: set, device, depth: int = 0):
    """The fitted estimator that ``description`` describes."""
    if depth > 8:
        raise _fail(where, "pipelines nested deeper than 8 levels")
    if not isinstance(description, dict):
        raise _fail(
            where, f"expected an estimator object, got {type(description).__name__}"
        )
    name = description.get("class")
    cls = CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise _fail(
            where,
            f"Unknown class {description.get('class')!r}; expected one of "
            f"{sorted(CLASSES)}",
        )
    keys = {"class", "params"} | ({"steps"} if cls is Pipeline else {"state", "output"})
    if not set(description) <= keys:
        raise _fail(where, f"unexpected keys {sorted(set(description) - keys)[:5]}")
    params = _params(cls, description, where, arrays, used, device)
    if cls is Pipeline:
        if params.get("memory") is not None:
            raise _fail(where, "a loaded pipeline cannot cache (memory must be null)")
        params["steps"] = _build_steps(
            description.get("steps"), where, arrays, used, device, depth
        )
    estimator = cls(**params)
    try:
        validate_estimator_params(estimator)
    except ValueError as exc:
        raise _fail(where, str(exc).rstrip(".")) from exc
    if cls is Pipeline:
        return estimator
    state = _state(cls, description, where, arrays, used)
    if cls in _SKLEARN_CLASSES:
        for name, value in state.items():
            setattr(estimator, name, value)
    else:
        if issubclass(cls, StitchingClassifier | StitchingRegressor):
            _check_weight_budget(params, state, where)
        try:
            estimator._set_state(state)
        except ValueError as exc:
            raise _fail(where, str(exc).rstrip(".")) from exc
    output = description.get("output")
    if output is not None:
        if output not in _OUTPUTS:
            raise _fail(where, f"unknown output container {output!r}")
        estimator.set_output(transform=output)
    return estimator


def _build_steps(steps, where, arrays, used, device, depth) -> list:
    if not isinstance(steps, list) or not steps:
        raise _fail(where, "a pipeline needs a non-empty list of steps")
    built, names = [], set()
    for i, entry in enumerate(steps):
        if not (
            isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
        ):
            raise _fail(f"{where}.steps.{i}", "a step must be a [name, estimator] pair")
        name, step = entry
        if not name or "__" in name or name in names:
            raise _fail(
                where,
                f"step names must be distinct, non-empty, without '__'; got {name!r}",
            )
        names.add(name)
        if not (step is None or step == "passthrough"):
            step = build(step, f"{where}.steps.{name}", arrays, used, device, depth + 1)
        built.append((name, step))
    return built


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
