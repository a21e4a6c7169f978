"""Which estimators the safe format stores, and how each is described and rebuilt.

Every class is on an explicit allow-list, matched exactly (no subclasses):

- this package's estimators give and take their fitted state through the state
  protocol (:meth:`~sklearn_relrep._state.StateMixin._get_state` and
  ``_set_state``), which rejects attribute names outside their own list;
- the classes of :mod:`._sklearn`: scikit-learn's preprocessing steps and
  linear models with their fitted attributes listed name by name, and plain
  estimators (the aligners, :class:`~sklearn.frozen.FrozenEstimator`) stored
  with all their public fitted attributes;
- a :class:`~sklearn.pipeline.Pipeline` holds any of them (or ``"passthrough"``).

An estimator held in a parameter or fitted attribute (a frozen model, the
members of a meta-estimator) is described recursively, as
``{"__estimator__": ...}``; one held in several places is described once and
referred to elsewhere as ``{"__same__": "<where it was described>"}``, so that
the rebuilt model shares it the same way.

A fresh estimator is built from the saved parameters, which are checked against
the class's parameter constraints before any state is set. For estimators with
a torch network, the weights the parameters imply are bounded by the weights
actually stored *before* the network is built.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .._backend import resolve_device
from .._compat import signature_param_names, transform_output, validate_estimator_params
from ..relative import InvariantProductSpace, RelativeProjector
from ..stitching import StitchingClassifier, StitchingRegressor
from ._checks import (
    check_features_in,
    check_weight_budget,
    smoke_test,
    weight_lower_bound,
)
from ._codec import decode, encode
from ._sklearn import (
    LISTED,
    PLAIN,
    allowed_types,
    fitted_attributes,
    is_fitted_attribute_name,
)

__all__ = ["CLASSES", "build", "describe", "smoke_test", "weight_lower_bound"]

# This package's estimators: parameters from get_params, state via the protocol.
_PROTOCOL_CLASSES = (
    RelativeProjector,
    InvariantProductSpace,
    StitchingClassifier,
    StitchingRegressor,
)
_PIPELINE_PARAMS = tuple(p for p in Pipeline([]).get_params(deep=False) if p != "steps")
CLASSES = {cls.__name__: cls for cls in (*_PROTOCOL_CLASSES, *LISTED, *PLAIN, Pipeline)}
_OUTPUTS = ("default", "pandas", "polars")
_PREFIXED_OPTION = re.compile(r"[a-z][a-z0-9_]*[a-z0-9]__[a-z][a-z0-9_]*")
_MAX_NESTING = 8
_MAX_LOCATION_PARTS = 4 * _MAX_NESTING  # as in model.params.estimators.0.1


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


class _Saver:
    """Describes estimators, each object once: later mentions refer to the first."""

    def __init__(self, arrays: dict):
        self.arrays = arrays
        self.seen: dict[int, tuple[str, object]] = {}

    def __call__(self, value, where: str):
        if not isinstance(value, BaseEstimator):
            return None
        if id(value) in self.seen:
            return {"__same__": self.seen[id(value)][0]}
        return {"__estimator__": self.describe(value, where)}

    def describe(self, estimator, where: str) -> dict:
        cls = _allowed_class(estimator, where)
        self.seen[id(estimator)] = (where, estimator)  # the object keeps its id
        params = estimator.get_params(deep=False)
        steps = params.pop("steps") if cls is Pipeline else None
        if cls is Pipeline and params.get("memory") is not None:
            raise TypeError(f"{where} caches with memory=...; set it to None to save.")
        if cls in LISTED and LISTED[cls][0] is not None:
            unknown = sorted(set(params) - set(LISTED[cls][0]))
            if unknown:
                raise TypeError(f"{where}: parameters {unknown} cannot be saved.")
        # The order of decoding: params, then steps or state.
        description = {
            "class": cls.__name__,
            "params": self.encode(params, f"{where}.params"),
        }
        if cls is Pipeline:
            description["steps"] = [
                [name, self.step(step, f"{where}.steps.{name}")] for name, step in steps
            ]
            return description
        check_is_fitted(estimator)
        description["state"] = self.encode(_state_of(estimator), f"{where}.state")
        output = transform_output(estimator)
        if output is not None:
            description["output"] = output
        return description

    def encode(self, values: dict, where: str) -> dict:
        return encode(values, where, self.arrays, self)["__dict__"]

    def step(self, step, where: str):
        if step is None or (isinstance(step, str) and step == "passthrough"):
            return step
        return self.describe(step, where)


def _state_of(estimator) -> dict:
    cls = type(estimator)
    if cls in LISTED:
        names = LISTED[cls][1]
        unknown = sorted(set(fitted_attributes(estimator)) - set(names))
        if unknown:
            raise TypeError(
                f"{cls.__name__} has fitted attribute(s) {unknown} that this "
                "version of sklearn_relrep does not know how to save."
            )
        return {a: getattr(estimator, a) for a in names if hasattr(estimator, a)}
    if cls in PLAIN:
        return fitted_attributes(estimator)
    return estimator._get_state()


def describe(estimator, where: str, arrays: dict) -> dict:
    """JSON-able description of a fitted ``estimator``; arrays go to ``arrays``."""
    return _Saver(arrays).describe(estimator, where)


# loading ------------------------------------------------------------------------


class _Loader:
    """Builds estimators; resolves the references :class:`_Saver` wrote."""

    markers = ("__estimator__", "__same__")

    def __init__(self, arrays: dict, used: set, device):
        self.arrays, self.used, self.device = arrays, used, device
        self.built: dict[str, object] = {}

    def __call__(self, value: dict, where: str, depth: int):
        if "__same__" in value:
            target = value["__same__"]
            if set(value) != {"__same__"} or not isinstance(target, str):
                raise _fail(where, "a reference must hold only a location")
            if target not in self.built:
                raise _fail(where, f"refers to {target!r}, where no estimator is")
            return self.built[target]
        if set(value) != {"__estimator__"}:
            raise _fail(where, "an estimator entry must hold only its description")
        return self.build(value["__estimator__"], where, depth)

    def decode(self, raw: dict, where: str, depth: int) -> dict:
        return decode({"__dict__": raw}, where, self.arrays, self.used, depth, self)

    def build(self, description, where: str, depth: int = 0):
        if where.count(".") > _MAX_LOCATION_PARTS:
            raise _fail(where, f"estimators nested deeper than {_MAX_NESTING} levels")
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
        keys = {"class", "params"}
        keys |= {"steps"} if cls is Pipeline else {"state", "output"}
        if not set(description) <= keys:
            raise _fail(where, f"unexpected keys {sorted(set(description) - keys)[:5]}")
        params = self.params(cls, description, where, depth)
        if cls is Pipeline:
            if params.get("memory") is not None:
                raise _fail(
                    where, "a loaded pipeline cannot cache (memory must be null)"
                )
            params["steps"] = self.steps(description.get("steps"), where, depth)
        estimator = cls(**params)
        try:
            validate_estimator_params(estimator)
        except ValueError as exc:
            raise _fail(where, str(exc).rstrip(".")) from exc
        self.built[where] = estimator
        if cls is Pipeline:
            return estimator
        state = self.state(cls, description, where, depth)
        if cls in LISTED or cls in PLAIN:
            # A scikit-learn version may compute an attribute (a read-only
            # property) that another version stores: it must then agree.
            derived = {
                a: v
                for a, v in state.items()
                if isinstance(getattr(cls, a, None), property)
            }
            for attribute, value in state.items():
                if attribute not in derived:
                    setattr(estimator, attribute, value)
            for attribute, value in derived.items():
                if not np.array_equal(getattr(estimator, attribute), value):
                    raise _fail(where, f"{attribute} disagrees with the stored state")
        else:
            if issubclass(cls, StitchingClassifier | StitchingRegressor):
                check_weight_budget(params, state, where)
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

    def params(self, cls: type, description: dict, where: str, depth: int) -> dict:
        raw = description.get("params")
        if not isinstance(raw, dict):
            raise _fail(where, "'params' must be an object")
        if cls is Pipeline:
            allowed = set(_PIPELINE_PARAMS)
        elif cls in _PROTOCOL_CLASSES:
            allowed = set(cls().get_params(deep=False))
            allowed |= set(getattr(cls, "_skorch_options", ()))
        else:
            allowed = set(signature_param_names(cls))
            if cls in LISTED and LISTED[cls][0] is not None:
                allowed &= set(LISTED[cls][0])
        unknown = sorted(
            name for name in set(raw) - allowed if not _is_prefixed_option(cls, name)
        )
        if unknown:
            raise _fail(where, f"{cls.__name__} has no parameter(s) {unknown[:5]}")
        params = self.decode(raw, f"{where}.params", depth)
        if "device" in params:
            if self.device is not None:
                params["device"] = self.device
            _check_saved_device(params["device"], where)
        return params

    def state(self, cls: type, description: dict, where: str, depth: int) -> dict:
        raw = description.get("state")
        if not isinstance(raw, dict):
            raise _fail(where, "'state' must be an object")
        for name in raw:
            if name.startswith("__") or callable(
                inspect.getattr_static(cls, name, None)
            ):
                raise _fail(
                    where, f"the state names {name!r}, a method of {cls.__name__}"
                )
        if cls in LISTED:
            known = set(LISTED[cls][1])
        elif cls in PLAIN:
            known = {name for name in raw if is_fitted_attribute_name(cls, name)}
        else:
            known = set(raw)  # the protocol checks the names
        unknown = sorted(set(raw) - known)
        if unknown:
            raise _fail(
                where, f"{cls.__name__} has no state attribute(s) {unknown[:5]}"
            )
        state = self.decode(raw, f"{where}.state", depth)
        check_features_in(state, where)
        if cls in LISTED:
            for name, value in state.items():
                if not isinstance(value, allowed_types(name)):
                    raise _fail(
                        where, f"{name} has an unexpected {type(value).__name__}"
                    )
        return state

    def steps(self, steps, where: str, depth: int) -> list:
        if not isinstance(steps, list) or not steps:
            raise _fail(where, "a pipeline needs a non-empty list of steps")
        built, names = [], set()
        for i, entry in enumerate(steps):
            if not (
                isinstance(entry, list)
                and len(entry) == 2
                and isinstance(entry[0], str)
            ):
                raise _fail(
                    f"{where}.steps.{i}", "a step must be a [name, estimator] pair"
                )
            name, step = entry
            if not name or "__" in name or name in names:
                raise _fail(
                    where,
                    "step names must be distinct, non-empty, without '__'; got "
                    f"{name!r}",
                )
            names.add(name)
            if not (step is None or step == "passthrough"):
                step = self.build(step, f"{where}.steps.{name}", depth + 2)
            built.append((name, step))
        return built


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


def build(description, where: str, arrays: dict, used: set, device):
    """The fitted estimator that ``description`` describes."""
    return _Loader(arrays, used, device).build(description, where)
