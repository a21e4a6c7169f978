"""Shared machinery of the relative-representation transformers."""

from __future__ import annotations

import copy
from numbers import Integral

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._anchors import ANCHOR_SELECTIONS, select_anchor_indices
from ._backend import map_row_chunks, resolve_device, to_tensor
from ._kernels import prepare_similarity, similarity_name

_FLOAT_DTYPES = (np.float64, np.float32)
_LAYER_NORM_EPS = 1e-5


def _safe_scale(scale: np.ndarray) -> np.ndarray:
    return np.where(scale > np.finfo(np.float64).eps, scale, 1.0)


def _off_diagonal(square: np.ndarray) -> np.ndarray:
    if square.shape[0] == 1:
        return square.ravel()
    return square[~np.eye(square.shape[0], dtype=bool)]


def concat_subspaces(subspaces: list[torch.Tensor]) -> torch.Tensor:
    """Subspaces side by side; a single one is returned as it is, uncopied."""
    return subspaces[0] if len(subspaces) == 1 else torch.cat(subspaces, dim=1)


class BaseRelativeSpace(TransformerMixin, BaseEstimator):
    """Anchors, normalisation and chunked projection shared by the transformers.

    Subclasses say which similarities to compute (:meth:`_similarity_list`) and how
    the normalised subspaces are combined (:meth:`_aggregate`).
    """

    _parameter_constraints: dict = {
        "n_anchors": [Interval(Integral, 1, None, closed="left")],
        "anchor_selection": [StrOptions(set(ANCHOR_SELECTIONS))],
        "anchors": ["array-like", None],
        "normalization": [StrOptions({"center", "standard", "l2"}), None],
        "output_normalization": [StrOptions({"scale", "standard", "layer"}), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
    }

    def _similarity_list(self) -> list:
        raise NotImplementedError

    def _aggregate(self, subspaces: list[torch.Tensor]) -> torch.Tensor:
        return concat_subspaces(subspaces)

    def _output_subspace_names(self) -> list[str]:
        return list(self.subspace_names_)

    # fitting -------------------------------------------------------------------

    def _fit(self, X, y=None):
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, ensure_min_samples=1)
        names = [similarity_name(s) for s in self._similarity_list()]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"similarities must have distinct names; {duplicates} repeat."
            )
        self.subspace_names_ = np.asarray(names, dtype=object)
        if self.anchors is None:
            self.anchor_indices_ = select_anchor_indices(
                X,
                self.n_anchors,
                self.anchor_selection,
                y=y,
                random_state=self.random_state,
            )
            anchors = X[self.anchor_indices_]
        else:
            anchors = self._check_anchors(self.anchors, X.shape[1])
        self._fit_anchor_statistics(anchors)
        return self

    def _check_anchors(self, anchors, n_features: int | None) -> np.ndarray:
        anchors = check_array(anchors, dtype=_FLOAT_DTYPES, input_name="anchors")
        if n_features is not None and anchors.shape[1] != n_features:
            raise ValueError(
                f"anchors have {anchors.shape[1]} features but X has {n_features}; "
                "anchors must be embedded in the same space as X."
            )
        return anchors

    def _fit_anchor_statistics(self, anchors: np.ndarray) -> None:
        """Set every statistic that is derived from the anchors alone."""
        self.anchors_ = anchors
        self.n_features_in_ = anchors.shape[1]
        if self.normalization in ("center", "standard"):
            self.input_mean_ = anchors.mean(0, dtype=np.float64)
        else:
            self.input_mean_ = np.zeros(anchors.shape[1])
        if self.normalization == "standard":
            self.input_scale_ = _safe_scale(anchors.std(0, dtype=np.float64))
        else:
            self.input_scale_ = np.ones(anchors.shape[1])
        n_subspaces, k = len(self.subspace_names_), anchors.shape[0]
        self.output_offset_ = np.zeros(n_subspaces)
        self.output_scale_ = np.ones(n_subspaces)
        if self.output_normalization in ("scale", "standard"):
            raw = self._project(anchors, normalize_output=False).astype(np.float64)
            for i in range(n_subspaces):
                values = _off_diagonal(raw[:, i * k : (i + 1) * k])
                if self.output_normalization == "standard":
                    self.output_offset_[i] = values.mean()
                    self.output_scale_[i] = values.std()
                else:
                    self.output_scale_[i] = np.abs(values).mean()
            self.output_scale_ = _safe_scale(self.output_scale_)

    # projecting ----------------------------------------------------------------

    def _project(self, X: np.ndarray, *, normalize_output: bool = True) -> np.ndarray:
        device = resolve_device(self.device)

        def as_tensor(array):
            return to_tensor(np.asarray(array, dtype=X.dtype), device)

        mean, scale = as_tensor(self.input_mean_), as_tensor(self.input_scale_)
        offsets, scales = self.output_offset_.tolist(), self.output_scale_.tolist()

        def normalize_input(x):
            if self.normalization in ("center", "standard"):
                x = (x - mean) / scale
            elif self.normalization == "l2":
                x = F.normalize(x, dim=1)
            return x

        kernels = [
            prepare_similarity(s, normalize_input(as_tensor(self.anchors_)))
            for s in self._similarity_list()
        ]
        k = self.anchors_.shape[0]

        def block_function(x):
            x = normalize_input(x)
            subspaces = [kernel(x) for kernel in kernels]
            if not normalize_output:
                return concat_subspaces(subspaces)
            if self.output_normalization == "layer":
                subspaces = [
                    F.layer_norm(r, (k,), eps=_LAYER_NORM_EPS) for r in subspaces
                ]
            elif self.output_normalization is not None:
                subspaces = [
                    (r - o) / s
                    for r, o, s in zip(subspaces, offsets, scales, strict=True)
                ]
            return self._aggregate(subspaces)

        n_outputs = k * (
            len(kernels) if not normalize_output else len(self._output_subspace_names())
        )
        return map_row_chunks(
            X,
            block_function,
            n_outputs=n_outputs,
            batch_size=self.batch_size,
            device=device,
        )

    def transform(self, X):
        """Project ``X`` onto the anchors.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings in the space the anchors live in.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out)
            The relative representation, of the dtype of ``X`` (float32 stays
            float32, everything else becomes float64).
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        return self._project(X)

    # re-anchoring --------------------------------------------------------------

    def reanchor(self, anchors):
        """Return a copy of this fitted transformer that works in another space.

        This is the step that makes zero-shot stitching possible: ``anchors`` are
        the *same* anchor samples as ``anchors_``, embedded by another encoder (of
        any width). Every anchor statistic (normalisation, output scale) is
        recomputed from them; nothing is computed from the other space's data.
        ``self`` is left unchanged.

        Parameters
        ----------
        anchors : array-like of shape (n_anchors, n_features_new)
            The parallel anchors, row ``i`` standing for the same input as
            ``anchors_[i]``.

        Returns
        -------
        estimator
            A fitted copy that transforms data of width ``n_features_new``. Its
            ``anchors`` parameter is set to the new anchors, so cloning and
            refitting it keeps them.
        """
        check_is_fitted(self)
        anchors = self._check_anchors(anchors, None)
        if anchors.shape[0] != self.anchors_.shape[0]:
            raise ValueError(
                f"reanchor got {anchors.shape[0]} anchors but the transformer was "
                f"fitted with {self.anchors_.shape[0]}; parallel anchors must be the "
                "same samples, in the same order."
            )
        reanchored = copy.deepcopy(self)
        reanchored.anchors = anchors
        for attribute in ("feature_names_in_", "anchor_indices_"):
            reanchored.__dict__.pop(attribute, None)
        reanchored._fit_anchor_statistics(anchors)
        return reanchored

    # feature names and tags ----------------------------------------------------

    def get_feature_names_out(self, input_features=None):
        """Output feature names, ``"<subspace>_a<anchor index>"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the names seen in :meth:`fit`.

        Returns
        -------
        ndarray of str objects
            One name per output column.
        """
        check_is_fitted(self)
        from sklearn.utils.validation import _check_feature_names_in

        _check_feature_names_in(self, input_features, generate_names=False)
        k = self.anchors_.shape[0]
        return np.asarray(
            [
                f"{name}_a{j}"
                for name in self._output_subspace_names()
                for j in range(k)
            ],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
