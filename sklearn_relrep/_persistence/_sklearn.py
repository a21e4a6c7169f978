"""The estimators the safe format stores by their attributes, and how.

Two rules, each an allow-list of exact classes:

- :data:`LISTED`: scikit-learn's preprocessing steps and linear models, with
  the fitted attributes stored for each named here (a fitted attribute not
  named is refused when saving). Their parameters are those ``get_params``
  gives (the first entry, when not None, narrows them).
- :data:`PLAIN`: estimators whose fitted state is all in their public fitted
  attributes (names ending in ``_``), stored whatever they are: this package's
  aligners, :class:`~sklearn.frozen.FrozenEstimator` and the stitched
  ensemble of ``route="ensemble"``. A meta-estimator of this kind needs only
  to be added here: the estimators it holds are stored recursively.

The package's other estimators use the state protocol instead (:mod:`._objects`).
"""

from __future__ import annotations

import inspect
import re

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.preprocessing import (
    LabelBinarizer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    StandardScaler,
)
from sklearn.svm import LinearSVC, LinearSVR

from .._compat import signature_param_names
from ..stitching import LinearAligner, ProcrustesAligner, StitchedEnsemble

__all__ = [
    "LISTED",
    "PLAIN",
    "allowed_types",
    "fitted_attributes",
    "is_fitted_attribute_name",
]

_FEATURES_IN = ("n_features_in_", "feature_names_in_")
_LINEAR = ("coef_", "intercept_")
# class -> (parameter names or None for all of get_params, fitted attributes).
LISTED = {
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
    LabelBinarizer: (None, ("classes_", "y_type_", "sparse_input_")),
    LogisticRegression: (None, (*_FEATURES_IN, *_LINEAR, "classes_", "n_iter_")),
    LinearRegression: (None, (*_FEATURES_IN, *_LINEAR, "rank_", "singular_")),
    Ridge: (None, (*_FEATURES_IN, *_LINEAR, "n_iter_", "solver_")),
    # RidgeClassifier predicts through its (private) label binarizer.
    RidgeClassifier: (
        None,
        (*_FEATURES_IN, *_LINEAR, "n_iter_", "solver_", "classes_")
        + ("_label_binarizer",),
    ),
    Lasso: (None, (*_FEATURES_IN, *_LINEAR, "n_iter_", "dual_gap_")),
    ElasticNet: (None, (*_FEATURES_IN, *_LINEAR, "n_iter_", "dual_gap_")),
    LinearSVC: (None, (*_FEATURES_IN, *_LINEAR, "classes_", "n_iter_")),
    LinearSVR: (None, (*_FEATURES_IN, *_LINEAR, "n_iter_")),
    SGDClassifier: (None, (*_FEATURES_IN, *_LINEAR, "classes_", "n_iter_", "t_")),
    SGDRegressor: (None, (*_FEATURES_IN, *_LINEAR, "n_iter_", "t_")),
}
# The listed attributes that are not numbers or numeric arrays.
_STRINGS = ("solver_", "y_type_")
_ESTIMATORS = ("_label_binarizer",)
PLAIN = (LinearAligner, ProcrustesAligner, FrozenEstimator, StitchedEnsemble)
_FITTED_NAME = re.compile(r"[a-z](?:[a-z0-9]|_(?!_))*_")


def is_fitted_attribute_name(cls: type, name: str) -> bool:
    """Whether ``name`` can be a fitted attribute of ``cls`` by scikit-learn's rule.

    Lower case, ending in a single ``_``, no ``__``, neither a parameter nor
    anything the class itself defines (a method, property or constant).
    """
    return (
        _FITTED_NAME.fullmatch(name) is not None
        and name not in signature_param_names(cls)
        and inspect.getattr_static(cls, name, None) is None
    )


def fitted_attributes(estimator) -> dict:
    """The public fitted attributes set on ``estimator``, by name."""
    cls = type(estimator)
    return {
        name: value
        for name, value in vars(estimator).items()
        if is_fitted_attribute_name(cls, name)
    }


def allowed_types(name: str) -> tuple[type, ...]:
    """The types a listed fitted attribute called ``name`` may have."""
    if name in _STRINGS:
        return (str,)
    if name in _ESTIMATORS:
        return (BaseEstimator,)
    return (np.ndarray, np.number, int, float, type(None))
