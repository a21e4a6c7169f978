"""An average of models: the ``"ensemble"`` stitching route."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import ClassifierTags, RegressorTags, get_tags
from sklearn.utils.validation import check_is_fitted

from .._compat import fit_context

__all__ = ["StitchedEnsemble"]


class StitchedEnsemble(BaseEstimator):
    """Average the probabilities (or predictions) of several models of one task.

    A classifier ensemble averages ``predict_proba`` and predicts the class of
    highest mean probability; a regressor ensemble averages ``predict``. It is
    what :func:`~sklearn_relrep.zero_shot_stitch` returns for
    ``route="ensemble"``: the re-anchored and the translated versions of one
    fitted pipeline, each wrapped in :class:`~sklearn.frozen.FrozenEstimator`
    so that :meth:`fit` keeps them as they are. Unfrozen members are cloned and
    fitted, as :class:`~sklearn.ensemble.VotingClassifier` does.

    Parameters
    ----------
    estimators : list of (str, estimator)
        The members, all classifiers (with the same ``classes_`` once fitted)
        or all regressors.
    weights : array-like of shape (n_estimators,) or None, default=None
        Non-negative weight of each member in the average; ``None`` weighs
        them equally.

    Attributes
    ----------
    estimators_ : list of estimator
        The fitted members, in the order of ``estimators``.
    named_estimators_ : dict of str to estimator
        The same, by name.
    classes_ : ndarray of shape (n_classes,)
        The members' classes (classifiers only).
    n_features_in_ : int
        Width of the input, when the members record it.

    See Also
    --------
    sklearn_relrep.zero_shot_stitch : Builds one for ``route="ensemble"``.
    sklearn.ensemble.VotingClassifier : The same average, on members it fits.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from sklearn_relrep import StitchedEnsemble
    >>> X, y = load_iris(return_X_y=True)
    >>> ensemble = StitchedEnsemble([("linear", LogisticRegression(max_iter=500)),
    ...                              ("tree", DecisionTreeClassifier(max_depth=2))])
    >>> ensemble.fit(X, y).predict_proba(X[:2]).shape
    (2, 3)
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "weights": ["array-like", None],
    }

    def __init__(self, estimators, *, weights=None):
        self.estimators = estimators
        self.weights = weights

    def _member_weights(self) -> np.ndarray:
        if self.weights is None:
            return np.full(len(self.estimators), 1.0 / len(self.estimators))
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.shape != (len(self.estimators),):
            raise ValueError(
                f"weights has shape {weights.shape}, but there are "
                f"{len(self.estimators)} estimators."
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not weights.sum():
            raise ValueError(
                f"weights must be finite, non-negative and not all 0; got {weights}."
            )
        return weights / weights.sum()

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Fit the members that are not frozen; frozen ones are kept as they are.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Their targets.
        **fit_params : dict
            Passed to every member's ``fit``.

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        if not self.estimators:
            raise ValueError("StitchedEnsemble needs at least one estimator.")
        names = [name for name, _ in self.estimators]
        if len(set(names)) != len(names):
            raise ValueError(f"Estimator names must be unique; got {names}.")
        kinds = {is_classifier(estimator) for _, estimator in self.estimators}
        if len(kinds) != 1:
            raise ValueError(
                "StitchedEnsemble averages members of one task: mix no classifiers "
                "with regressors."
            )
        self._member_weights()
        self.estimators_ = [
            clone(estimator).fit(X, y, **fit_params) for _, estimator in self.estimators
        ]
        self.named_estimators_ = dict(zip(names, self.estimators_, strict=True))
        if is_classifier(self):
            classes = [np.asarray(member.classes_) for member in self.estimators_]
            if any(not np.array_equal(classes[0], other) for other in classes[1:]):
                raise ValueError(
                    "The members know different classes; an average of their "
                    "probabilities would mix them up."
                )
            self.classes_ = classes[0]
        widths = {
            getattr(member, "n_features_in_", None) for member in self.estimators_
        }
        if len(widths) == 1 and None not in widths:
            self.n_features_in_ = widths.pop()
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Weighted mean of the members' class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        if not is_classifier(self):
            raise AttributeError("A regressor ensemble has no predict_proba.")
        weights = self._member_weights()
        return sum(
            w * np.asarray(m.predict_proba(X))
            for w, m in zip(weights, self.estimators_, strict=True)
        )

    def predict(self, X) -> np.ndarray:
        """The class of highest mean probability, or the mean prediction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions.
        """
        check_is_fitted(self)
        if is_classifier(self):
            return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        weights = self._member_weights()
        return sum(
            w * np.asarray(m.predict(X))
            for w, m in zip(weights, self.estimators_, strict=True)
        )

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy for classifiers, R² for regressors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        float
            The score.
        """
        metric = accuracy_score if is_classifier(self) else r2_score
        return float(metric(y, self.predict(X), sample_weight=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        members = self.estimators or []
        if members and all(is_classifier(e) for _, e in members):
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif members:
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        tags.input_tags.sparse = bool(members) and all(
            get_tags(estimator).input_tags.sparse for _, estimator in members
        )
        return tags
