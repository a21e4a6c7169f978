"""The stitchers' fitted network as state: given out, restored, kept on failure.

:class:`NetworkStateMixin` implements the state protocol of
:mod:`sklearn_relrep._state` for an estimator whose state includes the weights
of its skorch net (``net_.module_``); :func:`unchanged_on_failure` makes a
failed fit leave that state as it was.
"""

from __future__ import annotations

import functools
from numbers import Integral

import numpy as np
import torch

from .._compat import validate_estimator_params
from .._layout import SubspaceLayout
from .._state import StateMixin
from ..nn import AGGREGATIONS, StitchingNetwork

__all__ = ["NetworkStateMixin", "unchanged_on_failure"]


def unchanged_on_failure(fit):
    """Make a failed ``_fit`` leave the estimator as it was before the call.

    Whatever fails (validation, or training that diverged), an unfitted
    estimator stays unfitted and a fitted one keeps its previous fitted
    attributes, weights and history (never the diverged ones); the next
    ``partial_fit`` starts a fresh optimizer. The only copy made is that of
    the weights a consecutive ``partial_fit`` trains in place.
    """

    @functools.wraps(fit)
    def guarded(self, *args, incremental: bool, **kwargs):
        before = dict(vars(self))
        net = before.get("net_")
        n_epochs = len(net.history) if net is not None else 0
        in_place = incremental and "_incremental_calls" in before
        weights = (
            {k: v.detach().clone() for k, v in net.module_.state_dict().items()}
            if in_place
            else None
        )
        try:
            return fit(self, *args, incremental=incremental, **kwargs)
        except Exception:
            vars(self).clear()
            vars(self).update(before)
            if net is not None:
                del net.history[n_epochs:]
            if weights is not None:
                net.module_.load_state_dict(weights)
                self.__dict__.pop("_incremental_calls")
            raise

    return guarded


class NetworkStateMixin(StateMixin):
    """The state protocol for an estimator that trains a skorch net.

    The host class lists its fitted attributes in ``_state_attributes`` (the
    optional ones also in ``_optional_state``) and builds its net with
    ``_initialized_net`` from ``_module_params``.
    """

    _optional_state: tuple[str, ...] = ()

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
                "aggregation, n_heads, module__*) must match the weights: set them "
                "back, or train a new network (fit with warm_start=False, or "
                "partial_fit on a clone)."
            )

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
        validate_estimator_params(self)
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
        epochs = state.get("n_iter_", 0)
        if isinstance(epochs, bool) or not isinstance(epochs, Integral) or epochs < 0:
            raise ValueError(f"n_iter_={epochs!r} must be a non-negative int.")
        return {
            **state,
            "subspace_names_": np.asarray(layout.names, dtype=object),
            "subspace_widths_": np.asarray(layout.widths, dtype=np.int64),
            "n_features_in_": int(n_features),
        }
