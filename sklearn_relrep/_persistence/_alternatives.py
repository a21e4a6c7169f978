"""What to use instead when the safe format cannot hold a model."""

from __future__ import annotations

__all__ = ["skops_alternative"]


def skops_alternative(estimator) -> str:
    """A sentence pointing to :mod:`skops.io`, with the types to trust for it.

    The types are those :func:`skops.io.get_untrusted_types` reports for this
    very model, so that the user can review them before passing them.
    """
    try:
        import skops.io as sio
    except ImportError:
        return (
            "skops.io (pip install skops) saves many more scikit-learn models "
            "without pickle; joblib.dump saves anything, for files you trust."
        )
    try:
        untrusted = sio.get_untrusted_types(data=sio.dumps(estimator))
    except Exception as exc:  # skops raises many kinds for what it cannot hold
        return (
            f"skops.io cannot save it either ({type(exc).__name__}: {exc}); "
            "joblib.dump can, for files you trust."
        )
    unnamed = [name for name in untrusted if "<" in name]
    if unnamed:  # a lambda or a local function or class
        return (
            f"skops.io cannot load it by name either: it holds {unnamed}; joblib.dump "
            "can save it, for files you trust."
        )
    return (
        "skops.io saves it without pickle: skops.io.dump(model, path), then, "
        "after reviewing these types, skops.io.load(path, trusted="
        f"{untrusted!r})."
    )
