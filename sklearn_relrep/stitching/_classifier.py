"""The classifier that decodes relative representations, trained by skorch.

The regressor lives in :mod:`sklearn_relrep.stitching._regressor` and is
re-exported here, so that both stitchers are importable from one module.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import log_softmax, softmax
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from .._compat import StrOptions, fit_context
from .._dask import DaskScoreMixin, is_dask_collection, lazy_method
from ._base import (
    _POOR_SCORE_ON_RAW_FEATURES,
    _XFAIL_CHECKS,
    BaseStitchingEstimator,
)
from ._regressor import StitchingRegressor

__all__ = ["StitchingClassifier", "StitchingRegressor"]

# float32 matrix products round differently for different numbers of rows (the
# SIMD blocking changes), so the binary log-odds of a subset differ by ~1e-7.
_CLASSIFIER_XFAIL_CHECKS = {
    **_XFAIL_CHECKS,
    "check_methods_subset_invariance": (
        "float32 forward pass: results depend on the batch's row count by ~1e-7"
    ),
}


def _is_finite_non_negative(weight) -> bool:
    try:
        weight = float(weight)
    except (TypeError, ValueError):
        return False
    return math.isfinite(weight) and weight >= 0


class StitchingClassifier(DaskScoreMixin, ClassifierMixin, BaseStitchingEstimator):
    """Classify relative representations with a learned subspace blender.

    A per-subspace LayerNorm, a blender (concatenation, sum, DeepSet, learned
    weights or QKV self-attention across subspaces) and an MLP head, trained
    with cross-entropy by skorch. Placed after a relative step in a
    :class:`~sklearn.pipeline.Pipeline`, it can be stitched zero-shot to another
    encoder with :func:`~sklearn_relrep.zero_shot_stitch`.

    Parameters
    ----------
    subspaces : "auto", int, sequence of int, SubspaceLayout or fitted \
            transformer, default="auto"
        Layout of the input columns into relative subspaces. ``"auto"`` reads it
        from ``X`` (a :class:`~sklearn_relrep.SubspaceArray` from
        :class:`~sklearn_relrep.InvariantProductSpace`, or pandas columns named
        ``"<subspace>_a<anchor>"``), falling back to a single subspace; an int
        splits the columns into that many equal subspaces; a sequence gives
        each subspace's width; a :class:`~sklearn_relrep.SubspaceLayout` or a
        fitted relative transformer (anything with ``layout_``) gives the layout
        explicitly, which is needed after a step that drops it (a
        :class:`~sklearn.preprocessing.StandardScaler`, say). ``clone`` unfits
        an estimator given here; wrap it in
        :class:`~sklearn.frozen.FrozenEstimator` or pass its ``layout_``.
    aggregation : {"auto", "concat", "sum", "mlp_sum", "weighted", \
            "attention"}, default="auto"
        How the normalised subspaces are blended (see :mod:`sklearn_relrep.nn`).
        ``"attention"`` is the QKV blender (residual, pre-normalised, starting
        as a plain sum; its ``module__attention_*`` options restore the
        reference layer). ``"auto"`` picks ``"weighted"`` (learned softmax
        weights per subspace, the best-measured aggregation, see
        :doc:`/results/index`) for several subspaces of equal width and
        ``"concat"`` otherwise; the choice is stored in ``aggregation_``.
    n_heads : int, default=1
        Attention heads; must divide the subspace width.
    attention_reduction : {"sum", "mean"}, default="sum"
        How the attention output tokens are combined.
    hidden_sizes : tuple of int, default=()
        Hidden layer widths of the MLP head; ``()`` for a linear head. The
        defaults of the head, ``weight_decay`` and ``max_epochs`` were chosen by
        cross-encoder validation (``benchmarks/select_defaults.py``): trained
        on one encoder, scored on another's held-out training rows. A linear
        head stitched as well as hidden layers, and without weight decay the
        cross-encoder accuracy fell after 10 epochs while the same-encoder
        accuracy kept rising; with ``weight_decay=1e-3`` it rose up to 30.
    activation : {"relu", "gelu", "tanh", "silu"}, default="relu"
        Non-linearity of the head.
    dropout : float, default=0.0
        Dropout after each hidden layer of the head.
    subspace_dropout : float, default=0.0
        Probability of dropping each whole subspace of a training sample (at
        least one is kept), so that the head cannot lean on one invariance.
    optimizer : {"adam", "adamw", "sgd"} or torch.optim.Optimizer subclass, \
            default="adam"
        Torch optimizer; its other options go in ``optimizer__*`` parameters,
        e.g. ``optimizer=torch.optim.SGD, optimizer__momentum=0.9``.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=1e-3
        Weight decay of the optimizer.
    max_epochs : int, default=30
        Training epochs of :meth:`fit`.
    batch_size : int, default=64
        Mini-batch size.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified by class) and
        stop when the validation loss has not improved for ``n_iter_no_change``
        epochs, keeping the best weights. Not used by :meth:`partial_fit`.
    validation_fraction : float, default=0.1
        Held-out fraction when ``early_stopping`` is on.
    n_iter_no_change : int, default=5
        Patience of early stopping.
    criterion : torch.nn.Module subclass or None, default=None
        The loss; None means :class:`torch.nn.CrossEntropyLoss`. It is built
        with ``reduction="none"`` (the estimator weights each sample's loss);
        its other options go in ``criterion__*`` parameters, e.g.
        ``criterion__label_smoothing=0.1``.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` pairs); their
        options can be set with ``callbacks__<name>__<option>``. The training
        history is always recorded in ``net_.history``.
    train_split : callable or None, default=None
        skorch's validation split, e.g. ``skorch.dataset.ValidSplit(5)``. None
        holds out nothing, unless ``early_stopping`` is on.
    warm_start : bool, default=False
        Let :meth:`fit` continue from the fitted weights instead of starting
        anew.
    device : str or torch.device, default="auto"
        Where to train and predict: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        ``"auto"`` picks CUDA when available. It is resolved at every call, so
        a model trained on CUDA predicts on a CPU-only machine; an explicit
        ``"cuda"`` there raises a clear error.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. torch's global RNG state is left untouched.
    verbose : int, default=0
        ``1`` prints skorch's epoch table; ``0`` is silent.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight``.
        ``"balanced"`` weighs each class by ``n_samples / (n_classes *
        count)``, counted on the ``y`` of each :meth:`fit` call;
        :meth:`partial_fit` refuses it, as one batch cannot tell the classes'
        frequencies (pass a dict computed on all the labels with
        :func:`~sklearn.utils.class_weight.compute_class_weight`). A dict's
        weights must be finite and non-negative.
    **kwargs
        skorch's prefixed parameters, passed to the net: ``module__*`` (further
        options of :class:`~sklearn_relrep.nn.StitchingNetwork`),
        ``optimizer__*``, ``criterion__*``, ``iterator_train__*``,
        ``iterator_valid__*`` and ``callbacks__*``. Options that a named
        parameter sets (``module__hidden_sizes``, ``optimizer__lr``, ...) are
        refused.
        skorch's plain options ``use_caching`` and ``torch_load_kwargs`` are
        passed to the net too; ``compile`` (and ``compile__*``) and
        ``predict_nonlinearity`` are refused with the reason (see the
        documentation's page on the skorch surface).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, of any type.
    aggregation_ : str
        The aggregation used (``aggregation`` with ``"auto"`` resolved).
    subspace_names_ : ndarray of shape (n_subspaces,)
        Names of the input's subspaces.
    subspace_widths_ : ndarray of shape (n_subspaces,)
        Widths of the input's subspaces.
    layout_ : SubspaceLayout
        The same layout as one value (read-only).
    net_ : StitchingNet
        The trained skorch net; ``net_.module_`` is a
        :class:`~sklearn_relrep.nn.StitchingNetwork` and ``net_.history`` the
        training history.
    history_ : skorch.history.History
        The training history (``net_.history``): one entry per epoch, over
        every :meth:`fit` with ``warm_start=True`` and :meth:`partial_fit`.
    module_ : StitchingNetwork
        The trained network (``net_.module_``).
    n_iter_ : int
        Epochs the network has been trained for: ``max_epochs`` per
        :meth:`fit`, fewer when early stopping ends training (the epochs
        actually run, not the best one's), one per :meth:`partial_fit`, summed
        over warm starts.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Input feature names, when ``X`` has string column names.

    See Also
    --------
    StitchingRegressor : The regression counterpart.
    zero_shot_stitch : Reuse a trained pipeline on another encoder's space.
    finetune : Adjust the blender or the head on a few target samples.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_relrep import InvariantProductSpace, StitchingClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(
    ...     InvariantProductSpace(n_anchors=8, random_state=0),
    ...     StitchingClassifier(max_epochs=30, lr=1e-2, random_state=0),
    ... ).fit(X, y)
    >>> model[-1].aggregation_, model[-1].subspace_widths_.tolist()
    ('weighted', [8, 8, 8, 8])
    >>> model.score(X, y) > 0.9
    True
    >>> losses = model[-1].net_.history[:, "train_loss"]
    >>> len(losses), bool(losses[-1] < losses[0])
    (30, True)
    """

    _task = "classification"
    _default_criterion = torch.nn.CrossEntropyLoss
    _state_attributes = (*BaseStitchingEstimator._state_attributes, "classes_")
    _xfail_checks_reasons = _CLASSIFIER_XFAIL_CHECKS
    _parameter_constraints: dict = {
        **BaseStitchingEstimator._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    def __init__(
        self,
        *,
        subspaces="auto",
        aggregation="auto",
        n_heads=1,
        attention_reduction="sum",
        hidden_sizes=(),
        activation="relu",
        dropout=0.0,
        subspace_dropout=0.0,
        optimizer="adam",
        lr=1e-3,
        weight_decay=1e-3,
        max_epochs=30,
        batch_size=64,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        criterion=None,
        callbacks=None,
        train_split=None,
        warm_start=False,
        device="auto",
        random_state=None,
        verbose=0,
        class_weight=None,
        **kwargs,
    ):
        super().__init__(
            subspaces=subspaces,
            aggregation=aggregation,
            n_heads=n_heads,
            attention_reduction=attention_reduction,
            hidden_sizes=hidden_sizes,
            activation=activation,
            dropout=dropout,
            subspace_dropout=subspace_dropout,
            optimizer=optimizer,
            lr=lr,
            weight_decay=weight_decay,
            max_epochs=max_epochs,
            batch_size=batch_size,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            criterion=criterion,
            callbacks=callbacks,
            train_split=train_split,
            warm_start=warm_start,
            device=device,
            random_state=random_state,
            verbose=verbose,
            **kwargs,
        )
        self.class_weight = class_weight

    # targets ----------------------------------------------------------------------

    def _check_params(self):
        super()._check_params()
        if isinstance(self.class_weight, dict):
            bad = {
                label: weight
                for label, weight in self.class_weight.items()
                if not _is_finite_non_negative(weight)
            }
            if bad:
                raise ValueError(
                    f"class_weight gives the classes {bad} a weight that is not a "
                    "finite non-negative number (NaN, infinite, negative or not a "
                    "number). Each weight multiplies the loss of a class's samples: "
                    "use positive finite values, or 0 to ignore a class."
                )

    def _weights(self, sample_weight, X, y):
        weights = super()._weights(sample_weight, X, y)
        if self.class_weight is None:
            return weights
        class_weights = compute_sample_weight(self.class_weight, y)
        return class_weights if weights is None else class_weights * weights

    def _fit_targets(self, y, classes, weights):
        check_classification_targets(y)
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            self._check_two_classes(classes, "classes")
            self.classes_ = classes
            return self._encode_targets(y, None), len(classes)
        present = y if weights is None else y[weights > 0]
        self._check_two_classes(np.unique(present), "y")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        return encoded.astype(np.int64), len(self.classes_)

    def _check_two_classes(self, classes, source: str) -> None:
        if len(classes) < 2:
            weighted = (
                " (among the samples of positive weight)" if source == "y" else ""
            )
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class{weighted}: "
                f"{classes.tolist()}. Shuffle or stratify the training subset."
            )

    def _encode_targets(self, y, classes):
        if classes is not None and not np.array_equal(
            np.unique(np.asarray(classes)), self.classes_
        ):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} is not the same as the "
                f"fitted classes_={self.classes_.tolist()}."
            )
        y = column_or_1d(y)
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels not seen in training: {unseen.tolist()}; the "
                f"classifier knows {self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y).astype(np.int64)

    def _n_outputs(self):
        return len(self.classes_)

    def _checked_state(self, state):
        classes = np.asarray(state["classes_"])
        distinct = classes.ndim == 1 and len(np.unique(classes)) == len(classes)
        if not distinct or len(classes) < 2:
            raise ValueError(
                "classes_ must be a 1-d array of at least 2 distinct labels."
            )
        if not np.array_equal(np.sort(classes), classes):
            raise ValueError("classes_ must be sorted, as np.unique returns them.")
        return super()._checked_state(state)

    # fitting ----------------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``(X, y)``, continuing from the current weights.

        The first call on an unfitted estimator initialises it and needs
        ``classes``. Consecutive calls keep the optimizer's state (in memory
        only: :meth:`fit`, :meth:`set_params` and loading a saved model start a
        fresh optimizer). No data is held out: ``early_stopping`` and
        ``train_split`` are not used.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations.
        y : array-like of shape (n_samples,)
            Labels, all among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every label of the problem; required on the first call, and equal
            to ``classes_`` when given later.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample's loss (rescaled to mean 1).

        Returns
        -------
        self
            The estimator.

        Raises
        ------
        ValueError
            If training diverges: a non-finite loss or non-finite weights. The
            estimator is then left as it was before the call: unfitted, or with
            its previous weights and history (the next call starts a fresh
            optimizer).
            Also if ``class_weight="balanced"``: one batch cannot tell the
            classes' frequencies, so pass a dict of fixed weights.
        """
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: each call "
                "sees one batch, and balancing each batch on its own does not "
                "balance the data (a batch of one class would be weighted as if "
                "balanced). Pass fixed weights as a dict, e.g. class_weight=dict("
                "zip(classes, compute_class_weight('balanced', classes=classes, "
                "y=y_all))) with sklearn.utils.class_weight.compute_class_weight "
                "on all the labels (or a large enough sample of them)."
            )
        if not hasattr(self, "classes_") and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: every "
                "label of the problem, e.g. classes=np.unique(y_all)."
            )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # predicting -------------------------------------------------------------------

    def decision_function(self, X):
        """The logits; for two classes, the log-odds of ``classes_[1]``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            One score per class, or for binary problems one score per sample,
            positive for ``classes_[1]``.
        """
        if is_dask_collection(X):
            return lazy_method(self, "decision_function", X)
        logits = self._forward(X).astype(np.float64)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

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
        if is_dask_collection(X):
            return lazy_method(self, "predict_proba", X)
        return softmax(self._forward(X).astype(np.float64), axis=1)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        if is_dask_collection(X):
            return lazy_method(self, "predict_log_proba", X)
        return log_softmax(self._forward(X).astype(np.float64), axis=1)

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
        if is_dask_collection(X):
            return lazy_method(self, "predict", X)
        return self.classes_[np.argmax(self._forward(X), axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = _POOR_SCORE_ON_RAW_FEATURES
        return tags
