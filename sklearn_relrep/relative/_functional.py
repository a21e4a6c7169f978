"""The relative projection as differentiable torch functions.

One implementation serves both sides of the package: the transformers of
:mod:`sklearn_relrep.relative._transformers` (their fitted statistics and their
chunked transform) and the torch layer :class:`sklearn_relrep.nn.RelativeProjection`,
which calls the same functions inside a forward pass so that gradients reach
the rows and the anchors. The kernels themselves are those of
:mod:`sklearn_relrep.relative._kernels`.

Statistics are computed in float64 whatever the input dtype (as the fitted
transformers store them) and cast to the rows' dtype where they are applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ._kernels import is_distance, prepare_similarity

__all__ = [
    "ORIENTATIONS",
    "OUTPUT_SCALINGS",
    "PREPROCESSINGS",
    "AnchorStatistics",
    "anchor_statistics",
    "concat_subspaces",
    "input_statistics",
    "output_statistics",
    "relative_projection",
]

#: The options of ``preprocessing``, ``output_scaling`` and ``orientation``
#: (``None`` is also accepted by the first two).
PREPROCESSINGS = ("center", "standard", "l2")
OUTPUT_SCALINGS = ("scale", "standard", "layer")
ORIENTATIONS = ("raw", "similarity")

LAYER_NORM_EPS = 1e-5
# Scales at or below this are replaced by 1 (a constant feature or subspace).
_SCALE_FLOOR = float(np.finfo(np.float64).eps)


class AnchorStatistics(NamedTuple):
    """What the anchors alone determine: preprocessing and output scaling.

    Every field is a float64 tensor: ``input_mean`` and ``input_scale`` of shape
    ``(n_features,)``, ``output_offset`` and ``output_scale`` of shape
    ``(n_subspaces,)``.
    """

    input_mean: torch.Tensor
    input_scale: torch.Tensor
    output_offset: torch.Tensor
    output_scale: torch.Tensor


def concat_subspaces(subspaces: Sequence[torch.Tensor]) -> torch.Tensor:
    """Subspaces side by side; a single one is returned as it is, uncopied."""
    return subspaces[0] if len(subspaces) == 1 else torch.cat(list(subspaces), dim=1)


def _safe_scale(scale: torch.Tensor) -> torch.Tensor:
    return torch.where(scale > _SCALE_FLOOR, scale, 1.0)


def _safe_std(values: torch.Tensor, dim: int) -> torch.Tensor:
    """Population standard deviation, 1 where it is not above the floor."""
    return _safe_scale(values.std(dim, correction=0))


def input_statistics(
    anchors: torch.Tensor, preprocessing: str | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and scale of the anchors for ``preprocessing``.

    Parameters
    ----------
    anchors : torch.Tensor of shape (n_anchors, n_features)
        The anchors, in the input space.
    preprocessing : {"center", "standard", "l2"} or None
        ``"center"`` and ``"standard"`` use the mean, ``"standard"`` the
        population standard deviation too (1 for a constant feature); the
        others use neither (zeros and ones).

    Returns
    -------
    mean, scale : torch.Tensor of shape (n_features,)
        In float64, differentiable with respect to ``anchors``.
    """
    anchors = anchors.to(torch.float64)
    if preprocessing in ("center", "standard"):
        mean = anchors.mean(0)
    else:
        mean = anchors.new_zeros(anchors.shape[1])
    if preprocessing == "standard":
        scale = _safe_std(anchors, 0)
    else:
        scale = anchors.new_ones(anchors.shape[1])
    return mean, scale


def _off_diagonal(square: torch.Tensor) -> torch.Tensor:
    if square.shape[0] == 1:
        return square.reshape(-1)
    mask = ~torch.eye(square.shape[0], dtype=torch.bool, device=square.device)
    return square[mask]


