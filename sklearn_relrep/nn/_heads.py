"""Decoders that read a blended relative representation, and the full network."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._blenders import AGGREGATIONS, SubspaceDropout, SubspaceLayerNorm, make_blender

__all__ = [
    "ACTIVATIONS",
    "ClassificationHead",
    "MLPHead",
    "RegressionHead",
    "StitchingNetwork",
]

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class MLPHead(nn.Module):
    """An MLP: ``(Linear -> activation -> dropout) * len(hidden_sizes) -> Linear``.

    Parameters
    ----------
    in_features : int
        Input width.
    out_features : int
        Output width.
    hidden_sizes : sequence of int, default=(128,)
        Width of each hidden layer; empty for a linear head.
    activation : {"relu", "gelu", "tanh", "silu"}, default="relu"
        Non-linearity after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from sklearn_relrep.nn import MLPHead
    >>> MLPHead(6, 3, hidden_sizes=(8, 4))(torch.randn(2, 6)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden_sizes: Sequence[int] = (128,),
        activation: str = "relu",
        dropout: float = 0.0,
    ):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Unknown activation {activation!r}; expected one of "
                f"{sorted(ACTIVATIONS)}."
            )
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    @classmethod
    def min_weights(
        cls, in_features: int, out_features: int, hidden_sizes: Sequence[int] = (128,)
    ) -> int:
        """A lower bound on the head's weights: its matrices, without biases."""
        chain = [in_features, *hidden_sizes, out_features]
        return sum(a * b for a, b in zip(chain[:-1], chain[1:], strict=True))


class ClassificationHead(MLPHead):
    """An :class:`MLPHead` returning one logit per class (for cross-entropy)."""


class RegressionHead(MLPHead):
    """An :class:`MLPHead` returning one value per target (for the squared error)."""


class StitchingNetwork(nn.Module):
    """Per-subspace LayerNorm, then a blender, then a head.

    The parts are the attributes ``layer_norm``, ``subspace_dropout`` (no
    parameters), ``blender`` and ``head``, so that fine-tuning can freeze any of
    them by name.

    Parameters
    ----------
    sizes : sequence of int
        Widths of the consecutive input subspaces.
    n_outputs : int
        Classes (logits) or regression targets.
    task : {"classification", "regression"}, default="classification"
        Which head.
    aggregation : str, default="concat"
        See :func:`~sklearn_relrep.nn.make_blender`.
    n_heads : int, default=1
        Attention heads.
    attention_reduction : {"sum", "mean"}, default="sum"
        Reduction of the attention tokens.
    attention_residual, attention_init, attention_pre_norm
        ``residual``, ``init`` and ``pre_norm`` of
        :class:`~sklearn_relrep.nn.AttentionBlender` (defaults ``True``,
        ``"sum"``, ``True``); the stitchers take them as
        ``module__attention_residual`` and so on.
    hidden_sizes, activation, dropout
        See :class:`MLPHead`.
    subspace_dropout : float, default=0.0
        See :class:`SubspaceDropout`; applied between the LayerNorm and the
        blender, in training only.

    Examples
    --------
    >>> import torch
    >>> from sklearn_relrep.nn import StitchingNetwork
    >>> net = StitchingNetwork([4, 4], 3, aggregation="attention", hidden_sizes=(8,))
    >>> net(torch.randn(5, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        sizes: Sequence[int],
        n_outputs: int,
        *,
        task: str = "classification",
        aggregation: str = "concat",
        n_heads: int = 1,
        attention_reduction: str = "sum",
        attention_residual: bool = True,
        attention_init: str = "sum",
        attention_pre_norm: bool = True,
        hidden_sizes: Sequence[int] = (128,),
        activation: str = "relu",
        dropout: float = 0.0,
        subspace_dropout: float = 0.0,
    ):
        super().__init__()
        if task not in ("classification", "regression"):
            raise ValueError(
                f"task must be 'classification' or 'regression'; got {task!r}."
            )
        self.layer_norm = SubspaceLayerNorm(sizes)
        self.subspace_dropout = SubspaceDropout(subspace_dropout)
        attention_options = {}
        if aggregation == "attention":
            attention_options = dict(
                residual=attention_residual,
                init=attention_init,
                pre_norm=attention_pre_norm,
            )
        self.blender = make_blender(
            aggregation,
            sizes,
            n_heads=n_heads,
            attention_reduction=attention_reduction,
            **attention_options,
        )
        head = ClassificationHead if task == "classification" else RegressionHead
        self.head = head(
            self.blender.out_features, n_outputs, hidden_sizes, activation, dropout
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blender(self.subspace_dropout(self.layer_norm(x))))

    @classmethod
    def min_weights(
        cls,
        sizes: Sequence[int],
        n_outputs: int,
        *,
        aggregation: str = "concat",
        hidden_sizes: Sequence[int] = (128,),
    ) -> int:
        """A lower bound on the weights of the network these arguments build.

        The sum of its parts' bounds (LayerNorm, blender, head), computed from
        the arguments alone, without building anything; with Python ints it
        cannot overflow.

        Examples
        --------
        >>> from sklearn_relrep.nn import StitchingNetwork
        >>> bound = StitchingNetwork.min_weights([4, 4], 3, hidden_sizes=(8,))
        >>> network = StitchingNetwork([4, 4], 3, hidden_sizes=(8,))
        >>> bound <= sum(p.numel() for p in network.parameters())
        True
        """
        if aggregation not in AGGREGATIONS:
            raise ValueError(
                f"Unknown aggregation {aggregation!r}; expected one of "
                f"{sorted(AGGREGATIONS)}."
            )
        blender = AGGREGATIONS[aggregation]
        return (
            SubspaceLayerNorm.min_weights(sizes)
            + blender.min_weights(sizes)
            + MLPHead.min_weights(blender.min_out_width(sizes), n_outputs, hidden_sizes)
        )
