"""The state protocol: an estimator's fitted state as plain values, out and back in.

:mod:`sklearn_relrep._persistence` writes models without pickle. It never reaches
into an estimator: it asks for :meth:`StateMixin._get_state`, stores the values
(numbers, strings, numpy arrays, a :class:`~sklearn_relrep.SubspaceLayout`, and
dicts of numpy arrays such as network weights) and hands them back through
:meth:`StateMixin._set_state` on a fresh estimator built from the saved
parameters. Each estimator names the attributes that make up its state in
``_state_attributes``; nothing else can be set through the protocol.
"""

from __future__ import annotations

from typing import ClassVar

from sklearn.utils.validation import check_is_fitted

__all__ = ["StateMixin"]


class StateMixin:
    """Mixin giving an estimator ``_get_state`` and ``_set_state``.

    Subclasses list their fitted attributes in ``_state_attributes`` (optional
    ones, such as ``feature_names_in_``, are simply absent when unset) and
    override the two methods when some state is not a plain attribute, such as
    the weights of a torch module.
    """

    _state_attributes: ClassVar[tuple[str, ...]] = ()

    def _get_state(self) -> dict:
        """The fitted state, as a dict of attribute name to value."""
        check_is_fitted(self)
        return {
            name: getattr(self, name)
            for name in self._state_attributes
            if hasattr(self, name)
        }

    def _set_state(self, state: dict):
        """Restore a state given by :meth:`_get_state`; return ``self``.

        Raises
        ------
        ValueError
            If ``state`` names an attribute outside ``_state_attributes``.
        """
        unknown = sorted(set(state) - set(self._state_attributes))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no state attribute(s) {unknown}; "
                f"expected a subset of {sorted(self._state_attributes)}."
            )
        for name, value in state.items():
            setattr(self, name, value)
        return self
