"""Torch modules that normalise relative subspaces and blend them into one vector.

The input of every module here is a batch of shape ``(batch, sum(sizes))`` whose
columns are consecutive subspaces (one per similarity function) of widths
``sizes``. Nothing here knows about scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AGGREGATIONS",
    "AttentionBlender",
    "ConcatBlender",
    "DeepSetBlender",
    "SubspaceDropout",
    "SubspaceLayerNorm",
    "SumBlender",
    "WeightedBlender",
    "make_blender",
]


class SubspaceLayerNorm(nn.Module):
    """A :class:`~torch.nn.LayerNorm` over the anchor axis of each subspace.

    Parameters
    ----------
    sizes : sequence of int
        Widths of the consecutive subspaces.

    Examples
    --------
    >>> import torch
    >>> from sklearn_relrep.nn import SubspaceLayerNorm
    >>> norm = SubspaceLayerNorm([3, 2])
    >>> [tuple(block.shape) for block in norm(torch.randn(4, 5))]
    [(4, 3), (4, 2)]
    """

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        self.sizes = [int(size) for size in sizes]
        self.norms = nn.ModuleList(nn.LayerNorm(size) for size in self.sizes)

    @classmethod
    def min_weights(cls, sizes: Sequence[int]) -> int:
        """A lower bound on the weights of the module built for ``sizes``.

        At least one per input feature (a LayerNorm has a scale and a shift).
        """
        return sum(sizes)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        blocks = torch.split(x, self.sizes, dim=1)
        return [norm(block) for norm, block in zip(self.norms, blocks, strict=True)]


class SubspaceDropout(nn.Module):
    """Drop whole subspaces of each sample at random while training.

    Each subspace of each sample is zeroed with probability ``p``, at least one
    subspace of every sample is kept, and the kept ones are scaled by
    ``m / n_kept`` so that their sum keeps its expected size (inverted
    dropout). The head then cannot lean on a single invariance. In eval mode it
    is the identity.

    Parameters
    ----------
    p : float, default=0.0
        Probability of dropping each subspace, in [0, 1).
    generator : torch.Generator or None, default=None
        Source of the random masks; torch's global RNG when None.

    Examples
    --------
    >>> import torch
    >>> from sklearn_relrep.nn import SubspaceDropout
    >>> dropout = SubspaceDropout(0.5).train()
    >>> blocks = [torch.ones(4, 3), torch.ones(4, 3)]
    >>> kept = torch.stack([b[:, 0] != 0 for b in dropout(blocks)]).sum(0)
    >>> bool((kept >= 1).all())
    True
    """

    def __init__(self, p: float = 0.0, generator: torch.Generator | None = None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"subspace dropout p must be in [0, 1); got {p!r}.")
        self.p = float(p)
        self.generator = generator

    def forward(self, blocks: list[torch.Tensor]) -> list[torch.Tensor]:
        if not self.training or self.p == 0.0 or len(blocks) < 2:
            return blocks
        batch, m = blocks[0].shape[0], len(blocks)
        device = blocks[0].device
        uniform = torch.rand(batch, m, generator=self.generator, device="cpu")
        keep = (uniform >= self.p).to(device)
        forced = torch.randint(m, (batch,), generator=self.generator).to(device)
        keep[torch.arange(batch, device=device), forced] = True
        scale = m / keep.sum(1, keepdim=True).to(blocks[0].dtype)
        weights = keep.to(blocks[0].dtype) * scale
        return [block * weights[:, i, None] for i, block in enumerate(blocks)]


def _equal_width(sizes: Sequence[int], aggregation: str) -> int:
    if len(set(sizes)) != 1:
        raise ValueError(
            f"aggregation={aggregation!r} needs subspaces of equal width; got "
            f"widths {list(sizes)}. Use aggregation='concat' instead."
        )
    return int(sizes[0])


class _Blender(nn.Module):
    """What every blender says about itself before it is built.

    :meth:`min_weights` bounds its weights from below and :meth:`min_out_width`
    its output width, from the subspace widths alone; a saved stitcher's
    weights are checked against them before any network is allocated.
    """

    @classmethod
    def min_weights(cls, sizes: Sequence[int]) -> int:
        """A lower bound on the weights of the blender built for ``sizes``."""
        return 0

    @classmethod
    def min_out_width(cls, sizes: Sequence[int]) -> int:
        """A lower bound on the width of the blender's output for ``sizes``."""
        return min(sizes)


