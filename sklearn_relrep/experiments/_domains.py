"""Latent spaces of real encoders on real data, for the experiments."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Domain", "Space"]


@dataclass(frozen=True)
class Space:
    """One encoder's embeddings of a domain's train and test samples."""

    name: str
    train: np.ndarray
    test: np.ndarray


@dataclass
class Domain:
    """Paired latent spaces: row ``i`` of every space is the same input sample.

    Parameters
    ----------
    name : str
        E.g. ``"text (BBC News)"``.
    spaces : dict of str to Space
        The encoders' embeddings.
    y_train, y_test : ndarray
        Labels (classification) or pixels (reconstruction) of the samples.
    task : {"classification", "regression"}
        What the stitched head predicts.
    """

    name: str
    y_train: np.ndarray
    y_test: np.ndarray
    task: str = "classification"
    spaces: dict[str, Space] = field(default_factory=dict)

    def add(self, space: Space) -> None:
        for split, y in (("train", self.y_train), ("test", self.y_test)):
            if getattr(space, split).shape[0] != y.shape[0]:
                raise ValueError(
                    f"space {space.name!r} has a misaligned {split} split."
                )
        self.spaces[space.name] = space
