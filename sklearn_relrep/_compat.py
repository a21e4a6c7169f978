"""The one place that touches scikit-learn's private helpers and attributes.

scikit-learn's parameter validation, ``_fit_context`` and feature-name checks
are what every well-behaved estimator uses, but they live in private modules
that may move between releases. Importing them here, and only here, means a
move costs one edit. ``SUPPORTED_SKLEARN`` is the range declared in
``pyproject.toml``; a test checks that the two agree and that the installed
version lies inside it.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._array_api import get_namespace
from sklearn.utils._param_validation import (
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    validate_data,
)

__all__ = [
    "SUPPORTED_SKLEARN",
    "Hidden",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "check_feature_names_in",
    "check_sample_weight",
    "fit_context",
    "get_namespace",
    "reject_bool",
    "signature_param_names",
    "transform_output",
    "validate_data",
    "validate_estimator_params",
    "validate_params",
]

SUPPORTED_SKLEARN = (">=1.6.1", "<1.10")

fit_context = _fit_context
check_feature_names_in = _check_feature_names_in
check_sample_weight = _check_sample_weight


def validate_estimator_params(estimator) -> None:
    """Check ``estimator``'s parameters against its ``_parameter_constraints``.

    This is what ``fit`` does first; :mod:`sklearn_relrep._persistence` runs it
    on estimators rebuilt from a file, which are never fitted again.
    """
    estimator._validate_params()


def signature_param_names(cls: type) -> list[str]:
    """The parameters that ``cls.__init__`` names, as :class:`BaseEstimator` lists them.

    For estimators that add parameters of their own beyond the signature (the
    stitchers' skorch-style ``prefix__name`` options) on top of this list.
    """
    return BaseEstimator._get_param_names.__func__(cls)


def reject_bool(estimator, *names: str) -> None:
    """Raise if an integer parameter was given as a bool.

    scikit-learn's ``Interval(Integral, ...)`` constraint accepts ``True`` and
    ``False``, since ``bool`` subclasses ``int``; no count is meant that way.
    """
    for name in names:
        value = getattr(estimator, name)
        if isinstance(value, bool):
            raise TypeError(
                f"The {name!r} parameter of {type(estimator).__name__} must be an "
                f"int, not the bool {value!r}."
            )


def transform_output(estimator) -> str | None:
    """The container that ``estimator.set_output(transform=...)`` asked for.

    ``"default"``, ``"pandas"`` or ``"polars"``; None when ``set_output`` was
    never called. scikit-learn keeps it in a private attribute.
    """
    return getattr(estimator, "_sklearn_output_config", {}).get("transform")
