"""Linear CKA and k-NN Jaccard@10: chunked implementations against naive n x n ones.

Part 1 times both at a size where the naive n x n Gram / similarity matrices fit
and prints the time ratio (naive / chunked) from the same run. Part 2 runs the
chunked metrics on 100k x 768 paired samples, where an n x n float32 matrix alone
would take 37 GiB, and prints their time and peak resident memory. Part 2 runs
first, so that the naive n x n matrices of Part 1 do not set the peak.

Usage::

    python benchmarks/bench_metrics.py [--n-small 8000] [--n-large 100000]
        [--skip-small] [--skip-large]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np

from sklearn_relrep.metrics import knn_jaccard_score, linear_cka

N_NEIGHBORS = 10


def paired_embeddings(n_samples: int, width: int, seed: int = 0):
    """Two float32 spaces of the same samples, generated in chunks to bound memory."""
    rng = np.random.RandomState(seed)
    mixing = rng.normal(size=(width, width)).astype(np.float32) / np.sqrt(width)
    X = np.empty((n_samples, width), dtype=np.float32)
    Y = np.empty((n_samples, width), dtype=np.float32)
    for start in range(0, n_samples, 10_000):
        stop = min(start + 10_000, n_samples)
        X[start:stop] = rng.normal(size=(stop - start, width))
        noise = rng.normal(scale=0.5, size=(stop - start, width))
        Y[start:stop] = np.tanh(X[start:stop] @ mixing) + noise
    return X, Y


def naive_linear_cka(X, Y):
    """CKA from the n x n Gram matrices (Kornblith et al.'s gram formulation)."""

    def centered_gram(Z):
        gram = Z.astype(np.float64) @ Z.T.astype(np.float64)
        means = gram.mean(0)
        gram -= means[:, None]
        gram -= means[None, :]
        gram += means.mean()
        return gram

    gram_x = centered_gram(X)
    gram_y = centered_gram(Y)
    cross = np.vdot(gram_x, gram_y)
    return cross / np.sqrt(np.vdot(gram_x, gram_x) * np.vdot(gram_y, gram_y))


def naive_knn_jaccard(X, Y, k):
    """Jaccard@k from full n x n cosine similarity matrices and argpartition."""

    def neighbors(Z):
        unit = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        similarity = unit @ unit.T
        np.fill_diagonal(similarity, -np.inf)
        return np.argpartition(-similarity, k, axis=1)[:, :k]

    neighbors_x, neighbors_y = neighbors(X), neighbors(Y)
    shared = (neighbors_x[:, :, None] == neighbors_y[:, None, :]).any(2).sum(1)
    return np.mean(shared / (2 * k - shared))


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def peak_rss_gib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def compare_with_naive(n_samples: int, width: int) -> None:
    X, Y = paired_embeddings(n_samples, width)
    print(f"Part 1: {n_samples} x {width} float32, chunked vs naive n x n")
    pairs = [
        ("linear CKA", naive_linear_cka, linear_cka, {"device": "cpu"}),
        (
            f"Jaccard@{N_NEIGHBORS}",
            lambda X, Y: naive_knn_jaccard(X, Y, N_NEIGHBORS),
            knn_jaccard_score,
            {"n_neighbors": N_NEIGHBORS, "device": "cpu"},
        ),
    ]
    for name, naive, chunked, options in pairs:
        naive_value, naive_time = timed(naive, X, Y)
        chunked_value, chunked_time = timed(chunked, X, Y, **options)
        print(
            f"  {name:12s} naive {naive_time:7.2f} s  chunked {chunked_time:7.2f} s  "
            f"ratio naive/chunked {naive_time / chunked_time:5.2f}  "
            f"values {naive_value:.6f} / {chunked_value:.6f}"
        )


def run_large(n_samples: int, width: int) -> None:
    X, Y = paired_embeddings(n_samples, width)
    data_gib = (X.nbytes + Y.nbytes) / 2**30
    print(
        f"Part 2: {n_samples} x {width} float32 ({data_gib:.2f} GiB of input; one "
        f"n x n float32 matrix would be {n_samples**2 * 4 / 2**30:.0f} GiB)"
    )
    print(f"  peak RSS after generating the data: {peak_rss_gib():.2f} GiB")
    value, seconds = timed(linear_cka, X, Y, device="cpu")
    print(
        f"  linear CKA   {seconds:8.1f} s  value {value:.6f}  "
        f"peak RSS so far {peak_rss_gib():.2f} GiB"
    )
    value, seconds = timed(
        knn_jaccard_score, X, Y, n_neighbors=N_NEIGHBORS, device="cpu"
    )
    print(
        f"  Jaccard@{N_NEIGHBORS}   {seconds:8.1f} s  value {value:.6f}  "
        f"peak RSS so far {peak_rss_gib():.2f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-small", type=int, default=8000)
    parser.add_argument("--n-large", type=int, default=100_000)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--skip-small", action="store_true")
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()
    if not args.skip_large:
        run_large(args.n_large, args.width)
    if not args.skip_small:
        compare_with_naive(args.n_small, args.width)


if __name__ == "__main__":
    main()