class ConcatBlender(_Blender):
    """Concatenate the subspaces: ``[R_1, ..., R_m]``, of width ``sum(sizes)``."""

    @classmethod
    def min_out_width(cls, sizes: Sequence[int]) -> int:
        return sum(sizes)

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        self.out_features = int(sum(sizes))

    def forward(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(blocks, dim=1)


class SumBlender(_Blender):
    """Sum the subspaces: ``sum_i R_i``, of width ``k``."""

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        self.out_features = _equal_width(sizes, "sum")

    def forward(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(blocks, dim=1).sum(1)


class DeepSetBlender(_Blender):
    """A DeepSet: ``sum_i tanh(W_i R_i + b_i)``, one ``k x k`` Linear per subspace."""

    @classmethod
    def min_weights(cls, sizes: Sequence[int]) -> int:
        return sum(size * size for size in sizes)

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        self.out_features = _equal_width(sizes, "mlp_sum")
        self.encoders = nn.ModuleList(
            nn.Sequential(nn.Linear(size, size), nn.Tanh()) for size in sizes
        )

    def forward(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        encoded = [encoder(b) for encoder, b in zip(self.encoders, blocks, strict=True)]
        return torch.stack(encoded, dim=1).sum(1)


class WeightedBlender(_Blender):
    """A weighted sum ``sum_i softmax(w)_i R_i`` with learned logits ``w``."""

    def __init__(self, sizes: Sequence[int]):
        super().__init__()
        self.out_features = _equal_width(sizes, "weighted")
        self.logits = nn.Parameter(torch.zeros(len(sizes)))

    def forward(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        weights = torch.softmax(self.logits, dim=0)
        return torch.einsum("bmk,m->bk", torch.stack(blocks, dim=1), weights)


class AttentionBlender(_Blender):
    """The QKV blender: self-attention across the ``m`` subspace tokens.

    The ``m`` normalised subspaces are stacked as ``m`` tokens of width ``k``;
    learned query, key and value projections of width ``k`` (split into
    ``n_heads`` heads) mix them, and the ``m`` outputs are summed or averaged.
    Attention runs over subspaces, not anchors: the layer learns which invariance
    to rely on.

    By default the blender is built to train stably: a residual path adds each
    token to its attention output, the tokens are layer-normalised before the
    projections, and the query and value projections start at zero, so that the
    blender starts as exactly the sum of the subspaces (:class:`SumBlender`) and
    learns a correction to it. ``residual=False, init="random", pre_norm=False``
    is the plain attention layer of the reference method.

    Parameters
    ----------
    sizes : sequence of int
        Subspace widths; all must be equal to ``k``.
    n_heads : int, default=1
        Number of attention heads; must divide ``k``.
    reduction : {"sum", "mean"}, default="sum"
        How the ``m`` output tokens are combined.
    residual : bool, default=True
        Add each token to its attention output (``t_i + attn(t)_i``).
    init : {"sum", "uniform", "random"}, default="sum"
        ``"sum"``: query and value projections start at zero (needs
        ``residual=True``; the blender starts as the sum of the subspaces).
        ``"uniform"``: only the query projection starts at zero, so every
        attention weight starts at ``1 / m``. ``"random"``: PyTorch's default
        initialisation of Q, K and V.
    pre_norm : bool, default=True
        A LayerNorm over each token before the Q/K/V projections; the residual
        path keeps the un-normalised token.

    Examples
    --------
    >>> import torch
    >>> from sklearn_relrep.nn import AttentionBlender, SubspaceLayerNorm
    >>> blocks = SubspaceLayerNorm([4, 4, 4])(torch.randn(2, 12))
    >>> AttentionBlender([4, 4, 4], n_heads=2)(blocks).shape
    torch.Size([2, 4])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        n_heads: int = 1,
        reduction: str = "sum",
        *,
        residual: bool = True,
        init: str = "sum",
        pre_norm: bool = True,
    ):
        super().__init__()
        width = _equal_width(sizes, "attention")
        if n_heads < 1 or width % n_heads:
            raise ValueError(
                f"n_heads={n_heads} must be a positive divisor of the subspace "
                f"width {width}."
            )
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}.")
        zeroed = {"sum": ("query", "value"), "uniform": ("query",), "random": ()}
        if init not in zeroed:
            raise ValueError(
                f"init must be 'sum', 'uniform' or 'random'; got {init!r}."
            )
        if init == "sum" and not residual:
            raise ValueError(
                "init='sum' needs residual=True: with a zero value projection and "
                "no residual path the blender would output zeros."
            )
        self.out_features, self.n_heads, self.reduction = width, n_heads, reduction
        self.residual = bool(residual)
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width) if pre_norm else None
        for name in zeroed[init]:
            nn.init.zeros_(getattr(self, name).weight)
            nn.init.zeros_(getattr(self, name).bias)

    @classmethod
    def min_weights(cls, sizes: Sequence[int]) -> int:
        """Three ``k x k`` projections (query, key and value)."""
        width = min(sizes)
        return 3 * width * width

    def __setstate__(self, state: dict) -> None:
        # Pickled by version 0.1, whose blender was the reference layer.
        state.setdefault("residual", False)
        super().__setstate__(state)
        self._modules.setdefault("norm", None)

    def forward(self, blocks: list[torch.Tensor]) -> torch.Tensor:
        tokens = torch.stack(blocks, dim=1)
        batch, n_tokens, width = tokens.shape
        normed = self.norm(tokens) if self.norm is not None else tokens

        def heads(projection):
            return (
                projection(normed)
                .view(batch, n_tokens, self.n_heads, width // self.n_heads)
                .transpose(1, 2)
            )

        mixed = F.scaled_dot_product_attention(
            heads(self.query), heads(self.key), heads(self.value)
        )
        mixed = mixed.transpose(1, 2).reshape(batch, n_tokens, width)
        if self.residual:
            mixed = mixed + tokens
        return mixed.sum(1) if self.reduction == "sum" else mixed.mean(1)


AGGREGATIONS = {
    "concat": ConcatBlender,
    "sum": SumBlender,
    "mlp_sum": DeepSetBlender,
    "weighted": WeightedBlender,
    "attention": AttentionBlender,
}


def make_blender(
    aggregation: str,
    sizes: Sequence[int],
    *,
    n_heads: int = 1,
    attention_reduction: str = "sum",
    **attention_options,
) -> nn.Module:
    """Build the blender named ``aggregation`` for subspaces of widths ``sizes``.

    Parameters
    ----------
    aggregation : {"concat", "sum", "mlp_sum", "weighted", "attention"}
        Which blender.
    sizes : sequence of int
        Subspace widths.
    n_heads : int, default=1
        Attention heads (``"attention"`` only).
    attention_reduction : {"sum", "mean"}, default="sum"
        How attention outputs are combined (``"attention"`` only).
    **attention_options
        Further keyword arguments of :class:`AttentionBlender` (``"attention"``
        only).

    Returns
    -------
    torch.nn.Module
        The blender; its ``out_features`` is the width of its output.

    Examples
    --------
    >>> from sklearn_relrep.nn import make_blender
    >>> make_blender("concat", [3, 5]).out_features
    8
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(
            f"Unknown aggregation {aggregation!r}; expected one of "
            f"{sorted(AGGREGATIONS)}."
        )
    if aggregation == "attention":
        return AttentionBlender(
            sizes, n_heads=n_heads, reduction=attention_reduction, **attention_options
        )
    return AGGREGATIONS[aggregation](sizes)
