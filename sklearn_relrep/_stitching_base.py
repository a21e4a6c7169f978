"""The base of the stitching estimators: parameters, layout, training and state.

:class:`BaseStitchingEstimator` turns scikit-learn parameters into a skorch
:class:`~sklearn_relrep._stitching_net.StitchingNet` over a
:class:`~sklearn_relrep.nn.StitchingNetwork`. It keeps skorch's surface
(``criterion``, ``optimizer``, ``callbacks``, ``train_split`` and the
``module__*``, ``optimizer__*``, ``criterion__*``, ``iterator_train__*``,
``iterator_valid__*`` and ``callbacks__*`` parameters, stored like skorch
stores them) next to flat names for what the method needs.
"""

from __future__ import annotations

import inspect
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from ._backend import map_row_chunks, resolve_device
from ._compat import (
    Interval,
    StrOptions,
    check_sample_weight,
    fit_context,
    validate_data,
)
from ._layout import SubspaceLayout, infer_layout
from ._state import StateMixin
from ._stitching_net import (
    ShuffledBatches,
    StitchingNet,
    batch_iterator,
    isolated_torch_rng,
)
from .nn import AGGREGATIONS, StitchingNetwork
from .nn._heads import ACTIVATIONS

__all__ = ["OPTIMIZERS", "PRODUCT_AGGREGATION", "BaseStitchingEstimator"]

# What aggregation="auto" picks when the input has several subspaces (of equal
# width); a single subspace has nothing to blend and gets "concat".
PRODUCT_AGGREGATION = "attention"

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


