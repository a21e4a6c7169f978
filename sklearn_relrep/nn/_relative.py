"""A differentiable relative projection, to put inside a torch model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral

import numpy as np
import torch
from torch import nn

from ..relative._functional import (
    ORIENTATIONS,
    OUTPUT_SCALINGS,
    PREPROCESSINGS,
    AnchorStatistics,
    anchor_statistics,
    concat_subspaces,
    relative_projection,
)
from ..relative._kernels import SIMILARITIES, similarity_name

__all__ = ["RelativeProjection"]

_DTYPES = (torch.float32, torch.float64)
Similarity = str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _checked_option(name: str, value, options: Sequence, none_ok: bool = True):
    if (value is None and none_ok) or value in options:
        return value
    allowed = [*options, None] if none_ok else list(options)
    raise ValueError(f"Unknown {name} {value!r}; expected one of {allowed}.")


def _checked_similarities(similarities) -> list[Similarity]:
    if isinstance(similarities, str) or callable(similarities):
        similarities = [similarities]
    similarities = list(similarities)
    if not similarities:
        raise ValueError("similarities must name at least one similarity.")
    for similarity in similarities:
        if not (callable(similarity) or similarity in SIMILARITIES):
            raise ValueError(
                f"Unknown similarity {similarity!r}; expected names from "
                f"{sorted(SIMILARITIES)} or callables."
            )
    names = [similarity_name(s) for s in similarities]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"similarities must have distinct names; {duplicates} repeat.")
    return similarities


def _checked_tensor(value, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        value = torch.as_tensor(np.asarray(value))
    if value.ndim != 2:
        raise ValueError(
            f"{what} must be 2-D (n_rows, n_features); got shape {tuple(value.shape)}."
        )
    if value.dtype not in _DTYPES:
        raise TypeError(
            f"{what} has dtype {value.dtype}; RelativeProjection computes in "
            "float32 or float64 (cast it with .float() or .double())."
        )
    if not torch.isfinite(value).all():
        raise ValueError(f"{what} holds NaN or inf.")
    return value


class RelativeProjection(nn.Module):
    """The relative projection as a torch layer, differentiable end to end.

    Maps a batch ``x`` of shape ``(b, d)`` to its similarities to ``k`` anchors
    under each of ``m`` similarities, the subspaces side by side: shape
    ``(b, m * k)``. It computes exactly what
    :class:`~sklearn_relrep.RelativeProjector` and
    :class:`~sklearn_relrep.InvariantProductSpace` compute (the same kernels,
    preprocessing, sign convention and per-subspace scaling, through the same
    code), so a model trained with it and the fitted transformer give the same
    features; :meth:`from_transformer` builds the layer of a fitted one.

    The anchors are either fixed (``anchors=``, kept as a buffer) or embedded
    in the same forward pass and passed as ``forward(x, anchors)``: then every
    statistic (mean, scale, output scaling) is recomputed from them, as
    :meth:`~sklearn_relrep.RelativeProjector.reanchor` does, and gradients
    flow into them. Passing another encoder's embeddings of the same anchor
    inputs is zero-shot stitching.

    Parameters
    ----------
    anchors : torch.Tensor or array-like of shape (n_anchors, n_features), \
            default=None
        Fixed anchors, copied into the ``anchors`` buffer. None: anchors must
        be passed to every forward call.
    similarities : str, callable or sequence of them, default="cosine"
        One subspace per entry, ``"cosine"``, ``"euclidean"``, ``"l1"``,
        ``"linf"`` or a callable ``f(x, anchors) -> (b, k)``, as the
        transformers' ``similarity``. Names must be distinct.
    n_anchors : int, default=None
        The number of anchors every forward call must use (the width of the
        model after the layer depends on it). Taken from ``anchors`` when given.
    preprocessing : {"center", "standard", "l2"} or None, default=None
        As the transformers' parameter, statistics from the anchors.
    output_scaling : {"scale", "standard", "layer"} or None, default=None
        As the transformers' parameter, statistics from the anchors.
    orientation : {"raw", "similarity"}, default="raw"
        ``"similarity"`` negates the distances (higher is closer).

    Attributes
    ----------
    anchors : torch.Tensor of shape (n_anchors, n_features) or None
        The fixed anchors (a buffer).
    input_mean, input_scale, output_offset, output_scale : torch.Tensor or None
        The fixed anchors' statistics (buffers, computed in float64; they are
        cast with the module, and to the rows' dtype where applied, as the
        transformers do).
    sizes : list of int or None
        Widths of the ``m`` output subspaces, ``[n_anchors] * m``, as the
        blenders of :mod:`sklearn_relrep.nn` take them; None while
        ``n_anchors`` is unknown.

    Examples
    --------
    >>> import torch
    >>> from sklearn_relrep.nn import RelativeProjection
    >>> layer = RelativeProjection(similarities=["cosine", "l1"], n_anchors=4)
    >>> x, anchors = torch.randn(8, 3), torch.randn(4, 3, requires_grad=True)
    >>> out = layer(x, anchors)
    >>> out.shape, layer.sizes
    (torch.Size([8, 8]), [4, 4])
    >>> out.sum().backward()
    >>> anchors.grad.shape
    torch.Size([4, 3])
    """

    def __init__(
        self,
        anchors=None,
        *,
        similarities: Similarity | Sequence[Similarity] = "cosine",
        n_anchors: int | None = None,
        preprocessing: str | None = None,
        output_scaling: str | None = None,
        orientation: str = "raw",
    ):
        super().__init__()
        self.similarities = _checked_similarities(similarities)
        self.preprocessing = _checked_option(
            "preprocessing", preprocessing, PREPROCESSINGS
        )
        self.output_scaling = _checked_option(
            "output_scaling", output_scaling, OUTPUT_SCALINGS
        )
        self.orientation = _checked_option(
            "orientation", orientation, ORIENTATIONS, none_ok=False
        )
        if n_anchors is not None and (
            isinstance(n_anchors, bool)
            or not isinstance(n_anchors, Integral)
            or n_anchors < 1
        ):
            raise ValueError(
                f"n_anchors must be a positive integer; got {n_anchors!r}."
            )
        statistics = AnchorStatistics(None, None, None, None)
        if anchors is not None:
            anchors = _checked_tensor(anchors, "anchors").detach().clone()
            if n_anchors is not None and n_anchors != anchors.shape[0]:
                raise ValueError(
                    f"n_anchors={n_anchors} but {anchors.shape[0]} anchors were given."
                )
            n_anchors = anchors.shape[0]
            with torch.no_grad():
                statistics = self._statistics(anchors)
        self.n_anchors = None if n_anchors is None else int(n_anchors)
        self.register_buffer("anchors", anchors)
        for name, value in zip(AnchorStatistics._fields, statistics, strict=True):
            self.register_buffer(name, value)

    @classmethod
    def from_transformer(cls, transformer) -> RelativeProjection:
        """The layer that computes what a fitted relative transformer computes.

        Parameters
        ----------
        transformer : RelativeProjector or InvariantProductSpace
            Fitted. Its anchors become the layer's buffer and its fitted
            statistics are copied as they are.

        Returns
        -------
        RelativeProjection
            Its forward on a tensor of rows equals ``transformer.transform`` on
            the same rows (to rounding), in float32 and float64.
        """
        from ..relative._transformers import BaseRelativeSpace

        if not isinstance(transformer, BaseRelativeSpace):
            raise TypeError(
                "from_transformer takes a fitted RelativeProjector or "
                f"InvariantProductSpace; got {type(transformer).__name__}."
            )
        if not hasattr(transformer, "anchors_"):
            raise ValueError(
                f"This {type(transformer).__name__} is not fitted yet; call fit first."
            )
        layer = cls(
            transformer.anchors_,
            similarities=transformer._similarity_list(),
            preprocessing=transformer.preprocessing,
            output_scaling=transformer.output_scaling,
            orientation=transformer.orientation,
        )
        fitted = (
            transformer.input_mean_,
            transformer.input_scale_,
            transformer.output_offset_,
            transformer.output_scale_,
        )
        for name, value in zip(AnchorStatistics._fields, fitted, strict=True):
            setattr(layer, name, torch.as_tensor(np.asarray(value, dtype=np.float64)))
        return layer

    @property
    def sizes(self) -> list[int] | None:
        """Widths of the output subspaces; None while ``n_anchors`` is unknown."""
        if self.n_anchors is None:
            return None
        return [self.n_anchors] * len(self.similarities)

    def _statistics(self, anchors: torch.Tensor) -> AnchorStatistics:
        return anchor_statistics(
            anchors,
            self.similarities,
            preprocessing=self.preprocessing,
            orientation=self.orientation,
            output_scaling=self.output_scaling,
        )

    def forward(
        self, x: torch.Tensor, anchors: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Project ``x`` onto the anchors.

        Parameters
        ----------
        x : torch.Tensor of shape (b, n_features)
            The rows, float32 or float64.
        anchors : torch.Tensor of shape (n_anchors, n_features), default=None
            Anchors embedded in this forward pass (by the same encoder as
            ``x``), used instead of the buffer; their statistics are recomputed
            and gradients flow into them. None: the fixed anchors.

        Returns
        -------
        torch.Tensor of shape (b, n_subspaces * n_anchors)
            The subspaces side by side, in ``x``'s dtype.
        """
        x = _checked_tensor(x, "x")
        if anchors is None:
            if self.anchors is None:
                raise ValueError(
                    "This RelativeProjection has no fixed anchors; pass the "
                    "anchors embedded in this forward pass as forward(x, anchors)."
                )
            anchors, statistics = (
                self.anchors,
                AnchorStatistics(
                    self.input_mean,
                    self.input_scale,
                    self.output_offset,
                    self.output_scale,
                ),
            )
            anchors = anchors.to(x.dtype)
        else:
            anchors = _checked_tensor(anchors, "anchors").to(x.dtype)
            statistics = None
        if anchors.shape[1] != x.shape[1]:
            raise ValueError(
                f"x has {x.shape[1]} features but the anchors have "
                f"{anchors.shape[1]}; they must be embedded in the same space."
            )
        if self.n_anchors is not None and anchors.shape[0] != self.n_anchors:
            raise ValueError(
                f"Got {anchors.shape[0]} anchors; this layer was built for "
                f"{self.n_anchors}."
            )
        if statistics is None:
            statistics = self._statistics(anchors)
        subspaces = relative_projection(
            anchors,
            self.similarities,
            preprocessing=self.preprocessing,
            orientation=self.orientation,
            output_scaling=self.output_scaling,
            statistics=statistics,
        )(x)
        out = concat_subspaces(subspaces)
        if not torch.isfinite(out).all():
            raise ValueError(
                f"The relative representation overflows {x.dtype}: x holds values "
                f"up to {x.detach().abs().max().item():.3g} in magnitude. Pass "
                "float64, or rescale it."
            )
        return out

    def extra_repr(self) -> str:
        names = [similarity_name(s) for s in self.similarities]
        return (
            f"similarities={names}, n_anchors={self.n_anchors}, "
            f"preprocessing={self.preprocessing!r}, "
            f"output_scaling={self.output_scaling!r}, "
            f"orientation={self.orientation!r}"
        )
