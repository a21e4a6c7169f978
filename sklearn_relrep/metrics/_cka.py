"""Centered kernel alignment (CKA) with linear and RBF kernels, never n x n."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from scipy.spatial.distance import pdist
from sklearn.utils import check_random_state

from .._backend import resolve_device
from .._compat import Interval, validate_params
from ._common import (
    as_tensor,
    binary_exponent,
    centered_cross_products,
    check_distinct_rows,
    check_paired,
    row_blocks,
    row_max_abs,
    rows_per_block,
)

__all__ = ["linear_cka", "rbf_cka"]


def _hsic(
    sum_product: float,
    diag_k: np.ndarray,
    diag_l: np.ndarray,
    row_sums_k: np.ndarray,
    row_sums_l: np.ndarray,
    *,
    debiased: bool,
) -> float:
    """HSIC of two symmetric Gram matrices K and L from O(n) summaries.

    ``sum_product`` is ``sum_ij K_ij L_ij``; ``diag_*`` and ``row_sums_*`` are the
    diagonals and row sums of K and L. The biased estimator is ``tr(KHLH)``; the
    debiased one is the unbiased HSIC of Song et al. (2012). Constant factors that
    cancel in CKA are dropped.
    """
    n = diag_k.shape[0]
    if not debiased:
        return (
            sum_product
            - 2.0 / n * row_sums_k @ row_sums_l
            + row_sums_k.sum() * row_sums_l.sum() / n**2
        )
    off_rows_k = row_sums_k - diag_k
    off_rows_l = row_sums_l - diag_l
    return (
        sum_product
        - diag_k @ diag_l
        + off_rows_k.sum() * off_rows_l.sum() / ((n - 1) * (n - 2))
        - 2.0 / (n - 2) * off_rows_k @ off_rows_l
    )


def _cka(hsic_xy: float, hsic_xx: float, hsic_yy: float, *, debiased: bool) -> float:
    for name, self_similarity in (("X", hsic_xx), ("Y", hsic_yy)):
        if not self_similarity > 0:
            estimator = "debiased" if debiased else "biased"
            raise ValueError(
                f"CKA is undefined: the {estimator} HSIC of {name} with itself is "
                f"{self_similarity:.3g}, not positive. With debiased=True this "
                "happens when there are few samples or few distinct rows; use "
                "more samples or debiased=False."
            )
    lower = -1.0 if debiased else 0.0
    return float(np.clip(hsic_xy / np.sqrt(hsic_xx * hsic_yy), lower, 1.0))


def _check_has_variance(X: np.ndarray, Y: np.ndarray, what: str) -> None:
    check_distinct_rows(X, "X", what)
    check_distinct_rows(Y, "Y", what)


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "debiased": ["boolean"],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, torch.device],
    },
    prefer_skip_nested_validation=True,
)
def linear_cka(
    X, Y, *, debiased: bool = False, batch_size: int | None = None, device="auto"
) -> float:
    """Linear centered kernel alignment between two embeddings of the same samples.

    ``CKA = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` for column-centred
    ``Xc`` and ``Yc`` (Kornblith et al., 2019). It is computed from ``d x d``
    cross-covariances accumulated over row chunks, so memory is O(n d + d^2) and
    no ``n x n`` Gram matrix is built. CKA is invariant to orthogonal maps,
    isotropic scaling and translation of either space, but not to anisotropic
    scaling.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        The samples in the first space.
    Y : array-like of shape (n_samples, n_features_y)
        The same samples, in the same order, in the second space.
    debiased : bool, default=False
        Use the unbiased HSIC estimator (Song et al., 2012), whose value does not
        drift upwards when ``n_samples`` is small relative to the widths. It is
        written with feature-space quantities (``||Xc^T Yc||_F^2`` and the row
        norms of ``Xc`` and ``Yc``) and needs at least 4 samples.
    batch_size : int, default=None
        Rows per chunk; ``None`` keeps a chunk near 2**24 values.
    device : str or torch.device, default="auto"
        Where the matrix products run; ``"auto"`` uses CUDA when present.

    Returns
    -------
    float
        The CKA, in [0, 1], or in [-1, 1] when ``debiased=True``.

    See Also
    --------
    rbf_cka : CKA with a Gaussian kernel.
    svcca : Mean canonical correlation of the principal subspaces.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from sklearn_relrep.metrics import linear_cka
    >>> X = np.random.RandomState(0).normal(size=(200, 8))
    >>> Q = ortho_group.rvs(8, random_state=0)
    >>> round(linear_cka(X, 3 * X @ Q + 1), 6)
    1.0
    >>> round(linear_cka(X, X * np.arange(1, 9)), 2)
    0.79
    """
    X, Y = check_paired(X, Y, min_samples=4 if debiased else 2)
    _check_has_variance(X, Y, "CKA")
    products = centered_cross_products(
        X, Y, batch_size=batch_size, device=resolve_device(device)
    )
    # Centred features have zero Gram row sums.
    zeros = np.zeros(X.shape[0])
    norms_x, norms_y = products.squared_norms_x, products.squared_norms_y
    hsic_xy = _hsic(
        np.sum(products.xty**2), norms_x, norms_y, zeros, zeros, debiased=debiased
    )
    hsic_xx = _hsic(
        np.sum(products.xtx**2), norms_x, norms_x, zeros, zeros, debiased=debiased
    )
    hsic_yy = _hsic(
        np.sum(products.yty**2), norms_y, norms_y, zeros, zeros, debiased=debiased
    )
    return _cka(hsic_xy, hsic_xx, hsic_yy, debiased=debiased)


def _centred_unit_scale(X: np.ndarray, device) -> tuple[torch.Tensor, int]:
    """``X`` in float64, times ``2**-exponent`` (exact) and centred."""
    exponent = int(binary_exponent(row_max_abs(X).max()))
    scaled = as_tensor(X, device).double() * 2.0**-exponent
    return scaled - scaled.mean(0), exponent


def _median_squared_distance(x: torch.Tensor, sample: np.ndarray) -> float:
    rows = x[torch.from_numpy(sample).to(x.device)].cpu().numpy()
    median = float(np.median(pdist(rows, "sqeuclidean")))
    if median <= 0:
        raise ValueError(
            "The median-heuristic bandwidth is 0 because most sampled rows coincide;"
            " pass an explicit bandwidth."
        )
    return median


def _structureless_kernel(name: str, bandwidth, *, too_small: bool) -> ValueError:
    what, fix = (
        ("underflows to 0", "increase") if too_small else ("rounds to 1", "decrease")
    )
    return ValueError(
        f"CKA is undefined: with bandwidth={bandwidth!r}, every kernel value "
        f"between distinct samples of {name} {what}, so its kernel has no "
        f"structure; {fix} bandwidth, or pass bandwidth=None for the median "
        "heuristic."
    )


def _gamma(sigma_squared: float, name: str, bandwidth) -> float:
    """``1 / (2 sigma^2)``; a bandwidth that underflows to 0 is rejected."""
    if sigma_squared == 0:
        raise _structureless_kernel(name, bandwidth, too_small=True)
    return 0.5 / sigma_squared


def _check_kernel_has_structure(
    row_sums: np.ndarray, sum_of_squares: float, name: str, bandwidth
) -> None:
    """Raise when every kernel value between distinct samples is 0, or all are 1."""
    n_samples = row_sums.shape[0]
    if np.sum(row_sums) == n_samples:
        raise _structureless_kernel(name, bandwidth, too_small=True)
    if sum_of_squares == n_samples**2:
        raise _structureless_kernel(name, bandwidth, too_small=False)


def _rbf_block(
    rows: torch.Tensor,
    points: torch.Tensor,
    squared_norms: torch.Tensor,
    start: int,
    gamma: float,
) -> torch.Tensor:
    """``exp(-gamma ||r - p||^2)`` for a block of rows starting at row ``start``."""
    stop = start + rows.shape[0]
    squared = squared_norms[start:stop, None] + squared_norms[None, :]
    squared = squared.addmm_(rows, points.T, alpha=-2.0).clamp_(min=0.0)
    squared[:, start:stop].fill_diagonal_(0.0)
    return squared.mul_(-gamma).exp_()


@validate_params(
    {
        "X": ["array-like"],
        "Y": ["array-like"],
        "bandwidth": [Interval(Real, 0, None, closed="neither"), None],
        "bandwidth_scale": [Interval(Real, 0, None, closed="neither")],
        "debiased": ["boolean"],
        "median_samples": [Interval(Integral, 2, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def rbf_cka(
    X,
    Y,
    *,
    bandwidth: float | None = None,
    bandwidth_scale: float = 1.0,
    debiased: bool = False,
    median_samples: int = 2000,
    batch_size: int | None = None,
    device="auto",
    random_state=None,
) -> float:
    """CKA with the Gaussian kernel ``exp(-||x - x'||^2 / (2 sigma^2))``.

    The Gram matrices are streamed in blocks of rows: each block's kernel values
    feed running sums, from which HSIC is assembled, so memory is O(n d) plus one
    ``batch_size x n`` block. Time is O(n^2 d); use it for tens of thousands of
    samples, not millions.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
        The samples in the first space.
    Y : array-like of shape (n_samples, n_features_y)
        The same samples, in the same order, in the second space.
    bandwidth : float, default=None
        ``sigma``, shared by both spaces. ``None`` uses the median heuristic in
        each space separately: ``sigma`` is the square root of the median squared
        distance between distinct samples.
    bandwidth_scale : float, default=1.0
        Multiplies the median-heuristic ``sigma`` (Kornblith et al. report 0.2 to
        0.8 as well as 1). Ignored when ``bandwidth`` is given.
    debiased : bool, default=False
        Use the unbiased HSIC estimator (needs at least 4 samples).
    median_samples : int, default=2000
        The median is taken over all pairs of at most this many samples, drawn
        at random (the same rows in both spaces) when ``n_samples`` is larger.
    batch_size : int, default=None
        Rows per kernel block; ``None`` keeps a block near 2**24 values.
    device : str or torch.device, default="auto"
        Where the kernel blocks are computed; ``"auto"`` uses CUDA when present.
    random_state : int, RandomState instance or None, default=None
        Draws the rows of the median heuristic when ``n_samples >
        median_samples``.

    Returns
    -------
    float
        The CKA, in [0, 1], or in [-1, 1] when ``debiased=True``.

    See Also
    --------
    linear_cka : The linear-kernel CKA, for any number of samples.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.stats import ortho_group
    >>> from sklearn_relrep.metrics import rbf_cka
    >>> X = np.random.RandomState(0).normal(size=(100, 5))
    >>> Q = ortho_group.rvs(5, random_state=0)
    >>> round(rbf_cka(X, 2 * X @ Q), 6)
    1.0
    >>> noise = np.random.RandomState(1).normal(size=(100, 5))
    >>> rbf_cka(X, np.tanh(X)) > rbf_cka(X, noise)
    True
    """
    X, Y = check_paired(X, Y, min_samples=4 if debiased else 2)
    _check_has_variance(X, Y, "CKA")
    n_samples = X.shape[0]
    device = resolve_device(device)
    # Exact powers of two bring each space near 1 (an explicit bandwidth, in the
    # data's units, follows), and centring keeps the expansion of the squared
    # distances from cancelling: the kernel values do not change.
    x, exponent_x = _centred_unit_scale(X, device)
    y, exponent_y = _centred_unit_scale(Y, device)
    if bandwidth is None:
        rng = check_random_state(random_state)
        if n_samples > median_samples:
            sample = np.sort(rng.choice(n_samples, median_samples, replace=False))
        else:
            sample = np.arange(n_samples)
        sigma_x_squared = bandwidth_scale**2 * _median_squared_distance(x, sample)
        sigma_y_squared = bandwidth_scale**2 * _median_squared_distance(y, sample)
    else:
        sigma_x_squared = float(np.ldexp(bandwidth, -exponent_x)) ** 2
        sigma_y_squared = float(np.ldexp(bandwidth, -exponent_y)) ** 2
    norms_x, norms_y = x.square().sum(1), y.square().sum(1)
    sums = np.zeros(3)
    row_sums_k, row_sums_l = np.empty(n_samples), np.empty(n_samples)
    block_rows = rows_per_block(batch_size, n_samples)
    gamma_x = _gamma(sigma_x_squared, "X", bandwidth)
    gamma_y = _gamma(sigma_y_squared, "Y", bandwidth)
    with torch.inference_mode():
        for start, stop in row_blocks(n_samples, block_rows):
            k = _rbf_block(x[start:stop], x, norms_x, start, gamma_x)
            ell = _rbf_block(y[start:stop], y, norms_y, start, gamma_y)
            sums += [
                (k * ell).sum().item(),
                k.square().sum().item(),
                ell.square().sum().item(),
            ]
            row_sums_k[start:stop] = k.sum(1).cpu().numpy()
            row_sums_l[start:stop] = ell.sum(1).cpu().numpy()
    _check_kernel_has_structure(row_sums_k, sums[1], "X", bandwidth)
    _check_kernel_has_structure(row_sums_l, sums[2], "Y", bandwidth)
    ones = np.ones(n_samples)
    hsic_xy = _hsic(sums[0], ones, ones, row_sums_k, row_sums_l, debiased=debiased)
    hsic_xx = _hsic(sums[1], ones, ones, row_sums_k, row_sums_k, debiased=debiased)
    hsic_yy = _hsic(sums[2], ones, ones, row_sums_l, row_sums_l, debiased=debiased)
    return _cka(hsic_xy, hsic_xx, hsic_yy, debiased=debiased)
