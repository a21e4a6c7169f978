"""Any torch module as an encoder: its output, or a named layer's, per sample."""

from __future__ import annotations

import contextlib
import copy
from numbers import Integral

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._compat import fit_context, validate_data, validate_estimator_params
from ..datasets._cache import fingerprint
from ._base import DEVICE_CONSTRAINT, ENCODER_PARAMETER_CONSTRAINTS, _EmbeddingEncoder

__all__ = ["TorchModuleEncoder", "module_fingerprint", "run_module"]


def module_fingerprint(module: torch.nn.Module) -> str:
    """A digest of a module's class, structure and every weight and buffer."""
    parts = [type(module).__qualname__, repr(module)]
    for name, tensor in module.state_dict().items():
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        parts += [name, str(tensor.dtype), str(tuple(tensor.shape))]
        parts.append(flat.view(torch.uint8).numpy())
    return fingerprint(*parts)


def _module_device(module: torch.nn.Module) -> torch.device | None:
    for tensor in [*module.parameters(), *module.buffers()]:
        return tensor.device
    return None


def _input_dtype(module: torch.nn.Module) -> torch.dtype:
    for tensor in module.parameters():
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


@contextlib.contextmanager
def _evaluation_mode(module: torch.nn.Module):
    """``module.eval()`` in a block; every submodule's mode is restored after."""
    modes = [(sub, sub.training) for sub in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for sub, training in modes:
            sub.train(training)


def _layer(module: torch.nn.Module, layer: str) -> torch.nn.Module:
    try:
        return module.get_submodule(layer)
    except AttributeError:
        names = [name for name, _ in module.named_modules() if name]
        shown = ", ".join(repr(n) for n in names[:20]) + (", ..." * (len(names) > 20))
        raise ValueError(
            f"layer={layer!r} is not a submodule of {type(module).__name__}; its "
            f"submodules are: {shown or 'none'}."
        ) from None


def _first_tensor(output, where: str) -> torch.Tensor:
    if isinstance(output, tuple | list) and output:
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise TypeError(
            f"{where} returned {type(output).__name__}, not a tensor (or a tuple "
            "whose first element is one); pass layer= to take a tensor inside it."
        )
    return output


def run_module(
    module: torch.nn.Module,
    batch: torch.Tensor,
    device: torch.device,
    layer: str | None = None,
) -> np.ndarray:
    """The flattened output of ``module`` (or of its submodule ``layer``) on a batch.

    The module runs in evaluation mode, without gradients, on ``device``; a module
    that lives elsewhere runs as a copy, so the caller's module is left as it was.
    """
    where = _module_device(module)
    if where is not None and where != device:
        module = copy.deepcopy(module).to(device)
    captured = []
    hook = None
    if layer is not None:
        hook = _layer(module, layer).register_forward_hook(
            lambda _module, _inputs, output: captured.append(output)
        )
    try:
        with _evaluation_mode(module), torch.inference_mode():
            output = module(batch.to(device=device, dtype=_input_dtype(module)))
    finally:
        if hook is not None:
            hook.remove()
    where = f"layer {layer!r}" if layer is not None else "the module"
    tensor = _first_tensor(captured[-1] if layer is not None else output, where)
    return tensor.detach().float().cpu().reshape(len(batch), -1).numpy()


class TorchModuleEncoder(_EmbeddingEncoder):
    """Embed arrays with a torch module of your own: its output or a layer's.

    Each batch of ``X`` becomes a tensor that goes through ``module``; the
    embedding is the module's output, or the output of its submodule ``layer``
    (taken with a forward hook), flattened to one row per sample.

    Parameters
    ----------
    module : torch.nn.Module, default=None
        The model, trained or not. None is the identity (each sample flattened),
        a placeholder.
    layer : str, default=None
        The dotted name of a submodule (as in ``module.named_modules()``) whose
        output is the embedding, e.g. ``"avgpool"`` for a torchvision ResNet's
        pooled penultimate features. None takes the module's output.
    batch_size : int, default=32
        Samples per forward pass.
    cache_dir : str or path-like, default=None
        Cache folder; None uses ``$SKLEARN_RELREP_CACHE`` or the user cache
        folder. Embeddings go to its ``embeddings/`` subfolder, keyed by a hash
        of the inputs, the module's class, structure and weights, and ``layer``.
    use_cache : bool, default=True
        Read and write the on-disk cache.
    progress : bool, default=True
        Show a tqdm progress bar when encoding more than one batch.
    device : str or torch.device, default="auto"
        Where the module runs; ``"auto"`` picks CUDA when present. Resolved at
        each call and never written back; a module that lives on another device
        runs as a copy.

    Attributes
    ----------
    n_features_in_ : int
        The size of the second axis of ``X`` at :meth:`fit`.
    n_features_out_ : int
        The width of the embeddings (found by running one sample at :meth:`fit`).

    Notes
    -----
    ``X`` may have more than two axes (images as ``(n, channels, height,
    width)``); it is converted to the dtype of the module's weights. The module
    runs in evaluation mode and without gradients, and its modes are restored
    afterwards.

    See Also
    --------
    ImageModelEncoder : A torchvision or timm image model with its preprocessing.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sklearn_relrep.encoders import TorchModuleEncoder
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
    ...                           torch.nn.Linear(8, 2))
    >>> X = np.random.RandomState(0).normal(size=(5, 4))
    >>> encoder = TorchModuleEncoder(net, layer="1", use_cache=False, device="cpu")
    >>> encoder.fit_transform(X).shape
    (5, 8)
    """

    _parameter_constraints: dict = {
        **ENCODER_PARAMETER_CONSTRAINTS,
        "module": [torch.nn.Module, None],
        "layer": [str, None],
        "device": DEVICE_CONSTRAINT,
    }

    def __init__(
        self,
        module=None,
        *,
        layer: str | None = None,
        batch_size: Integral = 32,
        cache_dir=None,
        use_cache: bool = True,
        progress: bool = True,
        device="auto",
    ):
        self.module = module
        self.layer = layer
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.use_cache = use_cache
        self.progress = progress
        self.device = device

    @property
    def _n_features_out(self) -> int:
        return self.n_features_out_

    def _expected_width(self) -> int:
        return self.n_features_out_

    def _module(self) -> torch.nn.Module:
        return torch.nn.Identity() if self.module is None else self.module

    def _cache_identity(self) -> list[str]:
        return [
            type(self).__name__,
            module_fingerprint(self._module()),
            str(self.layer),
        ]

    def _cache_name(self) -> str:
        return type(self._module()).__name__

    def _encode_batch(self, batch: np.ndarray) -> np.ndarray:
        tensor = torch.tensor(np.asarray(batch))
        return run_module(self._module(), tensor, self._device(), self.layer)

    def _check(self, X, *, reset: bool) -> np.ndarray:
        return validate_data(
            self, X, reset=reset, allow_nd=True, dtype=[np.float32, np.float64]
        )

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check ``X`` and find the width of the embeddings from its first sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs of the module.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The encoder.
        """
        X = self._check(X, reset=True)
        self.n_features_out_ = int(self._encode_batch(X[:1]).shape[1])
        return self

    def transform(self, X) -> np.ndarray:
        """Embed ``X``, reading the on-disk cache when it has it.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Inputs of the module.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out_), float32
            The embeddings, in the order of ``X``.
        """
        check_is_fitted(self)
        validate_estimator_params(self)
        X = self._check(X, reset=False)
        path = self._embeddings_path(X) if self.use_cache else None
        return self._embed(X, path)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
