"""Relative representations: describe each sample by its similarity to anchors.

The base class holds what both transformers share (anchors, their statistics,
the chunked projection and re-anchoring); :class:`RelativeProjector` computes
one similarity and :class:`InvariantProductSpace` several on one anchor set.
The numerics live in :mod:`sklearn_relrep.relative._kernels` and the chunking and
devices in :mod:`sklearn_relrep._backend`.
"""

from __future__ import annotations

import copy
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .._backend import (
    array_api_dispatch,
    as_numpy,
    is_torch_tensor,
    map_row_chunks,
    resolve_device,
    tensor_from_numpy,
    upcast_half,
)
from .._compat import (
    Interval,
    StrOptions,
    check_feature_names_in,
    fit_context,
    get_namespace,
    reject_bool,
    validate_data,
)
from .._dask import DaskTokenMixin, is_dask_collection, lazy_method
from .._layout import SubspaceArray, SubspaceLayout
from .._state import StateMixin
from ._anchors import ANCHOR_SELECTIONS, select_anchor_indices
from ._dask_fit import fit_from_dask
from ._functional import (
    ORIENTATIONS,
    OUTPUT_SCALINGS,
    PREPROCESSINGS,
    AnchorStatistics,
    concat_subspaces,
    input_statistics,
    output_statistics,
    relative_projection,
)
from ._kernels import SIMILARITIES, similarity_name

__all__ = ["BaseRelativeSpace", "InvariantProductSpace", "RelativeProjector"]

_FLOAT_DTYPES = (np.float64, np.float32)
_TORCH_DTYPES = {
    np.dtype(np.float32): torch.float32,
    np.dtype(np.float64): torch.float64,
}


