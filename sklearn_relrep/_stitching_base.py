"""The base of the stitching estimators: a skorch net over :class:`StitchingNetwork`."""

from __future__ import annotations

import contextlib
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping
from skorch.dataset import ValidSplit

from ._backend import map_row_chunks, resolve_device
from ._layout import infer_layout
from .nn import AGGREGATIONS, StitchingNetwork
from .nn._heads import ACTIVATIONS

__all__ = ["BaseStitchingEstimator", "FINETUNE_PARTS"]

_OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
}
# Which parts of StitchingNetwork each fine-tuning mode trains; the rest is frozen.
FINETUNE_PARTS = {
    "blender": ("blender",),
    "head": ("head",),
    "all": ("layer_norm", "blender", "head"),
}


class TensorBatchIterator:
    """Mini-batches sliced from whole tensors: no per-sample ``__getitem__``/collate.

    skorch passes its dataset (a :class:`skorch.dataset.Dataset` or a
    :class:`torch.utils.data.Subset` of one after the validation split); the batch
    order comes from a private generator seeded by ``seed``, so the global torch
    RNG is never touched.
    """

    def __init__(self, dataset, batch_size, shuffle=False, seed=0):
        indices = None
        if isinstance(dataset, torch.utils.data.Subset):
            dataset, indices = dataset.dataset, torch.as_tensor(dataset.indices)
        X, y = torch.as_tensor(dataset.X), dataset.y
        y = None if y is None else torch.as_tensor(y)
        if indices is not None:
            X, y = X[indices], (None if y is None else y[indices])
        self.X, self.y, self.batch_size, self.shuffle = X, y, batch_size, shuffle
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        n_samples = len(self.X)
        order = (
            torch.randperm(n_samples, generator=self.generator)
            if self.shuffle
            else None
        )
        for start in range(0, n_samples, self.batch_size):
            rows = (
                order[start : start + self.batch_size]
                if order is not None
                else slice(start, start + self.batch_size)
            )
            yield self.X[rows], (None if self.y is None else self.y[rows])


@contextlib.contextmanager
def isolated_torch_rng(seed: int, device: torch.device):
    """Run a block with torch seeded by ``seed``, restoring the global RNG after."""
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield


