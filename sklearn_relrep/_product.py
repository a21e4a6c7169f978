"""Products of invariances: several relative subspaces on one anchor set."""

from __future__ import annotations

from numbers import Integral

import torch
from sklearn.base import _fit_context
from sklearn.utils._param_validation import StrOptions

from ._base import BaseRelativeSpace, concat_subspaces
from ._kernels import SIMILARITIES
from ._layout import SubspaceArray

__all__ = ["InvariantProductSpace"]


class InvariantProductSpace(BaseRelativeSpace):
    """Relative subspaces of several similarities, normalised and combined.

    For each similarity ``d_i`` the samples get a relative representation
    ``R_i(x)`` on the same anchors; each ``R_i`` is normalised on its own and the
    ``m`` subspaces are combined by a fixed aggregation. No single invariance has
    to be guessed in advance: a downstream learner (for example
    :class:`~sklearn_relrep.StitchingClassifier` with a learned attention
    blender) can rely on whichever fits the data.

    Parameters
    ----------
    similarities : sequence of str or callable, \
            default=("cosine", "euclidean", "l1", "linf")
        One relative subspace per entry, each as in
        :class:`RelativeProjector`'s ``similarity``. Names must be distinct.
    aggregation : {"concat", "sum", "mean"}, default="concat"
        ``"concat"`` gives ``m * n_anchors`` features, subspace after subspace;
        ``"sum"`` and ``"mean"`` give ``n_anchors`` features.
    n_anchors : int, default=300
        Number of anchors drawn from ``X``; ignored when ``anchors`` is given.
    anchor_selection : {"random", "stratified", "farthest", "kmeans"}, \
            default="random"
        How anchors are drawn from ``X``.
    anchors : array-like of shape (n_anchors, n_features), default=None
        Explicit anchor embeddings.
    normalization : {"center", "standard", "l2"} or None, default=None
        Input normalisation before every similarity; statistics from the anchors.
    output_normalization : {"scale", "standard", "layer"} or None, \
            default="standard"
        Normalisation of each subspace before aggregation. The default
        standardises subspace ``i`` with the mean and standard deviation of the
        anchors' own off-diagonal relative representation under ``d_i``. This
        puts similarities and distances on one scale and cancels isotropic
        rescaling; ``"layer"`` instead standardises each sample over its anchor
        coordinates, as the reference LayerNorm does.
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
    input_mean_, input_scale_ : ndarray of shape (n_features,)
        Input normalisation statistics of the anchors.
    output_offset_, output_scale_ : ndarray of shape (n_similarities,)
        Per-subspace normalisation statistics.
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
    array that also carries the layout, so that a learner after it in a
    :class:`~sklearn.pipeline.Pipeline` can split the subspaces back out. With
    ``set_output(transform="pandas")`` the column names carry the same layout.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep import InvariantProductSpace
    >>> X = np.random.RandomState(0).normal(size=(50, 6))
    >>> space = InvariantProductSpace(n_anchors=5, random_state=0).fit(X)
    >>> Z = space.transform(X)
    >>> Z.shape, Z.subspaces[0]
    ((50, 20), ('cosine', 5))
    >>> space.get_feature_names_out()[[0, 5]].tolist()
    ['cosine_a0', 'euclidean_a0']
    """

    _parameter_constraints: dict = {
        **BaseRelativeSpace._parameter_constraints,
        "similarities": [list, tuple],
        "aggregation": [StrOptions({"concat", "sum", "mean"})],
    }

    def __init__(
        self,
        similarities=("cosine", "euclidean", "l1", "linf"),
        *,
        aggregation="concat",
        n_anchors: Integral = 300,
        anchor_selection="random",
        anchors=None,
        normalization=None,
        output_normalization="standard",
        batch_size: Integral = 1024,
        device="auto",
        random_state=None,
    ):
        self.similarities = similarities
        self.aggregation = aggregation
        self.n_anchors = n_anchors
        self.anchor_selection = anchor_selection
        self.anchors = anchors
        self.normalization = normalization
        self.output_normalization = output_normalization
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

    def _output_subspace_names(self) -> list[str]:
        if self.aggregation == "concat":
            return list(self.subspace_names_)
        return [self.aggregation]

    def _aggregate(self, subspaces: list[torch.Tensor]) -> torch.Tensor:
        if self.aggregation == "concat":
            return concat_subspaces(subspaces)
        total = torch.stack(subspaces).sum(0)
        return total / len(subspaces) if self.aggregation == "mean" else total

    def subspace_layout(self) -> list[tuple[str, slice]]:
        """Name and column slice of each block in the output of :meth:`transform`.

        Returns
        -------
        list of (str, slice)
            One entry per output subspace; a single entry named after the
            aggregation when it is ``"sum"`` or ``"mean"``.
        """
        k = self.anchors_.shape[0]
        names = self._output_subspace_names()
        return [(name, slice(i * k, (i + 1) * k)) for i, name in enumerate(names)]

    @_fit_context(prefer_skip_nested_validation=True)
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
        """Project ``X`` on the anchors under every similarity and combine.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings in the space the anchors live in.

        Returns
        -------
        SubspaceArray of shape (n_samples, n_features_out)
            The product representation, carrying its subspace layout.
        """
        Z = super().transform(X)
        k = self.anchors_.shape[0]
        return SubspaceArray(Z, [(name, k) for name in self._output_subspace_names()])
