"""Alignment baselines: map space A into space B, estimated on parallel anchors.

Relative representations make spaces comparable by invariance; these estimators
do it by translation, fitting an explicit map on anchors embedded in both spaces.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from scipy.linalg import lstsq, orthogonal_procrustes
from scipy.sparse import issparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.validation import check_is_fitted

from .._backend import as_numpy
from .._compat import (
    Interval,
    StrOptions,
    check_sample_weight,
    fit_context,
    validate_data,
)

__all__ = ["LinearAligner", "ProcrustesAligner"]

_FLOAT_DTYPES = (np.float64, np.float32)
_EPSILON = np.finfo(np.float64).eps
# Candidate ridge penalties for alpha="auto", relative to the mean squared
# singular value of the centred anchors (so the grid does not depend on scale),
# after plain least squares (0), which wins when the map is exact.
_RELATIVE_ALPHAS = np.concatenate([[0.0], np.logspace(-6, 2, 33)])


class _BaseAligner(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An affine map ``(X - source_mean_) @ coef_ + target_mean_`` fitted on anchors.

    Subclasses say whether they centre (:meth:`_centers`) and implement
    :meth:`_fit_map` on the centred (or raw) anchors, each row already
    multiplied by the square root of its weight; ``intercept_leverage`` is each
    anchor's leverage on the means (its share of the total weight when centring,
    0 otherwise), for leave-one-out estimates.
    """

    def _centers(self) -> bool:
        raise NotImplementedError

    def _fit_map(
        self, source: np.ndarray, target: np.ndarray, intercept_leverage: np.ndarray
    ) -> np.ndarray:
        raise NotImplementedError

    def _validate_anchors(self, X, y, sample_weight):
        if issparse(y):
            raise TypeError(
                f"y is a sparse {type(y).__name__}, but {type(self).__name__} needs "
                "the anchors of space B as a dense array: pass y.toarray()."
            )
        X, y = validate_data(
            self,
            as_numpy(X),
            as_numpy(y),
            dtype=_FLOAT_DTYPES,
            multi_output=True,
            y_numeric=True,
            ensure_min_samples=2,
        )
        weights = check_sample_weight(
            as_numpy(sample_weight), X, dtype=np.float64, ensure_non_negative=True
        )
        if not np.sum(weights) > 0:
            raise ValueError(
                "sample_weight is 0 for every anchor; give at least one anchor a "
                "positive weight."
            )
        target = np.asarray(y, dtype=np.float64)
        # A 1-D target is a target space of width 1.
        return X.astype(np.float64), target.reshape(X.shape[0], -1), weights

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Estimate the map from paired anchors.

        Parameters
        ----------
        X : array-like of shape (n_anchors, n_features_A)
            The anchors in space A.
        y : array-like of shape (n_anchors, n_features_B) or (n_anchors,)
            The same anchors in space B; a 1-D ``y`` is a space of width 1.
            Dense only.
        sample_weight : array-like of shape (n_anchors,), default=None
            Non-negative weight of each anchor pair in the means and in the
            least-squares objective. A weight of 0 drops an anchor; an integer
            weight ``w`` counts it ``w`` times. ``None`` weighs all equally.
            Routed by :class:`~sklearn.pipeline.Pipeline` and
            :func:`~sklearn.model_selection.cross_validate` once requested
            with ``set_fit_request(sample_weight=True)`` under
            ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        self : object
            The fitted aligner.
        """
        source, target, weights = self._validate_anchors(X, y, sample_weight)
        names = getattr(y, "columns", None)
        if names is not None and all(isinstance(name, str) for name in names):
            self.target_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "target_names_in_"):
            del self.target_names_in_
        if self._centers():
            self.source_mean_ = np.average(source, axis=0, weights=weights)
            self.target_mean_ = np.average(target, axis=0, weights=weights)
        else:
            self.source_mean_ = np.zeros(source.shape[1])
            self.target_mean_ = np.zeros(target.shape[1])
        root = np.sqrt(weights)[:, None]
        intercept_leverage = (
            weights / weights.sum() if self._centers() else np.zeros_like(weights)
        )
        self.coef_ = self._fit_map(
            root * (source - self.source_mean_),
            root * (target - self.target_mean_),
            intercept_leverage,
        )
        return self

    @property
    def _n_features_out(self) -> int:
        return self.coef_.shape[1]

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: space B's own, when ``y`` had them.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_``; the output names do not
            depend on it.

        Returns
        -------
        ndarray of str objects
            ``target_names_in_`` when ``y`` was fitted with string column
            names (the outputs are B's features), else
            ``["<aligner>0", "<aligner>1", ...]``.
        """
        names = super().get_feature_names_out(input_features)
        if hasattr(self, "target_names_in_"):
            return self.target_names_in_.copy()
        return names

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
        X = validate_data(self, as_numpy(X), dtype=_FLOAT_DTYPES, reset=False)
        dtype = X.dtype
        mapped = (X - self.source_mean_.astype(dtype)) @ self.coef_.astype(dtype)
        return mapped + self.target_mean_.astype(dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _zero_padded(X: np.ndarray, width: int) -> np.ndarray:
    return np.pad(X, ((0, 0), (0, width - X.shape[1])))


class ProcrustesAligner(_BaseAligner):
    """Orthogonal Procrustes alignment of space A onto space B.

    Fitted on parallel anchors (row ``i`` of ``X`` and ``y`` is the same input
    embedded by each encoder), it finds the orthogonal ``R`` minimising
    ``||s (A - mu_A) R - (B - mu_B)||_F`` and maps
    ``x -> s (x - mu_A) R + mu_B``: a rotation or reflection, optionally with an
    isotropic scale ``s`` and a translation. With ``sample_weight`` the means
    are weighted and so is each anchor's squared residual. ``R`` comes from
    :func:`scipy.linalg.orthogonal_procrustes`.

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
    target_names_in_ : ndarray of shape (n_features_out,)
        Names of space B's features, when ``y`` has string column names; they
        name the outputs (:meth:`get_feature_names_out`).

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

    def _centers(self) -> bool:
        return self.center

    def _fit_map(
        self, source: np.ndarray, target: np.ndarray, intercept_leverage: np.ndarray
    ) -> np.ndarray:
        width = max(source.shape[1], target.shape[1])
        rotation, singular_value_sum = orthogonal_procrustes(
            _zero_padded(source, width), _zero_padded(target, width)
        )
        self.rotation_ = rotation[: source.shape[1], : target.shape[1]]
        squared_norm = np.sum(source**2)
        if self.scale and squared_norm > 0:
            self.scale_ = float(singular_value_sum / squared_norm)
        else:
            self.scale_ = 1.0
        return self.scale_ * self.rotation_


class LinearAligner(_BaseAligner):
    """Least-squares (or ridge) linear translation of space A into space B.

    Fitted on parallel anchors, it solves
    ``min_W ||(A - mu_A) W - (B - mu_B)||_F^2 + alpha ||W||_F^2`` and maps
    ``x -> (x - mu_A) W + mu_B``. With ``alpha=0`` it is the minimum-norm
    least-squares solution (:func:`scipy.linalg.lstsq`), which stays defined
    when there are fewer anchors than features; with ``alpha > 0``, the ridge
    solution. With ``sample_weight`` the means are weighted and so is each
    anchor's squared residual, as in :class:`~sklearn.linear_model.Ridge`.
    Widths may differ freely.

    Parameters
    ----------
    alpha : float or "auto", default=0.0
        Ridge penalty; 0 is ordinary least squares. ``"auto"`` chooses it on
        the anchors themselves: the penalty of least leave-one-out squared error
        among 0 and 33 values from ``1e-6`` to ``1e2`` times the mean squared
        singular value of the centred anchors, computed in closed form from one
        SVD (as :class:`~sklearn.linear_model.RidgeCV` does). It keeps the map
        from overfitting when anchors are few next to the width.
    fit_intercept : bool, default=True
        Centre both spaces on their anchor means (an affine map). With
        ``False`` the map is linear.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features_in_, n_features_out)
        The matrix ``W``.
    alpha_ : float
        The ridge penalty used: ``alpha``, or the one chosen by ``"auto"``.
    source_mean_ : ndarray of shape (n_features_in_,)
        Anchor mean of space A (zeros when ``fit_intercept=False``).
    target_mean_ : ndarray of shape (n_features_out,)
        Anchor mean of space B (zeros when ``fit_intercept=False``).
    n_features_in_ : int
        Width of space A.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column
        names.
    target_names_in_ : ndarray of shape (n_features_out,)
        Names of space B's features, when ``y`` has string column names; they
        name the outputs (:meth:`get_feature_names_out`).

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
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "fit_intercept": ["boolean"],
    }

    def __init__(self, *, alpha: float | str = 0.0, fit_intercept: bool = True):
        self.alpha = alpha
        self.fit_intercept = fit_intercept

    def _centers(self) -> bool:
        return self.fit_intercept

    def _fit_map(
        self, source: np.ndarray, target: np.ndarray, intercept_leverage: np.ndarray
    ) -> np.ndarray:
        if self.alpha == "auto":
            self.alpha_ = _leave_one_out_alpha(source, target, intercept_leverage)
        else:
            self.alpha_ = float(self.alpha)
        if self.alpha_ > 0:
            # Ridge is least squares on rows extended by sqrt(alpha) * I -> 0.
            width = source.shape[1]
            source = np.vstack([source, np.sqrt(self.alpha_) * np.eye(width)])
            target = np.vstack([target, np.zeros((width, target.shape[1]))])
        # Singular values below this fraction of the largest count as 0: the
        # minimum-norm solution, as numpy.linalg.pinv would give.
        cutoff = max(source.shape) * _EPSILON
        coef, *_ = lstsq(source, target, cond=cutoff)
        return coef


