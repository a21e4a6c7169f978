"""Encoders that produce the latent spaces to stitch: pretrained text, MNIST images."""

from ._mnist_training import MNISTEncoder, train_mnist_encoder
from ._text import MiniLML3Encoder, MiniLML6Encoder

__all__ = ["MNISTEncoder", "MiniLML3Encoder", "MiniLML6Encoder", "train_mnist_encoder"]
