"""Encoders that produce the latent spaces to stitch.

Any local model (a transformers or sentence-transformers text model, a
torchvision or timm image model, a torch module), the two packaged MiniLM text
models, and the MNIST nets trained here.
"""

from ._images import ImageModelEncoder
from ._mnist_training import MNISTEncoder, train_mnist_encoder
from ._text import MiniLML3Encoder, MiniLML6Encoder
from ._text_models import SentenceTransformerEncoder, TransformersTextEncoder
from ._torch_module import TorchModuleEncoder

__all__ = [
    "ImageModelEncoder",
    "MNISTEncoder",
    "MiniLML3Encoder",
    "MiniLML6Encoder",
    "SentenceTransformerEncoder",
    "TorchModuleEncoder",
    "TransformersTextEncoder",
    "train_mnist_encoder",
]