def _leave_one_out_alpha(
    source: np.ndarray, target: np.ndarray, intercept_leverage: np.ndarray
) -> float:
    """The ridge penalty of least leave-one-out squared error, from one SVD.

    With the thin SVD ``source = U S V^T``, the ridge fit with penalty ``a`` has
    hat matrix ``H = U diag(s^2 / (s^2 + a)) U^T`` (plus the means' own
    leverage), and each anchor's leave-one-out residual is its residual divided
    by ``1 - H_ii``: every candidate costs two small products, no refit.
    """
    singular_vectors, singular_values, _ = np.linalg.svd(source, full_matrices=False)
    if not singular_values.size or not singular_values[0] > 0:
        return 0.0
    scale = np.mean(singular_values**2)
    # Directions below rounding (the centring removes one) carry no fit.
    rank = singular_values > singular_values[0] * max(source.shape) * _EPSILON
    singular_vectors, squared = singular_vectors[:, rank], singular_values[rank] ** 2
    projected = singular_vectors.T @ target
    best_error, best_alpha = np.inf, 0.0
    for alpha in _RELATIVE_ALPHAS * scale:
        shrinkage = squared / (squared + alpha)
        residuals = target - singular_vectors @ (shrinkage[:, None] * projected)
        leverage = intercept_leverage + (singular_vectors**2) @ shrinkage
        with np.errstate(divide="ignore", invalid="ignore"):
            error = np.sum((residuals / (1.0 - leverage)[:, None]) ** 2)
        if np.isfinite(error) and error < best_error:
            best_error, best_alpha = error, float(alpha)
    return best_alpha