class BaseRelativeSpace(DaskTokenMixin, StateMixin, TransformerMixin, BaseEstimator):
    """Anchors, their statistics and the chunked projection of both transformers.

    Subclasses say which similarities to compute (:meth:`_similarity_list`).
    """

    _parameter_constraints: dict = {
        "n_anchors": [Interval(Integral, 1, None, closed="left")],
        "anchor_selection": [StrOptions(set(ANCHOR_SELECTIONS))],
        "anchors": ["array-like", None],
        "preprocessing": [StrOptions(set(PREPROCESSINGS)), None],
        "output_scaling": [StrOptions(set(OUTPUT_SCALINGS)), None],
        "orientation": [StrOptions(set(ORIENTATIONS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
    }
    _state_attributes = (
        "anchors_",
        "anchor_indices_",
        "subspace_names_",
        "input_mean_",
        "input_scale_",
        "output_offset_",
        "output_scale_",
        "n_features_in_",
        "feature_names_in_",
    )

    def _similarity_list(self) -> list:
        raise NotImplementedError

    # fitting -------------------------------------------------------------------

    def _fit(self, X, y=None, *, anchors=None):
        """Fit on ``X``; ``anchors``, when given, take the place of ``self.anchors``."""
        reject_bool(self, "n_anchors", "batch_size")
        resolve_device(self.device)
        if is_dask_collection(X):
            return fit_from_dask(self, X, y)
        X = validate_data(self, as_numpy(X), dtype=_FLOAT_DTYPES, ensure_min_samples=1)
        names = [similarity_name(s) for s in self._similarity_list()]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(
                f"similarities must have distinct names; {duplicates} repeat."
            )
        self.subspace_names_ = np.asarray(names, dtype=object)
        if anchors is None:
            anchors = self.anchors
        if anchors is None:
            self.anchor_indices_ = select_anchor_indices(
                X,
                self.n_anchors,
                self.anchor_selection,
                y=y,
                random_state=self.random_state,
            )
            anchors = X[self.anchor_indices_]
        else:
            anchors = self._check_anchors(anchors, X.shape[1])
        self._fit_anchor_statistics(anchors)
        return self

    def _check_anchors(self, anchors, n_features: int | None) -> np.ndarray:
        anchors = check_array(
            as_numpy(anchors), dtype=_FLOAT_DTYPES, copy=True, input_name="anchors"
        )
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
        mean, scale = input_statistics(tensor_from_numpy(anchors), self.preprocessing)
        self.input_mean_, self.input_scale_ = mean.numpy(), scale.numpy()
        n_subspaces = len(self.subspace_names_)
        self.output_offset_ = np.zeros(n_subspaces)
        self.output_scale_ = np.ones(n_subspaces)
        if self.output_scaling in ("scale", "standard"):
            raw = tensor_from_numpy(self._project(anchors, scale_output=False))
            subspaces = [raw[:, columns] for columns in self.layout_.slices]
            offsets, scales = output_statistics(subspaces, self.output_scaling)
            self.output_offset_, self.output_scale_ = offsets.numpy(), scales.numpy()

    @property
    def layout_(self) -> SubspaceLayout:
        """The names and widths of the output's subspaces."""
        check_is_fitted(self)
        k = self.anchors_.shape[0]
        return SubspaceLayout(
            tuple(str(n) for n in self.subspace_names_),
            (k,) * len(self.subspace_names_),
        )

    # projecting ----------------------------------------------------------------

    def _project(self, X, *, scale_output: bool = True):
        if is_torch_tensor(X):
            device, dtype = X.device, X.dtype
        else:
            device, dtype = resolve_device(self.device), _TORCH_DTYPES[X.dtype]

        def as_tensor(array):
            return tensor_from_numpy(np.asarray(array)).to(device=device, dtype=dtype)

        statistics = AnchorStatistics(
            *(
                tensor_from_numpy(np.asarray(value, dtype=np.float64))
                for value in (
                    self.input_mean_,
                    self.input_scale_,
                    self.output_offset_,
                    self.output_scale_,
                )
            )
        )
        similarities = self._similarity_list()
        project = relative_projection(
            as_tensor(self.anchors_),
            similarities,
            preprocessing=self.preprocessing,
            orientation=self.orientation,
            output_scaling=self.output_scaling if scale_output else None,
            statistics=statistics,
        )
        k = self.anchors_.shape[0]

        def block_function(x):
            out = concat_subspaces(project(x))
            if not torch.isfinite(out).all():
                raise ValueError(
                    f"The relative representation overflows {dtype}: X holds "
                    f"values up to {x.abs().max().item():.3g} in magnitude. Pass "
                    "X as float64, or rescale it."
                )
            return out

        return map_row_chunks(
            X,
            block_function,
            n_outputs=k * len(similarities),
            batch_size=self.batch_size,
            device=device,
        )

    def transform(self, X):
        """Project ``X`` onto the anchors.

        Parameters
        ----------
        X : array-like or torch.Tensor of shape (n_samples, n_features)
            Embeddings in the space the anchors live in. A torch tensor gives a
            torch tensor on the same device when scikit-learn's
            ``array_api_dispatch`` is on; otherwise it is detached, copied to
            the CPU and treated as a numpy array. Transforms are never
            differentiable.

        Returns
        -------
        ndarray or torch.Tensor of shape (n_samples, n_features_out)
            The relative representation, of the dtype of ``X`` (float32 stays
            float32, float16 and bfloat16 tensors give float32, everything else
            becomes float64).
        """
        check_is_fitted(self)
        if is_dask_collection(X):
            return lazy_method(self, "transform", X)
        if is_torch_tensor(X) and array_api_dispatch():
            xp, _ = get_namespace(X)
            X = validate_data(
                self,
                upcast_half(X.detach()),
                dtype=[xp.float64, xp.float32],
                reset=False,
            )
            return self._project(X)
        X = validate_data(self, as_numpy(X), dtype=_FLOAT_DTYPES, reset=False)
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
            refitting it keeps them. When ``anchors`` is a DataFrame with string
            column names, they become the copy's ``feature_names_in_``.
        """
        check_is_fitted(self)
        columns = getattr(anchors, "columns", None)
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
        if columns is not None and all(isinstance(c, str) for c in columns):
            reanchored.feature_names_in_ = np.asarray(columns, dtype=object)
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
        check_feature_names_in(self, input_features, generate_names=False)
        return np.asarray(self.layout_.feature_names(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        # Tensors in give tensors out under array_api_dispatch, but the fitted
        # state stays numpy, which scikit-learn's array API contract forbids
        # (tests/test_common.py runs its check).
        tags.array_api_support = False
        return tags


class RelativeProjector(BaseRelativeSpace):
    """Project embeddings onto anchors to get their relative representation.

    Each sample ``x`` becomes ``r(x) = [d(x, a_1), ..., d(x, a_k)]``, its
    similarity to ``k`` anchors embedded by the same encoder. ``r`` is unchanged by
    every transformation of the space that ``d`` preserves, so two encoders whose
    spaces differ by such a transformation produce the same representation for
    parallel anchors.

    ================  ==============================================================
    ``similarity``    ``r(x)`` is invariant to
    ================  ==============================================================
    ``"cosine"``      orthogonal maps, isotropic scaling; with
                      ``preprocessing="center"``, translation too
    ``"euclidean"``   orthogonal maps and translation (isometries)
    ``"l1"``          coordinate permutations, sign flips, translation
    ``"linf"``        coordinate permutations, sign flips, translation
    ================  ==============================================================

    **Sign convention.** By default (``orientation="raw"``) ``"cosine"`` is a
    similarity (higher is closer) and the distances ``"euclidean"``, ``"l1"``
    and ``"linf"`` are returned raw and non-negative (lower is closer), as in
    the reference implementation. ``orientation="similarity"`` negates the
    distances so that higher is closer for every similarity, which is what
    :class:`InvariantProductSpace` does by default.

    Parameters
    ----------
    similarity : {"cosine", "euclidean", "l1", "linf"} or callable, default="cosine"
        The function ``d``. A callable takes torch tensors ``(x, anchors)`` of shapes
        ``(b, d)`` and ``(k, d)`` and returns a tensor of shape ``(b, k)``; it is
        used as it returns, whatever ``orientation`` says.
    n_anchors : int, default=300
        Number of anchors drawn from ``X`` in :meth:`fit`. Ignored when
        ``anchors`` is given. Must not exceed ``n_samples``.
    anchor_selection : {"random", "stratified", "farthest", "kmeans"}, \
            default="random"
        How anchors are drawn from ``X``: uniformly, per class of ``y`` in
        proportion, by farthest-point sampling, or as the samples nearest to the
        k-means centroids.
    anchors : array-like of shape (n_anchors, n_features), default=None
        Explicit anchor embeddings. When given, nothing is drawn from ``X``.
        They are copied in :meth:`fit`.
    preprocessing : {"center", "standard", "l2"} or None, default=None
        Applied to samples and anchors before ``d``. ``"center"`` subtracts the
        anchors' mean, ``"standard"`` also divides by the anchors' per-feature
        standard deviation, ``"l2"`` scales each row to unit norm. Statistics
        come from the anchors only. The default matches the reference
        implementation; ``"center"`` makes the cosine translation-invariant and
        changes no distance.
    output_scaling : {"scale", "standard", "layer"} or None, default=None
        Applied to the relative representation. ``"scale"`` divides by the mean
        absolute anchor-to-anchor value, making distances invariant to isotropic
        rescaling; ``"standard"`` also subtracts the mean anchor-to-anchor value
        before dividing by their standard deviation; ``"layer"`` standardises
        each sample over its ``k`` coordinates (a LayerNorm without weights).
        Anchor-to-anchor statistics exclude the self-similarities.
    orientation : {"raw", "similarity"}, default="raw"
        ``"raw"`` returns distances as they are (lower is closer);
        ``"similarity"`` negates them (higher is closer).
    batch_size : int, default=1024
        Rows per chunk in :meth:`transform`; memory is bounded by the output plus
        one chunk.
    device : str or torch.device, default="auto"
        Where to compute. ``"auto"`` uses CUDA when present; it is resolved at
        each call and never written back.
    random_state : int, RandomState instance or None, default=None
        Seeds the anchor draw.

    Attributes
    ----------
    anchors_ : ndarray of shape (n_anchors, n_features)
        The anchors, in the input space.
    anchor_indices_ : ndarray of shape (n_anchors,)
        Rows of the training ``X`` used as anchors; only set when they were drawn
        from ``X``.
    subspace_names_ : ndarray of shape (1,)
        The similarity's name, used in feature names.
    layout_ : SubspaceLayout
        One subspace of width ``n_anchors``, named after the similarity.
    input_mean_, input_scale_ : ndarray of shape (n_features,)
        Preprocessing statistics of the anchors (zeros and ones when unused).
    output_offset_, output_scale_ : ndarray of shape (1,)
        Output scaling statistics (zero and one when unused).
    n_features_in_ : int
        Width of the input space.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column
        names.

    See Also
    --------
    InvariantProductSpace : Several similarities on one anchor set.
    sklearn.random_projection.GaussianRandomProjection : A data-independent
        projection.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from sklearn_relrep import RelativeProjector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 8))
    >>> Q = ortho_group.rvs(8, random_state=0)
    >>> projector = RelativeProjector(n_anchors=10, random_state=0).fit(X)
    >>> projector.transform(X).shape
    (100, 10)
    >>> rotated = projector.reanchor(projector.anchors_ @ Q)
    >>> np.allclose(projector.transform(X), rotated.transform(X @ Q))
    True
    """

    _parameter_constraints: dict = {
        **BaseRelativeSpace._parameter_constraints,
        "similarity": [StrOptions(set(SIMILARITIES)), callable],
    }

    def __init__(
        self,
        similarity="cosine",
        *,
        n_anchors: Integral = 300,
        anchor_selection="random",
        anchors=None,
        preprocessing=None,
        output_scaling=None,
        orientation="raw",
        batch_size: Integral = 1024,
        device="auto",
        random_state=None,
    ):
        self.similarity = similarity
        self.n_anchors = n_anchors
        self.anchor_selection = anchor_selection
        self.anchors = anchors
        self.preprocessing = preprocessing
        self.output_scaling = output_scaling
        self.orientation = orientation
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def _similarity_list(self) -> list:
        return [self.similarity]

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the anchors and compute their statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings to draw anchors from.
        y : array-like of shape (n_samples,), default=None
            Class labels; only used by ``anchor_selection="stratified"``.

        Returns
        -------
        self : RelativeProjector
            The fitted projector.
        """
        return self._fit(X, y)


class InvariantProductSpace(BaseRelativeSpace):
    """Relative subspaces of several similarities on one anchor set, side by side.

    For each similarity ``d_i`` the samples get a relative representation
    ``R_i(x)`` on the same anchors; each ``R_i`` is oriented so that higher
    means closer, scaled on its own, and the ``m`` subspaces are concatenated.
    No single invariance has to be guessed in advance: a downstream learner
    (for example :class:`~sklearn_relrep.StitchingClassifier` with its QKV
    attention blender) learns how to blend them.

    Parameters
    ----------
    similarities : sequence of str or callable, \
            default=("cosine", "euclidean", "l1", "linf")
        One relative subspace per entry, each as in
        :class:`RelativeProjector`'s ``similarity``. Names must be distinct.
    n_anchors : int, default=300
        Number of anchors drawn from ``X``; ignored when ``anchors`` is given.
    anchor_selection : {"random", "stratified", "farthest", "kmeans"}, \
            default="random"
        How anchors are drawn from ``X``.
    anchors : array-like of shape (n_anchors, n_features), default=None
        Explicit anchor embeddings, copied in :meth:`fit`.
    preprocessing : {"center", "standard", "l2"} or None, default="center"
        Applied to samples and anchors before every similarity; statistics from
        the anchors. The default centres on the anchors' mean, which makes the
        cosine subspace translation-invariant too and leaves the distances
        unchanged.
    output_scaling : {"scale", "standard", "layer"} or None, \
            default="standard"
        Scaling of each subspace. The default standardises subspace ``i`` with
        the mean and standard deviation of the anchors' own off-diagonal
        relative representation under ``d_i``, which puts similarities and
        distances on one scale and cancels isotropic rescaling; ``"layer"``
        instead standardises each sample over its anchor coordinates. A
        :class:`~sklearn_relrep.StitchingClassifier` normalises each subspace
        per sample again (its LayerNorm), which cancels any per-subspace affine
        scaling: the choice matters for other downstream learners.
    orientation : {"similarity", "raw"}, default="similarity"
        ``"similarity"`` negates the distances so that every subspace points the
        same way (higher is closer); a per-subspace normalisation does not flip
        a sign, so without it a cosine block and a distance block of the same
        sample are almost exactly anti-correlated and any blender that adds
        subspaces partly cancels them. ``"raw"`` keeps the distances as they
        are.
    batch_size : int, default=1024
        Rows per chunk in :meth:`transform`.
    device : str or torch.device, default="auto"
        Where to compute; ``"auto"`` uses CUDA when present.
    random_state : int, RandomState instance or None, default=None
        Seeds the anchor draw.

    Attributes
    ----------
    anchors_ : ndarray of shape (n_anchors, n_features)
        The anchors, in the input space.
    anchor_indices_ : ndarray of shape (n_anchors,)
        Rows of the training ``X`` used as anchors, when drawn from ``X``.
    subspace_names_ : ndarray of shape (n_similarities,)
        The similarities' names, in output order.
    layout_ : SubspaceLayout
        The names and widths of the output's subspaces: the contract with the
        learner after it (pass it as ``subspaces=`` when a step in between
        drops it).
    input_mean_, input_scale_ : ndarray of shape (n_features,)
        Preprocessing statistics of the anchors.
    output_offset_, output_scale_ : ndarray of shape (n_similarities,)
        Per-subspace scaling statistics.
    n_features_in_ : int
        Width of the input space.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during :meth:`fit`, when ``X`` has string column
        names.

    See Also
    --------
    RelativeProjector : A single similarity.
    StitchingClassifier : Learns how to blend the subspaces.

    Notes
    -----
    :meth:`transform` returns a :class:`~sklearn_relrep.SubspaceArray`, a numpy
    array that also carries ``layout_``, so that a learner after it in a
    :class:`~sklearn.pipeline.Pipeline` can split the subspaces back out. With
    ``set_output(transform="pandas")`` the column names carry the same layout.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep import InvariantProductSpace
    >>> X = np.random.RandomState(0).normal(size=(50, 6))
    >>> space = InvariantProductSpace(n_anchors=5, random_state=0).fit(X)
    >>> Z = space.transform(X)
    >>> Z.shape, Z.layout.names
    ((50, 20), ('cosine', 'euclidean', 'l1', 'linf'))
    >>> space.get_feature_names_out()[[0, 5]].tolist()
    ['cosine_a0', 'euclidean_a0']
    """

    _parameter_constraints: dict = {
        **BaseRelativeSpace._parameter_constraints,
        "similarities": [list, tuple],
    }

    def __init__(
        self,
        similarities=("cosine", "euclidean", "l1", "linf"),
        *,
        n_anchors: Integral = 300,
        anchor_selection="random",
        anchors=None,
        preprocessing="center",
        output_scaling="standard",
        orientation="similarity",
        batch_size: Integral = 1024,
        device="auto",
        random_state=None,
    ):
        self.similarities = similarities
        self.n_anchors = n_anchors
        self.anchor_selection = anchor_selection
        self.anchors = anchors
        self.preprocessing = preprocessing
        self.output_scaling = output_scaling
        self.orientation = orientation
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def _similarity_list(self) -> list:
        similarities = list(self.similarities)
        if not similarities:
            raise ValueError("similarities must name at least one similarity.")
        for similarity in similarities:
            if not (callable(similarity) or similarity in SIMILARITIES):
                raise ValueError(
                    f"Unknown similarity {similarity!r} in similarities; expected "
                    f"names from {sorted(SIMILARITIES)} or callables."
                )
        return similarities

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Choose the anchors and compute per-subspace statistics.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings to draw anchors from.
        y : array-like of shape (n_samples,), default=None
            Class labels; only used by ``anchor_selection="stratified"``.

        Returns
        -------
        self : InvariantProductSpace
            The fitted product space.
        """
        return self._fit(X, y)

    def transform(self, X):
        """Project ``X`` on the anchors under every similarity.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings in the space the anchors live in.

        Returns
        -------
        SubspaceArray or torch.Tensor of shape (n_samples, n_similarities * \
                n_anchors)
            The product representation, carrying ``layout_``: as a
            :class:`SubspaceArray`, or, for a torch tensor out (see
            :meth:`RelativeProjector.transform`), as the tensor's
            ``subspace_layout`` attribute, which the stitchers read.
        """
        if is_dask_collection(X):
            return lazy_method(self, "transform", X, layout=self.layout_)
        Z = super().transform(X)
        if is_torch_tensor(Z):
            Z.subspace_layout = self.layout_
            return Z
        return SubspaceArray(Z, self.layout_)
