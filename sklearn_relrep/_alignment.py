"""Alignment baselines: map space A into space B, estimated on parallel anchors.

Relative representations make spaces comparable by invariance; these estimators
do it by translation, fitting an explicit map on anchors embedded in both spaces.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["LinearAligner", "ProcrustesAligner"]

_FLOAT_DTYPES = (np.float64, np.float32)


class _BaseAligner(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An affine map ``(X - source_mean_) @ coef_ + target_mean_`` fitted on anchors.

    Subclasses implement :meth:`_fit_map` on centred (or raw) anchors.
    """

    def _fit_map(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _validate_anchors(self, X, y):
        X, y = validate_data(
            self,
            X,
            y,
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=True,
            ensure_min_samples=2,
        )
        target = np.asarray(y, dtype=np.float64)
        # A 1-D target is a target space of width 1.
        return X.astype(np.float64), target.reshape(X.shape[0], -1)

    def _fit(self, X, y, *, center: bool):
        source, target = self._validate_anchors(X, y)
        if center:
            self.source_mean_ = source.mean(axis=0)
            self.target_mean_ = target.mean(axis=0)
        else:
            self.source_mean_ = np.zeros(source.shape[1])
            self.target_mean_ = np.zeros(target.shape[1])
        self.coef_ = self._fit_map(
            source - self.source_mean_, target - self.target_mean_
        )
        return self

    @property
    def _n_features_out(self) -> int:
        return self.coef_.shape[1]

    def transform(self, X):
        """Map samples of space A into space B.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)
            Embeddings in space A.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            Their images in space B, with the dtype of ``X`` (float32 or
            float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        dtype = X.dtype
        mapped = (X - self.source_mean_.astype(dtype)) @ self.coef_.astype(dtype)
        return mapped + self.target_mean_.astype(dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class ProcrustesAligner(_BaseAligner):
    """Orthogonal Procrustes alignment of space A onto space B.

    Fitted on parallel anchors (row ``i`` of ``X`` and ``y`` is the same input
    embedded by each encoder), it finds the orthogonal ``R`` minimising
    ``||s (A - mu_A) R - (B - mu_B)||_F`` and maps
    ``x -> s (x - mu_A) R + mu_B``: a rotation or reflection, optionally with an
    isotropic scale ``s`` and a translation.

    **Different widths.** ``R`` is computed as if the narrower space were
    zero-padded to the wider width, and only its used block is kept: with the
    thin SVD ``A_c^T B_c = U S V^T``, ``R = U V^T`` has shape
    ``(n_features_A, n_features_B)``. Into a wider space it is an isometric
    embedding (``R R^T = I``); into a narrower one it is an orthogonal
    projection followed by a rotation (``R^T R = I``).

    Parameters
    ----------
    center : bool, default=True
        Subtract each space's anchor mean before rotating and add space B's
        back afterwards (translation). With ``False`` the map is linear.
    scale : bool, default=True
        Fit the least-squares isotropic factor ``s = trace(S) / ||A_c||_F^2``;
        with ``False``, ``s = 1`` and the map is an isometry.

    Attributes
    ----------
    rotation_ : ndarray of shape (n_features_in_, n_features_out)
        The orthogonal (or semi-orthogonal) ``R``.
    scale_ : float
        The isotropic factor ``s`` (1.0 when ``scale=False``).
    coef_ : ndarray of shape (n_features_in_, n_features_out)
        The whole linear part, ``scale_ * rotation_``.
    source_mean_ : ndarray of shape (n_features_in_,)
        Anchor mean of space A (zeros when ``center=False``).
    target_mean_ : ndarray of shape (n_features_out,)
        Anchor mean of space B (zeros when ``center=False``).
    n_features_in_ : int
        Width of space A.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column
        names.

    See Also
    --------
    LinearAligner : An unconstrained (least-squares or ridge) linear map.
    scipy.linalg.orthogonal_procrustes : The uncentred, unscaled solution.
    sklearn_relrep.RelativeProjector : Stitching by invariance instead.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from sklearn_relrep import ProcrustesAligner
    >>> rng = np.random.RandomState(0)
    >>> A = rng.normal(size=(50, 4))
    >>> B = 2 * A @ ortho_group.rvs(4, random_state=0) + 1
    >>> aligner = ProcrustesAligner().fit(A[:20], B[:20])
    >>> round(aligner.scale_, 6)
    2.0
    >>> np.allclose(aligner.transform(A[20:]), B[20:])
    True
    """

    _parameter_constraints: dict = {"center": ["boolean"], "scale": ["boolean"]}

    def __init__(self, *, center: bool = True, scale: bool = True):
        self.center = center
        self.scale = scale

    def _fit_map(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        left, singular_values, right = np.linalg.svd(
            source.T @ target, full_matrices=False
        )
        self.rotation_ = left @ right
        squared_norm = np.sum(source**2)
        if self.scale and squared_norm > 0:
            self.scale_ = float(np.sum(singular_values) / squared_norm)
        else:
            self.scale_ = 1.0
        return self.scale_ * self.rotation_

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Estimate the map from paired anchors.

        Parameters
        ----------
        X : array-like of shape (n_anchors, n_features_A)
            The anchors in space A.
        y : array-like of shape (n_anchors, n_features_B) or (n_anchors,)
            The same anchors in space B; a 1-D ``y`` is a space of width 1.

        Returns
        -------
        self : ProcrustesAligner
            The fitted aligner.
        """
        return self._fit(X, y, center=self.center)


class LinearAligner(_BaseAligner):
    """Least-squares (or ridge) linear translation of space A into space B.

    Fitted on parallel anchors, it solves
    ``min_W ||(A - mu_A) W - (B - mu_B)||_F^2 + alpha ||W||_F^2`` and maps
    ``x -> (x - mu_A) W + mu_B``. With ``alpha=0`` it is the minimum-norm
    least-squares solution (via the pseudo-inverse), which stays defined when
    there are fewer anchors than features. Widths may differ freely.

    Parameters
    ----------
    alpha : float, default=0.0
        Ridge penalty; 0 is ordinary least squares.
    fit_intercept : bool, default=True
        Centre both spaces on their anchor means (an affine map). With
        ``False`` the map is linear.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_, n_features_out)
        The matrix ``W``.
    source_mean_ : ndarray of shape (n_features_in_,)
        Anchor mean of space A (zeros when ``fit_intercept=False``).
    target_mean_ : ndarray of shape (n_features_out,)
        Anchor mean of space B (zeros when ``fit_intercept=False``).
    n_features_in_ : int
        Width of space A.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column
        names.

    See Also
    --------
    ProcrustesAligner : An orthogonal map, harder to overfit with few anchors.
    sklearn.linear_model.Ridge : The same problem as a regressor.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep import LinearAligner
    >>> rng = np.random.RandomState(0)
    >>> A = rng.normal(size=(50, 4))
    >>> M = rng.normal(size=(4, 3))
    >>> aligner = LinearAligner().fit(A[:20], A[:20] @ M)
    >>> np.allclose(aligner.transform(A[20:]), A[20:] @ M)
    True
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, *, alpha: float = 0.0, fit_intercept: bool = True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def _fit_map(self, source: np.ndarray, target: np.ndarray) -> np.ndarray:
        left, singular_values, right = np.linalg.svd(source, full_matrices=False)
        if self.alpha > 0:
            shrunk = singular_values / (singular_values**2 + self.alpha)
        else:
            cutoff = singular_values[0] * max(source.shape) * np.finfo(float).eps
            kept = singular_values > cutoff
            shrunk = np.divide(
                1.0, singular_values, where=kept, out=np.zeros_like(singular_values)
            )
        return right.T @ (shrunk[:, None] * (left.T @ target))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Estimate the map from paired anchors.

        Parameters
        ----------
        X : array-like of shape (n_anchors, n_features_A)
            The anchors in space A.
        y : array-like of shape (n_anchors, n_features_B) or (n_anchors,)
            The same anchors in space B; a 1-D ``y`` is a space of width 1.

        Returns
        -------
        self : LinearAligner
            The fitted aligner.
        """
        return self._fit(X, y, center=self.fit_intercept)