def output_statistics(
    anchor_subspaces: Sequence[torch.Tensor], output_scaling: str | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-subspace offset and scale from the anchors' own relative representation.

    Parameters
    ----------
    anchor_subspaces : sequence of torch.Tensor of shape (n_anchors, n_anchors)
        Each subspace of the anchors projected onto themselves, preprocessed and
        oriented but not scaled. Self-similarities (the diagonal) are left out,
        except with a single anchor.
    output_scaling : {"scale", "standard", "layer"} or None
        ``"standard"`` gives the mean and the standard deviation of the
        off-diagonal values, ``"scale"`` a zero offset and their mean absolute
        value; the others zeros and ones. A scale not above float64's epsilon
        becomes 1.

    Returns
    -------
    offset, scale : torch.Tensor of shape (n_subspaces,)
        In float64, differentiable with respect to the subspaces.
    """
    n_subspaces = len(anchor_subspaces)
    offsets = torch.zeros(n_subspaces, dtype=torch.float64)
    scales = torch.ones(n_subspaces, dtype=torch.float64)
    if output_scaling not in ("scale", "standard") or n_subspaces == 0:
        return offsets, scales
    values = torch.stack([_off_diagonal(r.to(torch.float64)) for r in anchor_subspaces])
    if output_scaling == "standard":
        return values.mean(1), _safe_std(values, 1)
    return offsets.to(values.device), _safe_scale(values.abs().mean(1))


def relative_projection(
    anchors: torch.Tensor,
    similarities: Sequence[str | Callable],
    *,
    preprocessing: str | None = None,
    orientation: str = "raw",
    output_scaling: str | None = None,
    statistics: AnchorStatistics,
) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """Bind the anchors and their statistics; return the map from rows to subspaces.

    Parameters
    ----------
    anchors : torch.Tensor of shape (n_anchors, n_features)
        The anchors in the input space, of the dtype and on the device of the
        rows to project.
    similarities : sequence of {"cosine", "euclidean", "l1", "linf"} or callable
        One subspace per entry, as the transformers' ``similarity``.
    preprocessing : {"center", "standard", "l2"} or None, default=None
        Applied to rows and anchors with ``statistics``' input mean and scale
        (``"l2"`` scales each row to unit norm).
    orientation : {"raw", "similarity"}, default="raw"
        ``"similarity"`` negates the built-in distances.
    output_scaling : {"scale", "standard", "layer"} or None, default=None
        ``"scale"`` and ``"standard"`` apply ``statistics``' output offset and
        scale; ``"layer"`` standardises each row of each subspace.
    statistics : AnchorStatistics
        From :func:`anchor_statistics` or a fitted transformer.

    Returns
    -------
    callable
        Maps rows of shape ``(b, n_features)`` to the list of subspaces, each of
        shape ``(b, n_anchors)``; differentiable (rows and anchors) where the
        similarities are.
    """
    device, dtype = anchors.device, anchors.dtype
    mean, scale, offsets, scales = (
        value.to(device=device, dtype=dtype) for value in statistics
    )

    def preprocess(x: torch.Tensor) -> torch.Tensor:
        if preprocessing in ("center", "standard"):
            return (x - mean) / scale
        if preprocessing == "l2":
            return F.normalize(x, dim=1)
        return x

    prepared = preprocess(anchors)
    kernels = [prepare_similarity(s, prepared) for s in similarities]
    negate = [orientation == "similarity" and is_distance(s) for s in similarities]
    k = anchors.shape[0]

    def project(x: torch.Tensor) -> list[torch.Tensor]:
        x = preprocess(x)
        subspaces = []
        for i, (kernel, flip) in enumerate(zip(kernels, negate, strict=True)):
            r = kernel(x)
            if flip:
                r = -r if r.requires_grad else r.neg_()
            if output_scaling == "layer":
                r = F.layer_norm(r, (k,), eps=LAYER_NORM_EPS)
            elif output_scaling in ("scale", "standard"):
                r = (r - offsets[i]) / scales[i]
            subspaces.append(r)
        return subspaces

    return project


def anchor_statistics(
    anchors: torch.Tensor,
    similarities: Sequence[str | Callable],
    *,
    preprocessing: str | None = None,
    orientation: str = "raw",
    output_scaling: str | None = None,
) -> AnchorStatistics:
    """Compute every statistic of the anchors, differentiably.

    The input statistics come from :func:`input_statistics`; the output ones
    from :func:`output_statistics` on the anchors projected onto themselves
    (in the anchors' dtype) by :func:`relative_projection` without output
    scaling, as a fitted transformer computes them.

    Parameters
    ----------
    anchors : torch.Tensor of shape (n_anchors, n_features)
        The anchors, in the input space.
    similarities, preprocessing, orientation, output_scaling
        As in :func:`relative_projection`.

    Returns
    -------
    AnchorStatistics
        In float64.
    """
    mean, scale = input_statistics(anchors, preprocessing)
    offsets, scales = torch.zeros(len(similarities)), torch.ones(len(similarities))
    unscaled = AnchorStatistics(mean, scale, offsets, scales)
    if output_scaling in ("scale", "standard"):
        raw = relative_projection(
            anchors,
            similarities,
            preprocessing=preprocessing,
            orientation=orientation,
            statistics=unscaled,
        )(anchors)
        offsets, scales = output_statistics(raw, output_scaling)
    return AnchorStatistics(mean, scale, offsets.double(), scales.double())
