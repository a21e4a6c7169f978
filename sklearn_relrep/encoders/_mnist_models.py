"""Small image networks trained from scratch: encoders, heads and decoders.

Images come flattened (``n_pixels`` values of a square image, 784 for MNIST, 64
for the 8x8 digits). Every encoder maps them to a latent vector of
``latent_dim`` values, the space that gets stitched; a classifier adds a linear
head on it, an autoencoder an MLP decoder back to the pixels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "ARCHITECTURES",
    "KINDS",
    "ConvEncoder",
    "EncoderWithHead",
    "MLPEncoder",
    "PixelDecoder",
    "build_model",
    "init_parameters_",
]

ARCHITECTURES = ("cnn", "mlp")
KINDS = ("classifier", "autoencoder")
HIDDEN_WIDTH = 256


def image_side(n_pixels: int) -> int:
    """Side of the square image with ``n_pixels`` pixels."""
    side = math.isqrt(n_pixels)
    if side * side != n_pixels or side < 4:
        raise ValueError(
            f"The CNN needs square images of at least 4x4 pixels; {n_pixels} "
            "pixels per image are not a square of that size."
        )
    return side


class ConvEncoder(nn.Module):
    """Two 3x3 conv + ReLU + 2x2 max-pool blocks (16, 32 channels), then linear."""

    def __init__(self, n_pixels: int, latent_dim: int):
        super().__init__()
        self.side = image_side(n_pixels)
        pooled_side = self.side // 4
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.to_latent = nn.Linear(32 * pooled_side * pooled_side, latent_dim)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        images = pixels.reshape(-1, 1, self.side, self.side)
        return self.to_latent(self.features(images))


class MLPEncoder(nn.Module):
    """``n_pixels -> 256 -> latent_dim`` with a ReLU in between."""

    def __init__(self, n_pixels: int, latent_dim: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_pixels, HIDDEN_WIDTH),
            nn.ReLU(),
            nn.Linear(HIDDEN_WIDTH, latent_dim),
        )

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.layers(pixels)


class PixelDecoder(nn.Module):
    """``latent_dim -> 256 -> n_pixels`` with a ReLU, then a sigmoid to [0, 1]."""

    def __init__(self, latent_dim: int, n_pixels: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(latent_dim, HIDDEN_WIDTH),
            nn.ReLU(),
            nn.Linear(HIDDEN_WIDTH, n_pixels),
            nn.Sigmoid(),
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.layers(latents)


class EncoderWithHead(nn.Module):
    """An encoder followed by a head: a linear classifier or a pixel decoder.

    ``forward`` returns the head's output (logits or reconstructed pixels);
    ``encoder`` alone gives the latent vectors.
    """

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(pixels))


def build_model(
    arch: str, kind: str, *, n_pixels: int, latent_dim: int, n_classes: int
) -> EncoderWithHead:
    """Build an untrained network; its parameters are left uninitialised.

    The modules are created on the ``meta`` device (so that torch's default
    initialisation does not draw from the global RNG) and then given empty CPU
    storage: call :func:`init_parameters_` before use.

    Examples
    --------
    >>> import torch
    >>> model = build_model("cnn", "classifier", n_pixels=64, latent_dim=8,
    ...                     n_classes=10)
    >>> init_parameters_(model, torch.Generator().manual_seed(0))
    >>> model(torch.zeros(3, 64)).shape, model.encoder(torch.zeros(3, 64)).shape
    (torch.Size([3, 10]), torch.Size([3, 8]))
    """
    if arch not in ARCHITECTURES:
        raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}.")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}.")
    encoder_class = ConvEncoder if arch == "cnn" else MLPEncoder
    with torch.device("meta"):
        encoder = encoder_class(n_pixels, latent_dim)
        if kind == "classifier":
            head = nn.Linear(latent_dim, n_classes)
        else:
            head = PixelDecoder(latent_dim, n_pixels)
        model = EncoderWithHead(encoder, head)
    return model.to_empty(device="cpu")


def init_parameters_(model: nn.Module, generator: torch.Generator) -> None:
    """Initialise every linear and conv layer as torch does, drawing from ``generator``.

    That is Kaiming-uniform weights with ``a=sqrt(5)`` and biases uniform in
    ``+-1/sqrt(fan_in)``; the global RNG is not used.
    """
    with torch.no_grad():
        for module in model.modules():
            if not isinstance(module, nn.Linear | nn.Conv2d):
                continue
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
            if module.bias is not None:
                fan_in = module.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in)
                nn.init.uniform_(module.bias, -bound, bound, generator=generator)
