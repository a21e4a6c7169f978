"""skorch's own options on the stitchers, and skorch's fitted shortcuts.

The stitchers train a :class:`skorch.NeuralNet` (``net_``). Besides the
prefixed options (``optimizer__*``, ``callbacks__*``, ...) they accept two of
skorch's plain options and pass them to the net, refuse the others with the
reason, and expose ``history_`` and ``module_`` as skorch users know them.
"""

from __future__ import annotations

__all__ = [
    "NET_OPTIONS",
    "SkorchSurfaceMixin",
    "check_net_options",
    "is_skorch_option",
]

# skorch options taken as they are and passed to the net.
NET_OPTIONS = ("torch_load_kwargs", "use_caching")
# skorch options that do not apply, and why.
_REFUSED = {
    "compile": (
        "the stitchers train a small head (a LayerNorm per subspace, a blender "
        "and a small MLP) for which torch.compile's compile time exceeds the "
        "training it would speed up, and a compiled module renames its weights "
        "('_orig_mod.*'), which warm starts, the fitted state and save_stitcher "
        "rely on; compile your own torch model if you need it"
    ),
    "predict_nonlinearity": (
        "the estimators compute their outputs themselves: predict_proba is the "
        "softmax of the logits the loss is trained on and predict their argmax "
        "(a regressor's outputs are taken as they are), and the net's own "
        "predictions, which only scoring callbacks see, follow the criterion as "
        "skorch's 'auto' does; post-process predict_proba, or wrap the "
        "estimator (e.g. sklearn.calibration.CalibratedClassifierCV)"
    ),
}


def is_skorch_option(name: str) -> bool:
    """Whether ``name`` is one of skorch's plain options, taken or refused."""
    return name in NET_OPTIONS or name.split("__", 1)[0] in _REFUSED


def check_net_options(options: dict) -> None:
    """Refuse skorch options that do not apply; check those that are taken.

    Parameters
    ----------
    options : dict
        The estimator's parameters beyond its signature, by name.
    """
    for name in options:
        base = name.split("__", 1)[0]
        if base in _REFUSED:
            raise ValueError(f"{name} is not supported: {_REFUSED[base]}.")
    caching = options.get("use_caching", "auto")
    if not (caching is True or caching is False or caching == "auto"):
        raise ValueError(
            f"use_caching={caching!r} must be 'auto', True or False (skorch's "
            "caching of predictions for scoring callbacks)."
        )
    load_kwargs = options.get("torch_load_kwargs")
    if load_kwargs is not None and not (
        isinstance(load_kwargs, dict) and all(isinstance(k, str) for k in load_kwargs)
    ):
        raise ValueError(
            f"torch_load_kwargs={load_kwargs!r} must be None or a dict of keyword "
            "arguments for torch.load, e.g. {'weights_only': True}."
        )
    if load_kwargs is not None and "map_location" in load_kwargs:
        raise ValueError(
            "torch_load_kwargs cannot set map_location: skorch derives it from "
            "device when it unpickles the net; set device instead."
        )


class SkorchSurfaceMixin:
    """``history_`` and ``module_``: the trained net's, as skorch names them."""

    @property
    def history_(self):
        """The training history of the net (:class:`skorch.history.History`).

        One entry per epoch, with ``train_loss`` (and ``valid_loss`` with early
        stopping or a ``train_split``) and whatever the callbacks record; it
        grows with warm starts and ``partial_fit``. A model loaded with
        :func:`~sklearn_relrep.load_stitcher` starts a new, empty history.
        """
        return self.net_.history

    @property
    def module_(self):
        """The trained :class:`~sklearn_relrep.nn.StitchingNetwork`."""
        return self.net_.module_
