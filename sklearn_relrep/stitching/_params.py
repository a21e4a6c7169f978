"""The parameters of the stitching estimators and the checks made before any work.

:class:`StitchingParameters` holds what the stitchers accept: flat, searchable
names for what the method needs, and skorch's surface (``criterion``,
``optimizer``, ``callbacks``, ``train_split`` and the ``module__*``,
``optimizer__*``, ``criterion__*``, ``iterator_train__*``, ``iterator_valid__*``
and ``callbacks__*`` parameters, stored as attributes the way skorch's
``NeuralNet`` stores them, so that they survive ``get_params``, ``set_params``
and ``clone``). Every check that needs no training runs here, before any work.
"""

from __future__ import annotations

import inspect
import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from .._compat import Interval, StrOptions, signature_param_names
from .._layout import SubspaceLayout
from ..nn import AGGREGATIONS, StitchingNetwork
from ..nn._heads import ACTIVATIONS
from ._skorch_surface import NET_OPTIONS, check_net_options, is_skorch_option

__all__ = ["OPTIMIZERS", "StitchingParameters"]

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
_FLOAT_DTYPES = (np.float64, np.float32)
# skorch's prefixed parameters that are passed through to the net.
_PREFIXES = (
    "module",
    "criterion",
    "optimizer",
    "iterator_train",
    "iterator_valid",
    "callbacks",
)
# Prefixed names that a flat parameter (or the data) already decides.
_TAKEN = {
    "module__sizes": "the subspace layout (pass subspaces=...)",
    "module__n_outputs": "the targets given to fit",
    "module__task": "the estimator (classifier or regressor)",
    "module__aggregation": "aggregation",
    "module__n_heads": "n_heads",
    "module__attention_reduction": "attention_reduction",
    "module__hidden_sizes": "hidden_sizes",
    "module__activation": "activation",
    "module__dropout": "dropout",
    "module__subspace_dropout": "subspace_dropout",
    "optimizer__lr": "lr",
    "optimizer__weight_decay": "weight_decay",
    "criterion__reduction": (
        "the estimator, which sets reduction='none' to weight each sample's loss"
    ),
    "iterator_train__seed": "random_state",
}
_MODULE_OPTIONS = set(inspect.signature(StitchingNetwork).parameters)


def _prefix_of(name: str) -> str | None:
    return next((p for p in _PREFIXES if name.startswith(p + "__")), None)


