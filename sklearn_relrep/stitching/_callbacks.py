"""skorch callbacks used by the stitching estimators."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from skorch.callbacks import Callback

__all__ = ["DivergenceCheck", "TrainOnly"]


class TrainOnly(Callback):
    """Train only some parts of the module; freeze the others for one training call.

    At the start of each training call (``fit`` or ``partial_fit`` of the net)
    every parameter of ``net.module_`` outside the named parts gets
    ``requires_grad=False``, so it receives no gradient and the optimizer leaves
    it bitwise unchanged (weight decay included). At the end of the call the
    parameters it froze are made trainable again, so the module is left as it
    was found. This is how :func:`~sklearn_relrep.finetune` trains only the
    blender or only the head.

    Parameters
    ----------
    parts : sequence of str
        Names of direct submodules of ``net.module_`` whose parameters stay
        trainable, e.g. ``("blender",)`` for a
        :class:`~sklearn_relrep.nn.StitchingNetwork`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep import StitchingClassifier
    >>> X = np.random.RandomState(0).normal(size=(40, 8)); y = X[:, 0] > 0
    >>> model = StitchingClassifier(subspaces=2, max_epochs=1, random_state=0)
    >>> model = model.fit(X, y)
    >>> head = model.net_.module_.head.layers[0].weight.detach().clone()
    >>> _ = model.set_params(callbacks=[TrainOnly(["blender"])]).partial_fit(X, y)
    >>> bool((model.net_.module_.head.layers[0].weight == head).all())
    True
    """

    def __init__(self, parts: Sequence[str]):
        self.parts = parts

    def initialize(self):
        self.frozen_ = []
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        children = {name for name, _ in net.module_.named_children()}
        unknown = sorted(set(self.parts) - children)
        if unknown:
            raise ValueError(
                f"TrainOnly got parts {unknown} that the module does not have; "
                f"its parts are {sorted(children)}."
            )
        for name, parameter in net.module_.named_parameters():
            if name.split(".")[0] not in self.parts and parameter.requires_grad:
                parameter.requires_grad_(False)
                self.frozen_.append(parameter)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        for parameter in self.frozen_:
            parameter.requires_grad_(True)
        self.frozen_ = []


class DivergenceCheck(Callback):
    """Refuse a training call that diverged: a non-finite loss or weights.

    At the end of each epoch a non-finite ``train_loss`` or ``valid_loss``
    stops the training (the way skorch's early stopping does, so the other
    callbacks still see the end of the call). At the end of the call one
    :func:`torch.isfinite` pass over the module's parameters and buffers
    follows; if a loss or a weight was not finite, a :class:`ValueError`
    naming the epoch and the remedies is raised, so that the diverged network
    is never taken for a trained one. It must be the last callback, so that
    it checks the weights that the others (early stopping's ``load_best``)
    leave.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep import StitchingRegressor
    >>> X = np.random.RandomState(0).normal(size=(40, 8))
    >>> model = StitchingRegressor(lr=1e12, max_epochs=3, random_state=0)
    >>> model.fit(X, X[:, 0])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Training diverged: ...
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.diverged_ = None

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        losses = [
            f"{name}={row[name]}"
            for name in ("train_loss", "valid_loss")
            if name in row and not math.isfinite(row[name])
        ]
        if losses:
            self.diverged_ = f"{' and '.join(losses)} at epoch {row['epoch']}"
            raise KeyboardInterrupt

    def on_train_end(self, net, X=None, y=None, **kwargs):
        tensors = [*net.module_.parameters(), *net.module_.buffers()]
        tensors = [t for t in tensors if t.is_floating_point()]
        finite = not tensors or bool(
            torch.stack([torch.isfinite(t).all() for t in tensors]).all()
        )
        problems = [self.diverged_] if self.diverged_ else []
        if not finite:
            epoch = net.history[-1, "epoch"] if len(net.history) else 0
            problems.append(f"non-finite weights after epoch {epoch}")
        if problems:
            raise ValueError(
                f"Training diverged: {'; '.join(problems)}. Lower lr (it is "
                f"{net.lr:g}), scale the inputs or the targets (e.g. with a "
                "StandardScaler or sklearn.compose.TransformedTargetRegressor), "
                "or check sample_weight and class_weight. The estimator keeps the "
                "state it had before this call."
            )
