"""skorch callbacks used by the stitching estimators."""

from __future__ import annotations

from collections.abc import Sequence

from skorch.callbacks import Callback

__all__ = ["TrainOnly"]


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
