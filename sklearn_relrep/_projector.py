"""Relative representations: describe each sample by its similarity to anchors."""

from __future__ import annotations

from numbers import Integral

from sklearn.base import _fit_context
from sklearn.utils._param_validation import StrOptions

from ._base import BaseRelativeSpace
from ._kernels import SIMILARITIES

__all__ = ["RelativeProjector"]


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
    ``"cosine"``      orthogonal maps, isotropic scaling (+ translation if centred)
    ``"euclidean"``   orthogonal maps and translation (isometries)
    ``"l1"``          coordinate permutations, sign flips, translation
    ``"linf"``        coordinate permutations, sign flips, translation
    ================  ==============================================================

    **Sign convention.** ``"cosine"`` is a similarity (higher is closer); the
    distances ``"euclidean"``, ``"l1"`` and ``"linf"`` are returned raw and
    non-negative (lower is closer), as in the reference implementation.

    Parameters
    ----------
    similarity : {"cosine", "euclidean", "l1", "linf"} or callable, default="cosine"
        The function ``d``. A callable takes torch tensors ``(x, anchors)`` of shapes
        ``(b, d)`` and ``(k, d)`` and returns a tensor of shape ``(b, k)``.
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
    normalization : {"center", "standard", "l2"} or None, default=None
        Applied to samples and anchors before ``d``. ``"center"`` subtracts the
        anchors' mean, ``"standard"`` also divides by the anchors' per-feature
        standard deviation, ``"l2"`` scales each row to unit norm. Statistics
        come from the anchors only.
    output_normalization : {"scale", "standard", "layer"} or None, default=None
        Applied after ``d``. ``"scale"`` divides by the mean absolute
        anchor-to-anchor value, making distances invariant to isotropic
        rescaling; ``"standard"`` also subtracts the mean anchor-to-anchor value
        before dividing by their standard deviation; ``"layer"`` standardises
        each sample over its ``k`` coordinates (a LayerNorm without weights).
        Anchor-to-anchor statistics exclude the zero self-distances.
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
    input_mean_, input_scale_ : ndarray of shape (n_features,)
        Input normalisation statistics of the anchors (zeros and ones when
        unused).
    output_offset_, output_scale_ : ndarray of shape (1,)
        Output normalisation statistics (zero and one when unused).
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
        normalization=None,
        output_normalization=None,
        batch_size: Integral = 1024,
        device="auto",
        random_state=None,
    ):
        self.similarity = similarity
        self.n_anchors = n_anchors
        self.anchor_selection = anchor_selection
        self.anchors = anchors
        self.normalization = normalization
        self.output_normalization = output_normalization
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def _similarity_list(self) -> list:
        return [self.similarity]

    @_fit_context(prefer_skip_nested_validation=True)
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