class BaseStitchingEstimator(BaseEstimator):
    """Everything shared by the stitching classifier and regressor.

    Subclasses give the task name, the criterion and how targets are encoded.
    """

    _task = ""
    _criterion = torch.nn.Module

    _parameter_constraints: dict = {
        "subspaces": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            list,
            tuple,
        ],
        "aggregation": [StrOptions(set(AGGREGATIONS))],
        "n_heads": [Interval(Integral, 1, None, closed="left")],
        "attention_reduction": [StrOptions({"sum", "mean"})],
        "hidden_sizes": [list, tuple],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        subspaces="auto",
        aggregation="concat",
        n_heads: Integral = 1,
        attention_reduction="sum",
        hidden_sizes=(128,),
        activation="relu",
        dropout: Real = 0.0,
        optimizer="adam",
        lr: Real = 1e-3,
        weight_decay: Real = 0.0,
        max_epochs: Integral = 20,
        batch_size: Integral = 64,
        early_stopping: bool = False,
        validation_fraction: Real = 0.1,
        n_iter_no_change: Integral = 5,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.subspaces = subspaces
        self.aggregation = aggregation
        self.n_heads = n_heads
        self.attention_reduction = attention_reduction
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # targets (task-specific) ---------------------------------------------------

    def _fit_targets(self, y) -> tuple[np.ndarray, int]:
        """Set target attributes; return the encoded targets and the output width."""
        raise NotImplementedError

    def _encode_targets(self, y) -> np.ndarray:
        """Encode targets with the fitted encoding (used by fine-tuning)."""
        raise NotImplementedError

    # layout ---------------------------------------------------------------------

    def _resolve_subspace_sizes(self, carried, n_features: int) -> tuple[int, ...]:
        if isinstance(self.subspaces, str):
            if carried is not None and sum(carried) == n_features:
                return tuple(carried)
            return (n_features,)
        if isinstance(self.subspaces, Integral):
            if n_features % self.subspaces:
                raise ValueError(
                    f"subspaces={self.subspaces} does not divide the {n_features} "
                    "features into equal subspaces."
                )
            return (n_features // self.subspaces,) * self.subspaces
        sizes = tuple(int(size) for size in self.subspaces)
        if min(sizes, default=0) < 1 or sum(sizes) != n_features:
            raise ValueError(
                f"subspaces={list(sizes)} must be positive widths adding up to the "
                f"{n_features} features of X."
            )
        return sizes

    # the skorch net -------------------------------------------------------------

    def _seeds(self) -> tuple[int, int, int]:
        rng = check_random_state(self.random_state)
        return tuple(int(s) for s in rng.randint(np.iinfo(np.int32).max, size=3))

    def _build_net(self, n_outputs: int, device: torch.device, seeds) -> NeuralNet:
        torch_seed, shuffle_seed, split_seed = seeds
        callbacks = "disable"
        if self.verbose or self.early_stopping:
            callbacks = []
        if self.early_stopping:
            callbacks.append(
                EarlyStopping(patience=self.n_iter_no_change, load_best=True)
            )
        train_split = None
        if self.early_stopping:
            train_split = ValidSplit(
                self.validation_fraction,
                stratified=self._task == "classification",
                random_state=split_seed,
            )
        return NeuralNet(
            StitchingNetwork,
            module__sizes=list(self.subspace_sizes_),
            module__n_outputs=n_outputs,
            module__task=self._task,
            module__aggregation=self.aggregation,
            module__n_heads=self.n_heads,
            module__attention_reduction=self.attention_reduction,
            module__hidden_sizes=list(self.hidden_sizes),
            module__activation=self.activation,
            module__dropout=self.dropout,
            criterion=self._criterion,
            optimizer=_OPTIMIZERS[self.optimizer],
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=TensorBatchIterator,
            iterator_train__shuffle=True,
            iterator_train__seed=shuffle_seed,
            iterator_valid=TensorBatchIterator,
            train_split=train_split,
            callbacks=callbacks,
            predict_nonlinearity=None,
            device=str(device),
            verbose=int(self.verbose),
        )

    def _initialize_net(self, n_outputs: int, device: torch.device, seeds) -> None:
        """Build and initialise ``net_`` (module weights drawn from ``seeds``)."""
        self.net_ = self._build_net(n_outputs, device, seeds)
        with isolated_torch_rng(seeds[0], device):
            self.net_.initialize()

    def _train(self, X: np.ndarray, y: np.ndarray, seed: int, epochs=None) -> None:
        device = torch.device(self.net_.device)
        X_tensor = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        y_tensor = torch.from_numpy(np.ascontiguousarray(y))
        if epochs is not None:
            self.net_.max_epochs = epochs
        with isolated_torch_rng(seed, device):
            self.net_.partial_fit(X_tensor, y_tensor)

    # fit / predict --------------------------------------------------------------

    def _validate_X(self, X, *, reset: bool, y="no_validation"):
        layout = infer_layout(X) if reset else None
        carried = None if layout is None else layout.widths
        dtype = (np.float64, np.float32)
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, dtype=dtype, reset=reset), carried
        X, y = validate_data(
            self,
            X,
            y,
            dtype=dtype,
            multi_output=self._task == "regression",
            y_numeric=self._task == "regression",
        )
        return (X, y), carried

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the normalisation, blender and head on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Relative representations, e.g. the output of a
            :class:`~sklearn_relrep.RelativeProjector` or
            :class:`~sklearn_relrep.InvariantProductSpace`.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.

        Returns
        -------
        self
            The fitted estimator.
        """
        (X, y), carried = self._validate_X(X, reset=True, y=y)
        self.subspace_sizes_ = self._resolve_subspace_sizes(carried, X.shape[1])
        encoded, n_outputs = self._fit_targets(y)
        seeds = self._seeds()
        self._initialize_net(n_outputs, resolve_device(self.device), seeds)
        self._train(X, encoded, seed=seeds[0] + 1)
        return self

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X, _ = self._validate_X(X, reset=False)
        device = resolve_device(self.device)
        module = self.net_.module_
        if next(module.parameters()).device != device:
            module.to(device)
            self.net_.device = str(device)
        module.eval()
        return map_row_chunks(
            X.astype(np.float32, copy=False),
            module,
            n_outputs=self._n_net_outputs(),
            batch_size=max(self.batch_size, 1024),
            device=device,
        )

    def _n_net_outputs(self) -> int:
        raise NotImplementedError

    # fine-tuning ----------------------------------------------------------------

    def _finetune(self, X, y, *, train: str, max_epochs: int, lr: float | None):
        """Fine-tune in place the parts named by ``train``, freezing all others."""
        check_is_fitted(self)
        if train not in FINETUNE_PARTS:
            raise ValueError(f"train={train!r} is not one of {sorted(FINETUNE_PARTS)}.")
        X, _ = self._validate_X(X, reset=False)
        encoded = self._encode_targets(y)
        if len(encoded) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {len(encoded)}.")
        module = self.net_.module_
        trained = [
            p
            for part in FINETUNE_PARTS[train]
            for p in getattr(module, part).parameters()
        ]
        if not trained:
            raise ValueError(
                f"aggregation={self.aggregation!r} has no learnable blender; "
                f"fine-tune train='head' or 'all' instead."
            )
        trained_ids = {id(p) for p in trained}
        for parameter in module.parameters():
            parameter.requires_grad_(id(parameter) in trained_ids)
        # No validation split and no early stopping on a handful of samples.
        self.net_.train_split = None
        self.net_.callbacks = [] if self.verbose else "disable"
        self.net_._initialize_callbacks()
        if lr is not None:
            self.net_.lr = lr
        self.net_.initialize_optimizer()
        try:
            self._train(X, encoded, seed=self._seeds()[0] + 2, epochs=max_epochs)
        finally:
            for parameter in module.parameters():
                parameter.requires_grad_(True)
        return self
