"""Classifier and regressor that decode relative representations, trained by skorch."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._stitching_base import BaseStitchingEstimator

__all__ = ["StitchingClassifier", "StitchingRegressor"]

# The per-subspace LayerNorm assumes each subspace is a relative representation
# over many anchors; on a few raw features (scikit-learn's toy checks) it discards
# most of the signal, e.g. a LayerNorm over 2 features keeps only their order.
_POOR_SCORE_ON_RAW_FEATURES = True

_SHARED_PARAMETERS = """
    subspaces : "auto", int or sequence of int, default="auto"
        Layout of the input columns into relative subspaces. ``"auto"`` reads it
        from ``X`` (a :class:`~sklearn_relrep.SubspaceArray` from
        :class:`~sklearn_relrep.InvariantProductSpace`, or pandas columns named
        ``"<subspace>_a<anchor>"``), falling back to a single subspace; an int
        splits the columns into that many equal subspaces; a sequence gives
        each subspace's width.
    aggregation : {"concat", "sum", "mlp_sum", "weighted", "attention"}, \
            default="concat"
        How the normalised subspaces are blended (see
        :mod:`sklearn_relrep.nn`). ``"attention"`` is the QKV blender.
    n_heads : int, default=1
        Attention heads; must divide the subspace width.
    attention_reduction : {"sum", "mean"}, default="sum"
        How the attention output tokens are combined.
    hidden_sizes : tuple of int, default=(128,)
        Hidden layer widths of the MLP head.
    activation : {"relu", "gelu", "tanh", "silu"}, default="relu"
        Non-linearity of the head.
    dropout : float, default=0.0
        Dropout after each hidden layer of the head.
    optimizer : {"adam", "adamw", "sgd"}, default="adam"
        Torch optimizer.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        Weight decay of the optimizer.
    max_epochs : int, default=20
        Training epochs.
    batch_size : int, default=64
        Mini-batch size.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop when the validation
        loss has not improved for ``n_iter_no_change`` epochs, keeping the best
        weights.
    validation_fraction : float, default=0.1
        Held-out fraction when ``early_stopping`` is on.
    n_iter_no_change : int, default=5
        Patience of early stopping.
    device : str or torch.device, default="auto"
        Where to train and predict; ``"auto"`` picks CUDA when available. It is
        resolved at every call, so a model trained on CUDA predicts on a CPU-only
        machine; an explicit ``"cuda"`` there raises a clear error.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation split.
        torch's global RNG state is left untouched.
    verbose : int, default=0
        ``1`` prints skorch's epoch table; ``0`` is silent.
"""

_SHARED_ATTRIBUTES = """
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` is a
        :class:`~sklearn_relrep.nn.StitchingNetwork`.
    subspace_sizes_ : tuple of int
        The subspace widths used.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input feature names, when ``X`` has string column names.
"""


class StitchingClassifier(ClassifierMixin, BaseStitchingEstimator):
    __doc__ = f"""Classify relative representations with a learned subspace blender.

    A per-subspace LayerNorm, a blender (concatenation, sum, DeepSet, learned
    weights or QKV self-attention across subspaces) and an MLP head, trained
    with cross-entropy by skorch. Placed after a relative step in a
    :class:`~sklearn.pipeline.Pipeline`, it can be stitched zero-shot to another
    encoder with :func:`~sklearn_relrep.zero_shot_stitch`.

    Parameters
    ----------{_SHARED_PARAMETERS}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, of any type.{_SHARED_ATTRIBUTES}
    See Also
    --------
    StitchingRegressor : The regression counterpart.
    zero_shot_stitch : Reuse a trained pipeline on another encoder's space.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relrep import InvariantProductSpace, StitchingClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(
    ...     InvariantProductSpace(n_anchors=8, random_state=0),
    ...     StitchingClassifier(aggregation="attention", max_epochs=30,
    ...                         lr=1e-2, random_state=0),
    ... ).fit(X, y)
    >>> model[-1].subspace_sizes_
    (8, 8, 8, 8)
    >>> model.score(X, y) > 0.9
    True
    """

    _task = "classification"
    _criterion = torch.nn.CrossEntropyLoss

    def _fit_targets(self, y):
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        return encoded.astype(np.int64), len(self.classes_)

    def _encode_targets(self, y):
        y = column_or_1d(y)
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels not seen in training: {unseen.tolist()}; the "
                f"classifier knows {self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _n_net_outputs(self):
        return len(self.classes_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = _POOR_SCORE_ON_RAW_FEATURES
        return tags

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        logits = torch.from_numpy(self._forward(X)).double()
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predicted labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self._forward(X), axis=1)]


class StitchingRegressor(RegressorMixin, BaseStitchingEstimator):
    __doc__ = f"""Regress (or reconstruct) from relative representations.

    The same normalisation and blenders as :class:`StitchingClassifier`, with
    a regression head trained on the mean squared error. Targets may have
    several outputs, e.g. the pixels of an autoencoder's input, for
    reconstruction stitching.

    Parameters
    ----------{_SHARED_PARAMETERS}
    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.{_SHARED_ATTRIBUTES}
    See Also
    --------
    StitchingClassifier : The classification counterpart.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relrep import RelativeProjector, StitchingRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Y = X[:, :2]
    >>> model = make_pipeline(
    ...     RelativeProjector("euclidean", n_anchors=30, random_state=0),
    ...     StitchingRegressor(max_epochs=40, lr=1e-2, random_state=0),
    ... ).fit(X, Y)
    >>> model.predict(X).shape, model.score(X, Y) > 0.9
    ((200, 2), True)
    """

    _task = "regression"
    _criterion = torch.nn.MSELoss

    def _fit_targets(self, y):
        self._y_is_1d = np.ndim(y) == 1
        targets = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        self.n_outputs_ = targets.shape[1]
        return targets, self.n_outputs_

    def _encode_targets(self, y):
        targets = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        if targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} targets but the regressor was fitted "
                f"with {self.n_outputs_}."
            )
        return targets

    def _n_net_outputs(self):
        return self.n_outputs_

    def predict(self, X):
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, 1-D when ``y`` was 1-D in :meth:`fit`.
        """
        check_is_fitted(self)
        predictions = self._forward(X).astype(np.float64)
        return predictions.ravel() if self._y_is_1d else predictions

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = _POOR_SCORE_ON_RAW_FEATURES
        return tags
