"""The regressor that decodes relative representations, trained by skorch."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from .._compat import fit_context
from .._dask import DaskScoreMixin, is_dask_collection, lazy_method
from ._base import (
    _POOR_SCORE_ON_RAW_FEATURES,
    _XFAIL_CHECKS,
    BaseStitchingEstimator,
)

__all__ = ["StitchingRegressor"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _float32_targets(y) -> np.ndarray:
    """``y`` as the 2-d float32 the network trains on; refuse values it cannot hold."""
    y = np.asarray(y)
    largest = float(np.abs(y).max(initial=0.0))
    if largest > _FLOAT32_MAX:
        raise ValueError(
            f"y holds values up to {largest:.3g} in magnitude, beyond the range of "
            f"float32 ({_FLOAT32_MAX:.3g}), the dtype the network trains in, where "
            "they would be infinite. Scale the targets, e.g. with "
            "sklearn.compose.TransformedTargetRegressor(regressor=..., "
            "transformer=StandardScaler())."
        )
    return y.astype(np.float32).reshape(len(y), -1)


class StitchingRegressor(DaskScoreMixin, RegressorMixin, BaseStitchingEstimator):
    """Regress (or reconstruct) from relative representations.

    The same normalisation and blenders as :class:`StitchingClassifier`, with
    a regression head trained on the squared error. Targets may have several
    outputs, e.g. the pixels of an autoencoder's input, for reconstruction
    stitching.

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
        ``"auto"`` picks ``"weighted"`` (learned softmax weights per subspace)
        for several subspaces of equal width and ``"concat"`` otherwise; the
        choice is stored in ``aggregation_``.
    n_heads : int, default=1
        Attention heads; must divide the subspace width.
    attention_reduction : {"sum", "mean"}, default="sum"
        How the attention output tokens are combined.
    hidden_sizes : tuple of int, default=(256, 256)
        Hidden layer widths of the MLP head; ``()`` for a linear head. The
        defaults of the head, ``dropout``, ``early_stopping`` and
        ``max_epochs`` were chosen by cross-encoder validation
        (``benchmarks/select_defaults.py``, reconstruction across MNIST
        autoencoders): trained on one encoder, scored on another's held-out
        training rows.
    activation : {"relu", "gelu", "tanh", "silu"}, default="relu"
        Non-linearity of the head.
    dropout : float, default=0.5
        Dropout after each hidden layer of the head.
    subspace_dropout : float, default=0.0
        Probability of dropping each whole subspace of a training sample (at
        least one is kept).
    optimizer : {"adam", "adamw", "sgd"} or torch.optim.Optimizer subclass, \
            default="adam"
        Torch optimizer; its other options go in ``optimizer__*`` parameters.
    lr : float, default=1e-3
        Learning rate.
    weight_decay : float, default=0.0
        Weight decay of the optimizer.
    max_epochs : int, default=100
        Training epochs of :meth:`fit` (at most, with ``early_stopping``).
    batch_size : int, default=64
        Mini-batch size.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the data and stop when the
        validation loss has not improved for ``n_iter_no_change`` epochs,
        keeping the best weights. Not used by :meth:`partial_fit`.
    validation_fraction : float, default=0.1
        Held-out fraction when ``early_stopping`` is on.
    n_iter_no_change : int, default=5
        Patience of early stopping.
    criterion : torch.nn.Module subclass or None, default=None
        The loss; None means :class:`torch.nn.MSELoss`. It is built with
        ``reduction="none"``; its other options go in ``criterion__*``
        parameters (e.g. ``criterion=torch.nn.HuberLoss, criterion__delta=0.5``).
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (instances or ``(name, callback)`` pairs). The
        training history is always recorded in ``net_.history``.
    train_split : callable or None, default=None
        skorch's validation split. None holds out nothing, unless
        ``early_stopping`` is on.
    warm_start : bool, default=False
        Let :meth:`fit` continue from the fitted weights instead of starting
        anew.
    device : str or torch.device, default="auto"
        Where to train and predict: ``"auto"``, ``"cpu"`` or ``"cuda"``,
        resolved at every call.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling, dropout and the validation
        split. torch's global RNG state is left untouched.
    verbose : int, default=0
        ``1`` prints skorch's epoch table; ``0`` is silent.
    **kwargs
        skorch's prefixed parameters, passed to the net: ``module__*``,
        ``optimizer__*``, ``criterion__*``, ``iterator_train__*``,
        ``iterator_valid__*`` and ``callbacks__*``.
        skorch's plain options ``use_caching`` and ``torch_load_kwargs`` are
        passed to the net too; ``compile`` (and ``compile__*``) and
        ``predict_nonlinearity`` are refused with the reason (see the
        documentation's page on the skorch surface).

    Attributes
    ----------
    n_outputs_ : int
        Number of regression targets.
    y_ndim_ : int
        Dimensions of the ``y`` given to :meth:`fit`: predictions are 1-d when
        it was 1.
    aggregation_ : str
        The aggregation used (``aggregation`` with ``"auto"`` resolved).
    subspace_names_ : ndarray of shape (n_subspaces,)
        Names of the input's subspaces.
    subspace_widths_ : ndarray of shape (n_subspaces,)
        Widths of the input's subspaces.
    layout_ : SubspaceLayout
        The same layout as one value (read-only).
    net_ : StitchingNet
        The trained skorch net; ``net_.history`` is the training history.
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
    _default_criterion = torch.nn.MSELoss
    _state_attributes = (
        *BaseStitchingEstimator._state_attributes,
        "n_outputs_",
        "y_ndim_",
    )
    _xfail_checks_reasons = _XFAIL_CHECKS

    def __init__(
        self,
        *,
        subspaces="auto",
        aggregation="auto",
        n_heads=1,
        attention_reduction="sum",
        hidden_sizes=(256, 256),
        activation="relu",
        dropout=0.5,
        subspace_dropout=0.0,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        max_epochs=100,
        batch_size=64,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=5,
        criterion=None,
        callbacks=None,
        train_split=None,
        warm_start=False,
        device="auto",
        random_state=None,
        verbose=0,
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

    def _fit_targets(self, y, classes, weights):
        self.y_ndim_ = int(np.ndim(y))
        targets = _float32_targets(y)
        self.n_outputs_ = targets.shape[1]
        return targets, self.n_outputs_

    def _encode_targets(self, y, classes):
        targets = _float32_targets(y)
        if targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} targets but the regressor was fitted "
                f"with {self.n_outputs_}."
            )
        return targets

    def _n_outputs(self):
        return self.n_outputs_

    def _checked_state(self, state):
        n_outputs, y_ndim = state["n_outputs_"], state["y_ndim_"]
        valid = all(
            isinstance(v, int | np.integer) and not isinstance(v, bool)
            for v in (n_outputs, y_ndim)
        )
        if (
            not valid
            or n_outputs < 1
            or y_ndim not in (1, 2)
            or (y_ndim == 1 and n_outputs != 1)
        ):
            raise ValueError(
                f"n_outputs_={n_outputs!r} and y_ndim_={y_ndim!r} are not a valid "
                "target shape (a positive int, and 1 or 2 with 1 only for one "
                "output)."
            )
        return {
            **super()._checked_state(state),
            "n_outputs_": int(n_outputs),
            "y_ndim_": int(y_ndim),
        }

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``(X, y)``, continuing from the current weights.

        The first call on an unfitted estimator initialises it. Consecutive
        calls keep the optimizer's state (in memory only: :meth:`fit`,
        :meth:`set_params` and loading a saved model start a fresh optimizer).
        No data is held out.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets, with as many outputs as in the first call.
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
        """
        return self._fit(X, y, sample_weight, incremental=True)

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
        if is_dask_collection(X):
            return lazy_method(self, "predict", X)
        predictions = self._forward(X).astype(np.float64)
        return predictions.ravel() if self.y_ndim_ == 1 else predictions

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = _POOR_SCORE_ON_RAW_FEATURES
        return tags
