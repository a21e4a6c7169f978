"""The skorch side of the stitchers: the net that trains a StitchingNetwork.

:class:`StitchingNet` sits between the estimators of
:mod:`sklearn_relrep.stitching` and skorch: a :class:`skorch.NeuralNet` whose
loss is weighted per sample. Its batches come from
:mod:`sklearn_relrep._torch_training`, which never touches torch's global
random number generator.
"""

from __future__ import annotations

from collections.abc import Mapping

from skorch import NeuralNet
from skorch.utils import to_tensor

__all__ = ["StitchingNet"]


class StitchingNet(NeuralNet):
    """A :class:`skorch.NeuralNet` whose loss is a per-sample weighted mean.

    ``X`` is a tensor, or a dict ``{"X": samples, "sample_weight": weights}``;
    the module only ever sees the samples. The criterion is built with
    ``reduction="none"`` and must return one loss per sample (or per sample and
    output, averaged over the outputs); the net then takes the mean of the
    losses times the weights. A criterion that returns a single number is
    accepted only without weights. :meth:`predict` gives class indices for
    classification, so that scoring callbacks such as
    ``EpochScoring("accuracy")`` work.
    """

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):
            x = x["X"]
        return super().infer(x, **fit_params)

    def predict(self, X):
        """What skorch's scoring callbacks compare with the training targets.

        For classification the index of the largest output, since the targets
        the net trains on are class indices; for regression the outputs. The
        estimators predict without it.
        """
        outputs = self.predict_proba(X)
        if getattr(self, "module__task", None) == "classification":
            return outputs.argmax(axis=1)
        return outputs

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        losses = self.criterion_(y_pred, y_true)
        weights = X.get("sample_weight") if isinstance(X, Mapping) else None
        if losses.ndim == 0:
            if weights is not None:
                raise ValueError(
                    f"The criterion {type(self.criterion_).__name__} returned one "
                    "number for the whole batch, so sample weights cannot be "
                    "applied; use a criterion that accepts reduction='none'."
                )
            return losses
        losses = losses.reshape(len(y_pred), -1).mean(1)
        if weights is None:
            return losses.mean()
        weights = to_tensor(weights, device=self.device).to(losses.dtype)
        return (losses * weights).mean()
