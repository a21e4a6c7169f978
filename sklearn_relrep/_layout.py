"""How a product space tells downstream estimators where its subspaces are."""

from __future__ import annotations

import re

import numpy as np

__all__ = ["SubspaceArray", "infer_subspace_sizes"]

_FEATURE_NAME = re.compile(r"^(?P<subspace>.+)_a(?P<anchor>\d+)$")


class SubspaceArray(np.ndarray):
    """A 2-D array whose columns are blocks of named relative subspaces.

    :class:`~sklearn_relrep.InvariantProductSpace` returns one, so that an
    estimator placed after it in a :class:`~sklearn.pipeline.Pipeline` can split
    the subspaces back out without the user repeating the layout. It behaves as a
    plain :class:`numpy.ndarray` everywhere else; row selections keep the layout,
    anything that changes the number of columns drops it.

    Parameters
    ----------
    array : array-like of shape (n_samples, n_features)
        The data.
    subspaces : sequence of (str, int)
        ``(name, width)`` of each consecutive block of columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep._layout import SubspaceArray
    >>> X = SubspaceArray(np.zeros((2, 4)), [("cosine", 2), ("l1", 2)])
    >>> X[:1].subspaces
    (('cosine', 2), ('l1', 2))
    """

    def __new__(cls, array, subspaces):
        obj = np.asarray(array).view(cls)
        obj.subspaces = tuple((str(name), int(width)) for name, width in subspaces)
        if obj.ndim != 2 or sum(w for _, w in obj.subspaces) != obj.shape[1]:
            raise ValueError("subspace widths must add up to the number of columns.")
        return obj

    def __array_finalize__(self, obj):
        subspaces = getattr(obj, "subspaces", None)
        keeps_columns = (
            subspaces is not None
            and self.ndim == 2
            and self.shape[1] == sum(w for _, w in subspaces)
        )
        self.subspaces = subspaces if keeps_columns else None

    def __reduce__(self):
        rebuild, args, state = super().__reduce__()
        return rebuild, args, (state, self.subspaces)

    def __setstate__(self, state):
        array_state, self.subspaces = state
        super().__setstate__(array_state)


def infer_subspace_sizes(X) -> tuple[int, ...] | None:
    """Read the subspace widths carried by ``X``, or ``None`` if it carries none.

    The layout is read from a :class:`SubspaceArray`, or from column names of the
    form ``"<subspace>_a<anchor>"`` (what ``set_output(transform="pandas")``
    produces).

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_relrep._layout import infer_subspace_sizes
    >>> infer_subspace_sizes(pd.DataFrame(columns=["cos_a0", "cos_a1", "l1_a0",
    ...                                            "l1_a1"]))
    (2, 2)
    """
    subspaces = getattr(X, "subspaces", None)
    if subspaces:
        return tuple(width for _, width in subspaces)
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    matches = [_FEATURE_NAME.match(str(c)) for c in columns]
    if not all(matches):
        return None
    sizes: list[int] = []
    names: list[str] = []
    for match in matches:
        if names and match["subspace"] == names[-1]:
            sizes[-1] += 1
        else:
            names.append(match["subspace"])
            sizes.append(1)
    return tuple(sizes) if len(set(names)) == len(names) else None
