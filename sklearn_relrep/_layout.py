"""The subspace layout: which columns of a relative representation belong together.

A product space outputs ``m`` relative subspaces side by side. A learner after it
needs to know where each one starts, so the layout is one explicit value,
:class:`SubspaceLayout`, that every part of the package passes around: the
transformers expose it as ``layout_``, their output carries it
(:class:`SubspaceArray`, or pandas columns named ``"<subspace>_a<anchor>"``),
the stitchers accept it as ``subspaces=`` and store it as ``layout_``, and the
safe file format saves it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np

__all__ = ["SubspaceArray", "SubspaceLayout", "infer_layout"]

_FEATURE_NAME = re.compile(r"^(?P<subspace>.+)_a(?P<anchor>\d+)$")


@dataclass(frozen=True)
class SubspaceLayout:
    """Names and widths of the consecutive column blocks of a representation.

    Parameters
    ----------
    names : sequence of str
        One distinct, non-empty name per subspace, e.g. the similarity.
    widths : sequence of int
        The number of columns of each subspace; positive integers.

    Attributes
    ----------
    n_features : int
        The total width, ``sum(widths)``.
    slices : tuple of slice
        The column range of each subspace.

    See Also
    --------
    SubspaceArray : A numpy array that carries its layout.
    InvariantProductSpace : Exposes the layout of its output as ``layout_``.

    Examples
    --------
    >>> from sklearn_relrep import SubspaceLayout
    >>> layout = SubspaceLayout(("cosine", "l1"), (3, 3))
    >>> layout.n_features, layout.slices[1]
    (6, slice(3, 6, None))
    >>> layout.feature_names()[:2]
    ['cosine_a0', 'cosine_a1']
    """

    names: tuple[str, ...]
    widths: tuple[int, ...]

    def __post_init__(self):
        names, widths = tuple(self.names), tuple(self.widths)
        if not names or len(names) != len(widths):
            raise ValueError(
                "A subspace layout needs one name per width and at least one "
                f"subspace; got names={list(names)} and widths={list(widths)}."
            )
        for name in names:
            if not isinstance(name, str) or not name:
                raise TypeError(
                    f"Subspace names must be non-empty strings; got {name!r}."
                )
        if len(set(names)) != len(names):
            raise ValueError(f"Subspace names must be distinct; got {list(names)}.")
        for width in widths:
            if isinstance(width, bool) or not isinstance(width, Integral | np.integer):
                raise TypeError(
                    f"Subspace widths must be integers; got {width!r} of type "
                    f"{type(width).__name__}."
                )
            if width < 1:
                raise ValueError(
                    f"Subspace widths must be positive; got {list(widths)}."
                )
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "widths", tuple(int(w) for w in widths))

    @classmethod
    def from_widths(cls, widths: Sequence[int]) -> SubspaceLayout:
        """A layout with generic names ``"s0", "s1", ...``.

        Examples
        --------
        >>> from sklearn_relrep import SubspaceLayout
        >>> SubspaceLayout.from_widths([4, 4]).names
        ('s0', 's1')
        """
        widths = tuple(widths)
        return cls(tuple(f"s{i}" for i in range(len(widths))), widths)

    @classmethod
    def from_feature_names(cls, columns: Iterable) -> SubspaceLayout | None:
        """Read the layout from names ``"<subspace>_a<anchor>"``, or return None.

        None is returned unless every name has that form, each subspace's
        columns are consecutive and its anchors are numbered ``0, 1, ...``.

        Examples
        --------
        >>> from sklearn_relrep import SubspaceLayout
        >>> SubspaceLayout.from_feature_names(["l1_a0", "l1_a1", "linf_a0"])
        SubspaceLayout(names=('l1', 'linf'), widths=(2, 1))
        >>> SubspaceLayout.from_feature_names(["x0", "x1"]) is None
        True
        """
        names: list[str] = []
        widths: list[int] = []
        for column in columns:
            match = _FEATURE_NAME.match(str(column))
            if match is None:
                return None
            name, anchor = match["subspace"], int(match["anchor"])
            if names and name == names[-1] and anchor == widths[-1]:
                widths[-1] += 1
            elif anchor == 0 and name not in names:
                names.append(name)
                widths.append(1)
            else:
                return None
        return cls(tuple(names), tuple(widths)) if names else None

    @property
    def n_features(self) -> int:
        return sum(self.widths)

    @property
    def slices(self) -> tuple[slice, ...]:
        bounds = np.concatenate([[0], np.cumsum(self.widths)]).tolist()
        return tuple(slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True))

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[tuple[str, int]]:
        return iter(zip(self.names, self.widths, strict=True))

    def feature_names(self) -> list[str]:
        """Column names ``"<subspace>_a<anchor>"``, subspace after subspace."""
        return [f"{n}_a{j}" for n, width in self for j in range(width)]

    def to_dict(self) -> dict:
        """A JSON-able form; :meth:`from_dict` reverses it."""
        return {"names": list(self.names), "widths": list(self.widths)}

    @classmethod
    def from_dict(cls, data: dict) -> SubspaceLayout:
        """Rebuild a layout written by :meth:`to_dict`, validating it."""
        if not isinstance(data, dict) or set(data) != {"names", "widths"}:
            raise ValueError(f"Not a subspace layout: {data!r}.")
        if not isinstance(data["names"], list) or not isinstance(data["widths"], list):
            raise ValueError(f"Not a subspace layout: {data!r}.")
        return cls(tuple(data["names"]), tuple(data["widths"]))


class SubspaceArray(np.ndarray):
    """A 2-D numpy array that carries the :class:`SubspaceLayout` of its columns.

    :class:`~sklearn_relrep.InvariantProductSpace` returns one, so that an
    estimator placed after it in a :class:`~sklearn.pipeline.Pipeline` can split
    the subspaces back out without the user repeating the layout. It behaves as a
    plain :class:`numpy.ndarray` everywhere else: row selections keep the layout,
    anything that changes the number of columns drops it, and scikit-learn
    estimators that copy their input into a plain array (a
    :class:`~sklearn.preprocessing.StandardScaler`, say) drop it too. Pass the
    layout explicitly (``subspaces=space.layout_``) after such a step.

    Parameters
    ----------
    array : array-like of shape (n_samples, n_features)
        The data.
    layout : SubspaceLayout
        The layout of its columns; ``layout.n_features`` must equal
        ``n_features``.

    Attributes
    ----------
    layout : SubspaceLayout or None
        The carried layout; None once an operation changed the columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_relrep import SubspaceArray, SubspaceLayout
    >>> X = SubspaceArray(np.zeros((2, 4)), SubspaceLayout(("cos", "l1"), (2, 2)))
    >>> X[:1].layout.names
    ('cos', 'l1')
    >>> X[:, :3].layout is None
    True
    """

    def __new__(cls, array, layout: SubspaceLayout):
        if not isinstance(layout, SubspaceLayout):
            raise TypeError(
                f"layout must be a SubspaceLayout; got {type(layout).__name__}."
            )
        obj = np.asarray(array).view(cls)
        if obj.ndim != 2 or layout.n_features != obj.shape[1]:
            raise ValueError(
                f"The layout's widths add up to {layout.n_features} columns but the "
                f"array has shape {obj.shape}."
            )
        obj.layout = layout
        return obj

    def __array_finalize__(self, obj):
        layout = getattr(obj, "layout", None)
        keeps_columns = (
            layout is not None and self.ndim == 2 and self.shape[1] == layout.n_features
        )
        self.layout = layout if keeps_columns else None

    def __reduce__(self):
        rebuild, args, state = super().__reduce__()
        return rebuild, args, (state, self.layout)

    def __setstate__(self, state):
        array_state, self.layout = state
        super().__setstate__(array_state)


def infer_layout(X) -> SubspaceLayout | None:
    """The layout carried by ``X``, or None if it carries none.

    It is read from a :class:`SubspaceArray` (or a dask array) ``layout``
    attribute, from the ``subspace_layout`` attribute of a torch tensor (whose
    own ``layout`` is torch's memory layout), or from column names of the form
    ``"<subspace>_a<anchor>"`` (what ``set_output(transform="pandas")`` gives).

    Examples
    --------
    >>> import pandas as pd
    >>> infer_layout(pd.DataFrame(columns=["cos_a0", "cos_a1", "l1_a0", "l1_a1"]))
    SubspaceLayout(names=('cos', 'l1'), widths=(2, 2))
    """
    for attribute in ("layout", "subspace_layout"):
        layout = getattr(X, attribute, None)
        if isinstance(layout, SubspaceLayout):
            return layout
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    return SubspaceLayout.from_feature_names(columns)
