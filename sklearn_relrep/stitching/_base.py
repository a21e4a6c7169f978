"""The base of the stitching estimators: layout, training, prediction and state.

:class:`BaseStitchingEstimator` turns the parameters checked by
:class:`~sklearn_relrep.stitching._params.StitchingParameters` into a skorch
:class:`~sklearn_relrep.stitching._net.StitchingNet` over a
:class:`~sklearn_relrep.nn.StitchingNetwork`, trains it (``fit``,
``partial_fit``, warm starts) and gives its fitted state through the state
protocol (``_get_state`` / ``_set_state``).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from .._backend import as_numpy, map_row_chunks, resolve_device, tensor_from_numpy
from .._compat import (
    check_sample_weight,
    fit_context,
    validate_data,
)
from .._dask import DaskTokenMixin
from .._layout import SubspaceLayout, infer_layout
from .._torch_training import ShuffledBatches, batch_iterator, isolated_torch_rng
from ..nn import StitchingNetwork
from ._callbacks import DivergenceCheck
from ._net import StitchingNet
from ._net_state import NetworkStateMixin, unchanged_on_failure
from ._params import StitchingParameters, _prefix_of
from ._skorch_surface import SkorchSurfaceMixin

__all__ = ["PRODUCT_AGGREGATION", "BaseStitchingEstimator"]

# What aggregation="auto" picks when the input has several subspaces (of equal
# width); a single subspace has nothing to blend and gets "concat". Chosen by
# cross-encoder accuracy (docs/results/report.md): the stabilised attention
# blender matches concat but not the best single similarity, "weighted" does.
PRODUCT_AGGREGATION = "weighted"

_FLOAT_DTYPES = (np.float64, np.float32)
# Devices where the named optimizers run fused: one kernel updates every
# parameter, instead of a Python loop over them (a fifth of a CPU fit's time).
_FUSED_OPTIMIZER_DEVICES = ("cpu", "cuda")
# The per-subspace LayerNorm assumes each subspace is a relative representation
# over many anchors; on a few raw features (scikit-learn's toy checks) it discards
# most of the signal, e.g. a LayerNorm over 2 features keeps only their order.
_POOR_SCORE_ON_RAW_FEATURES = True
# Mini-batch training cannot make a zero weight identical to a removed row, or an
# integer weight identical to repeated rows: the batches differ. With one batch
# they agree up to float rounding (tests/test_stitching.py checks it).
_XFAIL_CHECKS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "stochastic mini-batch training: weighted and repeated rows give different "
        "batches; equivalence holds with a single batch up to float rounding"
    ),
}


class BaseStitchingEstimator(
    DaskTokenMixin, SkorchSurfaceMixin, NetworkStateMixin, StitchingParameters
):
    """Everything shared by the stitching classifier and regressor.

    Subclasses give the task name, the default criterion and how targets are
    encoded; see :class:`~sklearn_relrep.StitchingClassifier` for the
    parameters.
    """

    _state_attributes = (
        "subspace_names_",
        "subspace_widths_",
        "aggregation_",
        "n_features_in_",
        "feature_names_in_",
        "n_iter_",
    )
    # n_iter_ is absent from files saved before it was added.
    _optional_state = ("feature_names_in_", "n_iter_")

    # layout ---------------------------------------------------------------------

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
        # Last, so that it checks the weights early stopping's load_best leaves.
        callbacks.append(("divergence_check", DivergenceCheck()))
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
            **self._optimizer_implementation(device),
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=ShuffledBatches(shuffle_seed),
            iterator_valid=batch_iterator,
            train_split=train_split,
            callbacks=callbacks,
            predict_nonlinearity="auto",
            device=str(device),
            verbose=int(self.verbose),
            **self._net_options(),
            **{
                "iterator_train__shuffle": True,
                **module_params,
                **criterion_params,
                **{
                    name: value
                    for name, value in self._prefixed_params().items()
                    if _prefix_of(name) not in ("module", "criterion")
                },
            },
        )

    def _optimizer_implementation(self, device: torch.device) -> dict:
        """``optimizer__fused=True`` for a named optimizer on a device that has it,
        unless ``optimizer__fused`` or ``optimizer__foreach`` was set."""
        chosen = {"optimizer__fused", "optimizer__foreach"}
        if (
            not isinstance(self.optimizer, str)
            or device.type not in _FUSED_OPTIMIZER_DEVICES
            or chosen & set(self._prefixed_params("optimizer"))
        ):
            return {}
        return {"optimizer__fused": True}

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

    def _check_continued_layout(self, carried, n_features: int) -> None:
        """Refuse a layout (asked for, or carried by X) unlike the fitted one."""
        requested = self._requested_layout(n_features)
        layout = requested or carried
        if layout is not None and layout.widths != self.layout_.widths:
            source = f"subspaces={self.subspaces!r} gives" if requested else "X has"
            raise ValueError(
                f"{source} subspace widths {list(layout.widths)}, but the fitted "
                f"network was built for {list(self.layout_.widths)}. warm_start="
                "True and partial_fit continue the fitted network, whose layout "
                "cannot change: train a new network for this layout (fit with "
                "warm_start=False, or partial_fit on a clone)."
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

    @unchanged_on_failure
    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        self._check_params()
        device = resolve_device(self.device)
        first = not hasattr(self, "net_") or not (incremental or self.warm_start)
        carried = infer_layout(X)
        X, y = validate_data(
            self,
            as_numpy(X),
            as_numpy(y),
            reset=first,
            dtype=_FLOAT_DTYPES,
            multi_output=self._task == "regression",
            y_numeric=self._task == "regression",
        )
        weights = self._weights(as_numpy(sample_weight), X, y)
        if weights is not None and not weights.any():
            raise ValueError(
                "sample_weight and class_weight give every sample a zero weight; "
                "at least one sample needs a positive weight."
            )
        if first:
            self._fit_layout(carried, X.shape[1])
            encoded, _ = self._fit_targets(y, classes, weights)
        else:
            self._check_continued_layout(carried, X.shape[1])
            encoded = self._encode_targets(y, classes)
        if not incremental and self.early_stopping and self.train_split is None:
            self._check_holdout(encoded)
        if weights is not None:
            weights = weights / weights.max()  # then the mean cannot overflow
            weights = weights / weights.mean()

        seeds = self._seeds()
        calls = getattr(self, "_incremental_calls", None)
        if first:
            self.net_ = self._initialized_net(device, seeds, incremental=incremental)
        elif not (incremental and calls is not None):
            self.net_ = self._continued_net(device, seeds, incremental=incremental)
        calls = calls or 0
        self.__dict__.pop("_incremental_calls", None)
        epochs_before = len(self.net_.history)
        trained_before = 0 if first else getattr(self, "n_iter_", epochs_before)
        self._train(
            X,
            encoded,
            weights,
            seed=(seeds[0] + 1 + calls) % np.iinfo(np.int32).max,
            epochs=1 if incremental else None,
        )
        self.n_iter_ = trained_before + len(self.net_.history) - epochs_before
        if incremental:
            self._incremental_calls = calls + 1
        return self

    def _network_input(self, X: np.ndarray) -> np.ndarray:
        """``X`` as the float32 the network computes in, without overflow.

        The network starts with a LayerNorm per subspace, which does not change
        when a sample's subspace is multiplied by a positive number. Blocks whose
        magnitudes would overflow float32 (or whose squares would underflow)
        are divided by a power of two near their largest value first, which is
        exact; all other blocks pass unchanged.
        """
        rescale = []
        for columns in self.layout_.slices:
            largest = np.abs(X[:, columns]).max(axis=1, initial=0.0)
            extreme = (largest > 2.0**40) | ((largest > 0) & (largest < 2.0**-40))
            if extreme.any():
                rescale.append((columns, extreme, np.frexp(largest[extreme])[1]))
        if not rescale:
            return X.astype(np.float32, copy=False)
        X = X.astype(np.float64)
        for columns, rows, exponents in rescale:
            X[rows, columns] = np.ldexp(X[rows, columns], -exponents[:, None])
        return X.astype(np.float32)

    def _train(self, X, encoded, weights, *, seed: int, epochs) -> None:
        X_tensor = tensor_from_numpy(self._network_input(X))
        y_tensor = tensor_from_numpy(encoded)
        data = X_tensor
        if weights is not None:
            data = {
                "X": X_tensor,
                "sample_weight": tensor_from_numpy(weights.astype(np.float32)),
            }
        with isolated_torch_rng(seed, torch.device(self.net_.device)):
            self.net_.partial_fit(data, y_tensor, epochs=epochs)

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, as_numpy(X), dtype=_FLOAT_DTYPES, reset=False)
        device = resolve_device(self.device)
        module = self.net_.module_
        if next(module.parameters()).device != device:
            module.to(device)
            self.net_.device = str(device)
        module.eval()
        return map_row_chunks(
            self._network_input(X),
            module,
            n_outputs=self._n_outputs(),
            batch_size=max(self.batch_size, 1024),
            device=device,
        )

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

        Raises
        ------
        ValueError
            If training diverges: a non-finite loss or non-finite weights. The
            estimator is then left as it was before the call: unfitted, or with
            its previous weights and history.
        """
        return self._fit(X, y, sample_weight, incremental=False)
