"""The one place where estimators meet torch: devices, dtypes and chunking.

Estimators describe *what* to compute on one block of rows as a function of a
torch tensor; :func:`map_row_chunks` decides *how*: on which device, in which
chunks, and into which preallocated output. No estimator loops over chunks.

Inputs may be numpy arrays or torch tensors. A numpy input gives a numpy output
computed on the requested device; a torch tensor input gives a torch tensor on
the tensor's own device (scikit-learn's array API convention).

Half-precision tensors (``torch.float16`` and ``torch.bfloat16``, which numpy
cannot hold) are upcast to ``float32`` wherever they come in; the package
computes in float32 or float64 only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import sklearn
import torch

__all__ = [
    "array_api_dispatch",
    "as_numpy",
    "is_torch_tensor",
    "map_row_chunks",
    "resolve_device",
    "tensor_from_numpy",
    "to_tensor",
    "upcast_half",
]

_DEVICE_TYPES = ("cpu", "cuda")
_HALF_PRECISION = (torch.float16, torch.bfloat16)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn a user-facing ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device, default="auto"
        ``"auto"`` picks CUDA when it is available and the CPU otherwise;
        ``"cpu"``, ``"cuda"`` and ``"cuda:N"`` name a device.

    Returns
    -------
    torch.device
        The resolved device.

    Raises
    ------
    ValueError
        If ``device`` is not a CPU or CUDA device string.
    RuntimeError
        If a CUDA device is requested on a machine without one.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"Unknown device {device!r}: {exc}. Use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type not in _DEVICE_TYPES:
        raise ValueError(
            f"device={device!r} is not supported; use 'auto', 'cpu', 'cuda' or "
            "'cuda:N'."
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu' or device='auto'."
        )
    return resolved


def is_torch_tensor(X) -> bool:
    """Whether ``X`` is a torch tensor."""
    return isinstance(X, torch.Tensor)


def array_api_dispatch() -> bool:
    """Whether scikit-learn's ``array_api_dispatch`` is switched on."""
    return bool(sklearn.get_config().get("array_api_dispatch", False))


def upcast_half(X):
    """A float16 or bfloat16 tensor as float32; anything else unchanged."""
    if is_torch_tensor(X) and X.dtype in _HALF_PRECISION:
        return X.float()
    return X


def as_numpy(X):
    """``X`` itself, or a torch tensor as a numpy array (detached, on the CPU).

    Transformers are not differentiable: a tensor that requires grad is
    detached, never passed to torch's ``.numpy()`` (which would raise).
    Half-precision tensors become float32 arrays (see :func:`upcast_half`).
    """
    if is_torch_tensor(X):
        return upcast_half(X.detach()).cpu().numpy()
    return X


def tensor_from_numpy(array: np.ndarray) -> torch.Tensor:
    """A CPU tensor of ``array``'s dtype, sharing its memory when it is writable.

    A read-only array (a pandas copy-on-write view, a memory map) is copied
    first: torch cannot protect read-only memory, and warns when given it.
    """
    array = np.ascontiguousarray(array)
    if not array.flags.writeable:
        array = array.copy()
    return torch.from_numpy(array)


def to_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """Move a numpy array to ``device`` without changing its dtype."""
    return tensor_from_numpy(array).to(device)


def map_row_chunks(
    X: np.ndarray | torch.Tensor,
    block_function: Callable[[torch.Tensor], torch.Tensor],
    *,
    n_outputs: int,
    batch_size: int,
    device: torch.device,
) -> np.ndarray | torch.Tensor:
    """Apply ``block_function`` to row chunks of ``X`` and gather the results.

    Memory stays bounded by the output plus one chunk: each chunk of at most
    ``batch_size`` rows is copied to ``device``, mapped, and written into a
    preallocated output of the dtype of ``X``.

    Parameters
    ----------
    X : ndarray or torch.Tensor of shape (n_samples, n_features)
        Input rows. A tensor is computed on its own device (``device`` is then
        ignored) and gives a tensor.
    block_function : callable
        Maps a tensor of shape ``(b, n_features)`` to one of shape
        ``(b, n_outputs)``.
    n_outputs : int
        Width of the output.
    batch_size : int
        Rows per chunk.
    device : torch.device
        Where the computation runs for a numpy ``X``.

    Returns
    -------
    ndarray or torch.Tensor of shape (n_samples, n_outputs)
        The gathered output, with the dtype (and, for a tensor, the device) of
        ``X``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> X = np.arange(6, dtype=np.float32).reshape(3, 2)
    >>> map_row_chunks(X, lambda x: x.sum(1, keepdim=True), n_outputs=1,
    ...                batch_size=2, device=torch.device("cpu")).ravel()
    array([1., 5., 9.], dtype=float32)
    """
    tensor_input = is_torch_tensor(X)
    if tensor_input:
        out = torch.empty((X.shape[0], n_outputs), dtype=X.dtype, device=X.device)
    else:
        out = np.empty((X.shape[0], n_outputs), dtype=X.dtype)
    with torch.inference_mode():
        for start in range(0, X.shape[0], batch_size):
            stop = min(start + batch_size, X.shape[0])
            if tensor_input:
                out[start:stop] = block_function(X[start:stop].detach())
            else:
                block = block_function(to_tensor(X[start:stop], device))
                out[start:stop] = block.cpu().numpy()
    return out
