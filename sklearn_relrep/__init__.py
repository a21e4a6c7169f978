"""Relative representations and products of invariances for latent-space stitching."""

from ._layout import SubspaceArray
from ._product import InvariantProductSpace
from ._projector import RelativeProjector

__all__ = ["InvariantProductSpace", "RelativeProjector", "SubspaceArray"]

__version__ = "0.1.0"
