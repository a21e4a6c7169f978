"""Every public estimator of the package against scikit-learn's own checks."""

import importlib
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_relrep

# Small enough for the few-sample datasets of scikit-learn's checks, and quick.
CHECK_PARAMS = {"n_anchors": 3, "max_epochs": 3, "batch_size": 16, "device": "cpu"}


def _public_estimator_classes():
    """All public estimator classes, found by walking the package."""
    found = {}
    modules = [sklearn_relrep] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(sklearn_relrep.__path__, "sklearn_relrep.")
        if not any(part.startswith("_") for part in info.name.split(".")[1:])
    ]
    for module in modules:
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                found[obj.__qualname__] = obj
    return [found[name] for name in sorted(found)]


def _instance(cls):
    estimator = cls()
    params = estimator.get_params()
    estimator.set_params(**{k: v for k, v in CHECK_PARAMS.items() if k in params})
    return estimator


ESTIMATORS = [_instance(cls) for cls in _public_estimator_classes()]


def _expected_failures(estimator):
    return getattr(estimator, "_xfail_checks_reasons", {})


def test_discovery_finds_the_core_estimators():
    names = {type(e).__name__ for e in ESTIMATORS}
    assert {
        "RelativeProjector",
        "InvariantProductSpace",
        "StitchingClassifier",
        "StitchingRegressor",
        "ProcrustesAligner",
        "LinearAligner",
    } <= names


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_estimator_is_documented(estimator):
    doc = inspect.getdoc(type(estimator)) or ""
    for section in ("Parameters", "Attributes", "Examples"):
        assert section in doc, f"{type(estimator).__name__} lacks {section}"