class BaseStitchingEstimator(StateMixin, BaseEstimator):
    """Everything shared by the stitching classifier and regressor.

    Subclasses give the task name, the default criterion and how targets are
    encoded; see :class:`~sklearn_relrep.StitchingClassifier` for the
    parameters.
    """

    _task = ""
    _default_criterion = torch.nn.Module
    _state_attributes = (
        "subspace_names_",
        "subspace_widths_",
        "aggregation_",
        "n_features_in_",
        "feature_names_in_",
    )
    _optional_state = ("feature_names_in_",)

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

    def __init__(
        self,
        *,
        subspaces="auto",
        aggregation="auto",
        n_heads=1,
        attention_reduction="sum",
        hidden_sizes=(128,),
        activation="relu",
        dropout=0.0,
        subspace_dropout=0.0,
        optimizer="adam",
        lr=1e-3,
        weight_decay=0.0,
        max_epochs=20,
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
        named = set(super()._get_param_names())
        return {
            name: value
            for name, value in vars(self).items()
            if name not in named and not name.startswith("_") and name[-1] != "_"
        }

    def _get_param_names(self):
        return sorted({*super()._get_param_names(), *self._extra_params()})

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
        prefixed = {name: v for name, v in params.items() if _prefix_of(name)}
        super().set_params(
            **{name: v for name, v in params.items() if name not in prefixed}
        )
        vars(self).update(prefixed)
        # A new configuration: the next partial_fit starts a fresh optimizer.
        self.__dict__.pop("_incremental_calls", None)
        return self

    # checks done before any work ----------------------------------------------------

    def _check_params(self) -> None:
        unexpected = sorted(set(self._extra_params()) - set(self._prefixed_params()))
        if unexpected:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameter(s) {unexpected}. "
                "Besides its named parameters it accepts skorch's prefixed ones: "
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

    def _resolve_device(self) -> torch.device:
        device = self.device
        if not (isinstance(device, str) and device == "auto"):
            try:
                parsed = torch.device(device)
            except (RuntimeError, TypeError) as exc:
                raise ValueError(
                    f"device={device!r} is not a device; use 'auto', 'cpu' or "
                    "'cuda' (or 'cuda:N')."
                ) from exc
            if parsed.type not in ("cpu", "cuda"):
                raise ValueError(
                    f"device={device!r} is not supported: the stitchers train and "
                    "predict on 'cpu' or 'cuda' only; use 'auto', 'cpu' or 'cuda'."
                )
        return resolve_device(device)

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

    def _resolve_aggregation(self, widths) -> str:
        if self.aggregation != "auto":
            return self.aggregation
        blendable = PRODUCT_AGGREGATION == "concat" or len(set(widths)) == 1
        return PRODUCT_AGGREGATION if len(widths) > 1 and blendable else "concat"

    def _fit_layout(self, carried: SubspaceLayout | None, n_features: int) -> None:
        """Set ``subspace_names_``, ``subspace_widths_`` and ``aggregation_``."""
        layout = self._requested_layout(n_features)
        inferred = layout is None and (
            carried is None or carried.n_features != n_features
        )
        if layout is None:
            layout = SubspaceLayout(("s0",), (n_features,)) if inferred else carried
        aggregation = self._resolve_aggregation(layout.widths)
        if inferred and aggregation != "concat":
            warnings.warn(
                f"aggregation={aggregation!r} blends subspaces, but X carries no "
                f"subspace layout, so its {n_features} columns are treated as one "
                "subspace. A step between the relative transformer and this "
                "estimator (a StandardScaler, a conversion to a plain array) "
                "probably dropped the layout; pass it explicitly with "
                "subspaces=space.layout_ or subspaces=<the fitted "
                "InvariantProductSpace>.",
                UserWarning,
                stacklevel=4,
            )
        self.subspace_names_ = np.asarray(layout.names, dtype=object)
        self.subspace_widths_ = np.asarray(layout.widths, dtype=np.int64)
        self.aggregation_ = aggregation

    @property
    def layout_(self) -> SubspaceLayout:
        """The names and widths of the input's subspaces (read-only)."""
        check_is_fitted(self, "subspace_widths_")
        return SubspaceLayout(
            tuple(str(name) for name in self.subspace_names_),
            tuple(int(width) for width in self.subspace_widths_),
        )

    # targets (task-specific) ------------------------------------------------------

    def _fit_targets(self, y, classes, weights) -> tuple[np.ndarray, int]:
        """Set the target attributes; return the encoded targets and output width."""
        raise NotImplementedError

    def _encode_targets(self, y, classes) -> np.ndarray:
        """Encode targets with the fitted encoding (continued training)."""
        raise NotImplementedError

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _weights(self, sample_weight, X, y) -> np.ndarray | None:
        if sample_weight is None:
            return None
        return check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )

    # the skorch net ---------------------------------------------------------------

    def _seeds(self) -> tuple[int, int, int]:
        rng = check_random_state(self.random_state)
        return tuple(int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3))

    def _module_params(self, widths, aggregation: str, n_outputs: int) -> dict:
        return {
            "module__sizes": [int(width) for width in widths],
            "module__n_outputs": int(n_outputs),
            "module__task": self._task,
            "module__aggregation": aggregation,
            "module__n_heads": self.n_heads,
            "module__attention_reduction": self.attention_reduction,
            "module__hidden_sizes": [int(size) for size in self.hidden_sizes],
            "module__activation": self.activation,
            "module__dropout": float(self.dropout),
            "module__subspace_dropout": float(self.subspace_dropout),
            **self._prefixed_params("module"),
        }

    def _build_net(self, device: torch.device, seeds, *, incremental: bool):
        """A skorch net for the fitted layout, configured by the current params."""
        _, shuffle_seed, split_seed = seeds
        callbacks = list(self.callbacks or [])
        train_split = None
        if not incremental:
            train_split = self.train_split
            if self.early_stopping:
                if train_split is None:
                    train_split = ValidSplit(
                        self.validation_fraction,
                        stratified=self._task == "classification",
                        random_state=split_seed,
                    )
                callbacks.append(
                    (
                        "early_stopping",
                        EarlyStopping(patience=self.n_iter_no_change, load_best=True),
                    )
                )
        criterion, criterion_params = self._criterion_and_params()
        module_params = self._module_params(
            self.subspace_widths_, self.aggregation_, self._n_outputs()
        )
        return StitchingNet(
            StitchingNetwork,
            criterion=criterion,
            optimizer=self._optimizer_class(),
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=ShuffledBatches(shuffle_seed),
            iterator_train__shuffle=True,
            iterator_valid=batch_iterator,
            train_split=train_split,
            callbacks=callbacks,
            predict_nonlinearity=None,
            device=str(device),
            verbose=int(self.verbose),
            **module_params,
            **criterion_params,
            **{
                name: value
                for name, value in self._prefixed_params().items()
                if _prefix_of(name) not in ("module", "criterion")
            },
        )

    def _initialized_net(self, device, seeds, *, incremental, module_state=None):
        """Build and initialise a net; load ``module_state`` into it if given."""
        net = self._build_net(device, seeds, incremental=incremental)
        with isolated_torch_rng(seeds[0], device):
            net.initialize()
        if module_state is not None:
            self._check_module_state(net.module_.state_dict(), module_state)
            net.module_.load_state_dict(
                {key: torch.as_tensor(value) for key, value in module_state.items()}
            )
        return net

    @staticmethod
    def _check_module_state(expected: dict, given: dict) -> None:
        missing = sorted(set(expected) - set(given))
        unexpected = sorted(set(given) - set(expected))
        mismatched = [
            f"{key}: {tuple(given[key].shape)} instead of {tuple(expected[key].shape)}"
            for key in expected
            if key in given and tuple(given[key].shape) != tuple(expected[key].shape)
        ]
        if missing or unexpected or mismatched:
            raise ValueError(
                "The network weights do not fit the architecture given by the "
                f"parameters: missing {missing}, unexpected {unexpected}, shapes "
                f"{mismatched}. Parameters that shape the network (hidden_sizes, "
                "aggregation, n_heads, module__*) must match the weights."
            )

    def _continued_net(self, device, seeds, *, incremental):
        """A net configured by the current params that holds the fitted weights."""
        if self._resolve_aggregation(self.subspace_widths_) != self.aggregation_:
            raise ValueError(
                f"aggregation={self.aggregation!r} differs from the fitted "
                f"aggregation_={self.aggregation_!r}; call fit with "
                "warm_start=False to train a new network."
            )
        previous = self.net_
        net = self._initialized_net(
            device,
            seeds,
            incremental=incremental,
            module_state=previous.module_.state_dict(),
        )
        net.history = previous.history
        return net

    # fit / partial_fit / predict --------------------------------------------------

    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        self._check_params()
        device = self._resolve_device()
        first = not hasattr(self, "net_") or not (incremental or self.warm_start)
        carried = infer_layout(X) if first else None
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            dtype=_FLOAT_DTYPES,
            multi_output=self._task == "regression",
            y_numeric=self._task == "regression",
        )
        weights = self._weights(sample_weight, X, y)
        if first:
            self._fit_layout(carried, X.shape[1])
            encoded, _ = self._fit_targets(y, classes, weights)
        else:
            encoded = self._encode_targets(y, classes)
        if not incremental and self.early_stopping and self.train_split is None:
            self._check_holdout(encoded)
        if weights is not None:
            weights = weights / weights.mean()

        seeds = self._seeds()
        calls = getattr(self, "_incremental_calls", None)
        if first:
            self.net_ = self._initialized_net(device, seeds, incremental=incremental)
        elif not (incremental and calls is not None):
            self.net_ = self._continued_net(device, seeds, incremental=incremental)
        calls = calls or 0
        self.__dict__.pop("_incremental_calls", None)
        self._train(
            X,
            encoded,
            weights,
            seed=(seeds[0] + 1 + calls) % np.iinfo(np.int32).max,
            epochs=1 if incremental else None,
        )
        if incremental:
            self._incremental_calls = calls + 1
        return self

    def _train(self, X, encoded, weights, *, seed: int, epochs) -> None:
        X_tensor = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        y_tensor = torch.from_numpy(np.ascontiguousarray(encoded))
        data = X_tensor
        if weights is not None:
            data = {
                "X": X_tensor,
                "sample_weight": torch.from_numpy(weights.astype(np.float32)),
            }
        with isolated_torch_rng(seed, torch.device(self.net_.device)):
            self.net_.partial_fit(data, y_tensor, epochs=epochs)

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOAT_DTYPES, reset=False)
        device = self._resolve_device()
        module = self.net_.module_
        if next(module.parameters()).device != device:
            module.to(device)
            self.net_.device = str(device)
        module.eval()
        return map_row_chunks(
            X.astype(np.float32, copy=False),
            module,
            n_outputs=self._n_outputs(),
            batch_size=max(self.batch_size, 1024),
            device=device,
        )

    # the state protocol -------------------------------------------------------------

    def _get_state(self) -> dict:
        """The fitted attributes plus ``"module_state"``, the weights as numpy."""
        state = super()._get_state()
        state["module_state"] = {
            key: tensor.detach().cpu().numpy().copy()
            for key, tensor in self.net_.module_.state_dict().items()
        }
        return state

    def _set_state(self, state: dict):
        """Restore a state given by :meth:`_get_state` on a fresh estimator.

        The network is built on the CPU from the estimator's parameters and the
        state's layout, and the weights are loaded with strict name and shape
        checks. Nothing is set on ``self`` unless everything fits.

        Raises
        ------
        ValueError
            If a key is unknown or missing, or a value does not fit.
        """
        if not isinstance(state, dict):
            raise ValueError(f"A state must be a dict; got {type(state).__name__}.")
        allowed = set(self._state_attributes) | {"module_state"}
        required = allowed - set(self._optional_state)
        unknown, missing = sorted(set(state) - allowed), sorted(required - set(state))
        if unknown or missing:
            raise ValueError(
                f"{type(self).__name__} state has unknown keys {unknown} and lacks "
                f"{missing}; expected {sorted(allowed)}."
            )
        self._validate_params()
        self._check_params()
        module_state = state["module_state"]
        if not isinstance(module_state, dict) or not all(
            isinstance(v, np.ndarray) and v.dtype.kind == "f"
            for v in module_state.values()
        ):
            raise ValueError("module_state must be a dict of float numpy arrays.")
        if not all(np.isfinite(v).all() for v in module_state.values()):
            raise ValueError("module_state holds non-finite weights.")
        fitted = self._checked_state(
            {k: v for k, v in state.items() if k in self._state_attributes}
        )
        candidate = type(self)(**self.get_params(deep=False))
        vars(candidate).update(fitted)
        module_params = candidate._module_params(
            fitted["subspace_widths_"], fitted["aggregation_"], candidate._n_outputs()
        )
        with torch.device("meta"):
            expected = StitchingNetwork(
                **{key.split("__", 1)[1]: v for key, v in module_params.items()}
            ).state_dict()
        self._check_module_state(expected, module_state)
        net = candidate._initialized_net(
            torch.device("cpu"),
            (0, 0, 0),
            incremental=False,
            module_state=module_state,
        )
        vars(self).update(fitted)
        self.net_ = net
        return self

    def _checked_state(self, state: dict) -> dict:
        """Validate and normalise the fitted attributes of a state."""
        try:
            layout = SubspaceLayout(
                tuple(np.asarray(state["subspace_names_"], dtype=object).tolist()),
                tuple(np.asarray(state["subspace_widths_"]).tolist()),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"The state's subspace layout is invalid: {exc}") from exc
        n_features = state["n_features_in_"]
        if not isinstance(n_features, Integral | np.integer) or (
            n_features != layout.n_features
        ):
            raise ValueError(
                f"n_features_in_={n_features!r} does not match the layout's "
                f"{layout.n_features} features."
            )
        if state["aggregation_"] not in AGGREGATIONS:
            raise ValueError(
                f"aggregation_={state['aggregation_']!r} is not one of "
                f"{sorted(AGGREGATIONS)}."
            )
        names = state.get("feature_names_in_")
        if names is not None and len(np.asarray(names)) != layout.n_features:
            raise ValueError("feature_names_in_ does not match n_features_in_.")
        return {
            **state,
            "subspace_names_": np.asarray(layout.names, dtype=object),
            "subspace_widths_": np.asarray(layout.widths, dtype=np.int64),
            "n_features_in_": int(n_features),
        }

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the normalisation, blender and head on ``(X, y)``.

        With ``warm_start=True`` and a fitted estimator, training continues from
        the fitted weights (with a fresh optimizer) for ``max_epochs`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations, e.g. the output of a
            :class:`~sklearn_relrep.RelativeProjector` or
            :class:`~sklearn_relrep.InvariantProductSpace`.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample's loss. The weights are rescaled
            to mean 1, so they set the samples' relative importance, not the
            learning rate: a weight of 0 removes a sample and an integer weight
            counts it that many times.

        Returns
        -------
        self
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, incremental=False)