def _accepted_options(cls) -> set[str] | None:
    """The keyword arguments ``cls`` accepts, or None if it takes ``**kwargs``."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters}


class StitchingParameters(BaseEstimator):
    """The parameters of the stitchers, their storage and their checks."""

    _task = ""
    _default_criterion = torch.nn.Module
    # Plain (unprefixed) skorch options taken besides the named parameters.
    _skorch_options = NET_OPTIONS

    _parameter_constraints: dict = {
        "subspaces": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            list,
            tuple,
            np.ndarray,
            SubspaceLayout,
            BaseEstimator,
        ],
        "aggregation": [StrOptions({"auto", *AGGREGATIONS})],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "attention_reduction": [StrOptions({"sum", "mean"})],
        "hidden_sizes": [list, tuple],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "subspace_dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), type],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "criterion": [None, type, torch.nn.Module],
        "callbacks": [None, list, tuple],
        "train_split": [None, callable],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # No defaults here: StitchingClassifier and StitchingRegressor each declare
    # theirs (chosen separately, see benchmarks/select_defaults.py).
    def __init__(
        self,
        *,
        subspaces,
        aggregation,
        n_heads,
        attention_reduction,
        hidden_sizes,
        activation,
        dropout,
        subspace_dropout,
        optimizer,
        lr,
        weight_decay,
        max_epochs,
        batch_size,
        early_stopping,
        validation_fraction,
        n_iter_no_change,
        criterion,
        callbacks,
        train_split,
        warm_start,
        device,
        random_state,
        verbose,
        **kwargs,
    ):
        self.subspaces = subspaces
        self.aggregation = aggregation
        self.n_heads = n_heads
        self.attention_reduction = attention_reduction
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.subspace_dropout = subspace_dropout
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.criterion = criterion
        self.callbacks = callbacks
        self.train_split = train_split
        self.warm_start = warm_start
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        # Like skorch, keep the extra keyword arguments as attributes; they are
        # parameters (get_params, set_params, clone) and are checked in fit.
        vars(self).update(kwargs)

    # skorch-style prefixed parameters -------------------------------------------

    def _extra_params(self) -> dict:
        """The parameters given as ``**kwargs`` (not named in the signature)."""
        named = set(signature_param_names(type(self)))
        return {
            name: value
            for name, value in vars(self).items()
            if name not in named and not name.startswith("_") and name[-1] != "_"
        }

    def _get_param_names(self):
        return sorted({*signature_param_names(type(self)), *self._extra_params()})

    def _net_options(self) -> dict:
        """skorch's plain options given to this estimator (``use_caching``...)."""
        return {k: v for k, v in self._extra_params().items() if k in NET_OPTIONS}

    def _prefixed_params(self, prefix: str | None = None) -> dict:
        return {
            name: value
            for name, value in self._extra_params().items()
            if _prefix_of(name) and (prefix is None or _prefix_of(name) == prefix)
        }

    def set_params(self, **params):
        """Set the parameters of this estimator, including skorch's prefixed ones.

        Parameters
        ----------
        **params : dict
            Estimator parameters, e.g. ``lr=1e-2`` or ``optimizer__momentum=0.9``.

        Returns
        -------
        self
            The estimator.
        """
        prefixed = {
            name: v
            for name, v in params.items()
            if _prefix_of(name) or is_skorch_option(name)
        }
        super().set_params(
            **{name: v for name, v in params.items() if name not in prefixed}
        )
        vars(self).update(prefixed)
        # A new configuration: the next partial_fit starts a fresh optimizer.
        self.__dict__.pop("_incremental_calls", None)
        return self

    # checks done before any work ----------------------------------------------------

    def _check_params(self) -> None:
        check_net_options(self._extra_params())
        unexpected = sorted(
            set(self._extra_params()) - set(self._prefixed_params()) - set(NET_OPTIONS)
        )
        if unexpected:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameter(s) {unexpected}. "
                "Besides its named parameters it accepts skorch's options "
                f"{', '.join(NET_OPTIONS)} and its prefixed ones: "
                f"{', '.join(p + '__*' for p in _PREFIXES)}."
            )
        for size in self.hidden_sizes:
            if (
                isinstance(size, bool | np.bool_)
                or not isinstance(size, Integral | np.integer)
                or size < 1
            ):
                raise ValueError(
                    f"hidden_sizes={tuple(self.hidden_sizes)!r} must hold positive "
                    "integers, one width per hidden layer, e.g. (128,); use () for "
                    "a linear head."
                )
        self._optimizer_class()
        self._criterion_and_params()
        for name in self._prefixed_params():
            if name in _TAKEN:
                raise ValueError(
                    f"{name} cannot be set: it is given by {_TAKEN[name]}."
                )
        for name in self._prefixed_params("module"):
            option = name.split("__", 1)[1]
            if option not in _MODULE_OPTIONS:
                raise ValueError(
                    f"{name}: StitchingNetwork has no option {option!r}; its "
                    f"options are {sorted(_MODULE_OPTIONS)}."
                )
        optimizer_options = _accepted_options(self._optimizer_class())
        for name in self._prefixed_params("optimizer"):
            option = name.split("__", 1)[1]
            if optimizer_options is not None and option not in optimizer_options | {
                "param_groups"
            }:
                raise ValueError(
                    f"{name}: {self._optimizer_class().__name__} has no option "
                    f"{option!r}; its options are {sorted(optimizer_options)}."
                )

    def _optimizer_class(self) -> type:
        if isinstance(self.optimizer, str):
            return OPTIMIZERS[self.optimizer]
        if isinstance(self.optimizer, type) and issubclass(
            self.optimizer, torch.optim.Optimizer
        ):
            return self.optimizer
        raise TypeError(
            f"optimizer must be one of {sorted(OPTIMIZERS)} or a subclass of "
            f"torch.optim.Optimizer such as torch.optim.RMSprop; got "
            f"{self.optimizer!r}."
        )

    def _criterion_and_params(self) -> tuple[object, dict]:
        """The criterion for skorch and its ``criterion__*`` parameters."""
        criterion = self.criterion or self._default_criterion
        params = self._prefixed_params("criterion")
        if isinstance(criterion, torch.nn.Module):
            if getattr(criterion, "reduction", "none") != "none":
                raise ValueError(
                    f"criterion={criterion!r} reduces the batch to one number; "
                    "pass the class (the estimator sets reduction='none' to "
                    "weight each sample) or an instance with reduction='none'."
                )
            return criterion, params
        if not (isinstance(criterion, type) and issubclass(criterion, torch.nn.Module)):
            raise TypeError(
                "criterion must be None, a torch.nn.Module subclass such as "
                f"torch.nn.CrossEntropyLoss, or an instance of one; got {criterion!r}."
            )
        options = _accepted_options(criterion)
        for name in params:
            option = name.split("__", 1)[1]
            if options is not None and option not in options:
                raise ValueError(
                    f"{name}: {criterion.__name__} has no option {option!r}; its "
                    f"options are {sorted(options)}."
                )
        if options is None or "reduction" in options:
            params = {**params, "criterion__reduction": "none"}
        return criterion, params

    def _check_holdout(self, encoded: np.ndarray) -> None:
        """Check that early stopping's validation split can be made."""
        n_samples = len(encoded)
        n_valid = math.ceil(self.validation_fraction * n_samples)
        n_train = n_samples - n_valid
        if self._task == "classification":
            counts = np.bincount(encoded)
            counts = counts[counts > 0]
            enough = n_valid >= len(counts) and n_train >= len(counts)
            enough = enough and counts.min() >= 2
            need = (
                f"a split stratified by class, which needs at least 2 samples of "
                f"each of the {len(counts)} classes and at least {len(counts)} "
                "samples on each side"
            )
        else:
            enough = n_valid >= 1 and n_train >= 1
            need = "a split that needs at least one sample on each side"
        if not enough:
            raise ValueError(
                f"early_stopping=True holds out validation_fraction="
                f"{self.validation_fraction} of the {n_samples} samples "
                f"({n_valid} for validation, {n_train} for training) in {need}. "
                "Pass more samples, change validation_fraction, or set "
                "early_stopping=False."
            )

    # layout ---------------------------------------------------------------------

    def _requested_layout(self, n_features: int) -> SubspaceLayout | None:
        """The layout asked for by ``subspaces``, or None for ``"auto"``."""
        subspaces = self.subspaces
        if isinstance(subspaces, str):
            return None
        if isinstance(subspaces, SubspaceLayout):
            layout = subspaces
        elif isinstance(subspaces, BaseEstimator):
            try:
                layout = subspaces.layout_
            except NotFittedError as exc:
                raise ValueError(
                    f"subspaces={type(subspaces).__name__}(...) is not fitted. "
                    "clone() (used by cross_validate and GridSearchCV) unfits "
                    "estimators given as parameters: pass subspaces=space.layout_ "
                    "or wrap the fitted space in sklearn.frozen.FrozenEstimator."
                ) from exc
            except AttributeError as exc:
                raise TypeError(
                    f"subspaces={type(subspaces).__name__}(...) has no layout_: "
                    "pass a fitted relative transformer (e.g. InvariantProductSpace), "
                    "its layout_, an int or a sequence of widths."
                ) from exc
            if not isinstance(layout, SubspaceLayout):
                raise TypeError(
                    f"subspaces={type(subspaces).__name__}(...).layout_ is not a "
                    "SubspaceLayout."
                )
        elif isinstance(subspaces, Integral) and not isinstance(subspaces, bool):
            if n_features % subspaces:
                raise ValueError(
                    f"subspaces={subspaces} does not divide the {n_features} "
                    "features into equal subspaces."
                )
            return SubspaceLayout.from_widths((n_features // subspaces,) * subspaces)
        else:
            widths = list(np.asarray(subspaces, dtype=object).ravel())
            if not widths or not all(
                isinstance(w, Integral | np.integer)
                and not isinstance(w, bool | np.bool_)
                and w >= 1
                for w in widths
            ):
                raise ValueError(
                    f"subspaces={subspaces!r} must be 'auto', a positive int, a "
                    "sequence of positive int widths, a SubspaceLayout or a fitted "
                    "relative transformer."
                )
            layout = SubspaceLayout.from_widths([int(w) for w in widths])
        if layout.n_features != n_features:
            raise ValueError(
                f"subspaces={list(layout.widths)} must be positive widths adding "
                f"up to the {n_features} features of X (they add up to "
                f"{layout.n_features})."
            )
        return layout
