"""GPU check of the similarity kernels; exits with a message when CUDA is absent.

Reports, on one CUDA device, under the same ``map_row_chunks`` chunking as on CPU:

- cosine / euclidean time as a ratio to a raw ``torch.matmul`` of the same shape
  (float32 with TF32 off), and the opt-in speed-ups and their accuracy cost:
  TF32 matmuls (``torch.backends.cuda.matmul.allow_tf32 = True``) and bf16 inputs;
- l1 / linf time as a ratio to ``torch.cdist`` on the GPU (the kernels use it);
- CPU-GPU agreement: max absolute difference to the CPU kernels, float32/float64.

Usage: ``python benchmarks/gpu_check.py [--n 200000] [--d 768] [--k 1280]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn_relrep._backend import map_row_chunks  # noqa: E402
from sklearn_relrep.relative._kernels import prepare_similarity  # noqa: E402

SIMILARITIES = ("cosine", "euclidean", "l1", "linf")


def cuda_time(function, *args, repeats: int = 5) -> float:
    function(*args)
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def on_gpu_transform(x: torch.Tensor, kernel, batch_size: int) -> torch.Tensor:
    """Chunked like map_row_chunks, but the input already lives on the GPU."""
    return torch.cat(
        [kernel(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200000)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--k", type=int, default=1280)
    parser.add_argument("--batch-size", type=int, default=16384)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("CUDA is not available on this machine; nothing to check.")
        return
    cuda = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(cuda)}, torch {torch.__version__}")
    torch.backends.cuda.matmul.allow_tf32 = False
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.d)).astype(np.float32)
    anchors = rng.standard_normal((args.k, args.d)).astype(np.float32)
    x_gpu, anchors_gpu = (
        torch.from_numpy(X).to(cuda),
        torch.from_numpy(anchors).to(cuda),
    )
    matmul = cuda_time(torch.matmul, x_gpu, anchors_gpu.T)
    print(f"float32 matmul (TF32 off): {matmul * 1e3:.1f} ms")

    with torch.inference_mode():
        for similarity in ("cosine", "euclidean"):
            kernel = prepare_similarity(similarity, anchors_gpu)
            exact = on_gpu_transform(x_gpu, kernel, args.batch_size)
            seconds = cuda_time(on_gpu_transform, x_gpu, kernel, args.batch_size)
            print(f"{similarity}: {seconds / matmul:.2f}x matmul (on-GPU input)")
            torch.backends.cuda.matmul.allow_tf32 = True
            seconds = cuda_time(on_gpu_transform, x_gpu, kernel, args.batch_size)
            tf32_error = (
                on_gpu_transform(x_gpu, kernel, args.batch_size) - exact
            ).abs()
            torch.backends.cuda.matmul.allow_tf32 = False
            print(
                f"  opt-in TF32: {seconds / matmul:.2f}x, max abs error "
                f"{tf32_error.max().item():.2e}"
            )
            bf16_kernel = prepare_similarity(similarity, anchors_gpu.bfloat16())
            x_bf16 = x_gpu.bfloat16()
            seconds = cuda_time(on_gpu_transform, x_bf16, bf16_kernel, args.batch_size)
            bf16_error = (
                on_gpu_transform(x_bf16, bf16_kernel, args.batch_size).float() - exact
            ).abs()
            print(
                f"  opt-in bf16 inputs: {seconds / matmul:.2f}x, max abs error "
                f"{bf16_error.max().item():.2e}"
            )
        for similarity, p in (("l1", 1.0), ("linf", float("inf"))):
            kernel = prepare_similarity(similarity, anchors_gpu)
            ours = cuda_time(on_gpu_transform, x_gpu, kernel, args.batch_size)
            cdist = cuda_time(torch.cdist, x_gpu, anchors_gpu, p)
            print(
                f"{similarity}: {ours / cdist:.2f}x unchunked torch.cdist, "
                f"{ours / matmul:.2f}x matmul"
            )

        n_check = min(args.n, 4096)
        for dtype in (np.float32, np.float64):
            X_check, anchors_check = X[:n_check].astype(dtype), anchors.astype(dtype)
            for similarity in SIMILARITIES:
                results = []
                for device in (torch.device("cpu"), cuda):
                    kernel = prepare_similarity(
                        similarity, torch.from_numpy(anchors_check).to(device)
                    )
                    results.append(
                        map_row_chunks(
                            X_check,
                            kernel,
                            n_outputs=args.k,
                            batch_size=1000,
                            device=device,
                        )
                    )
                difference = np.abs(results[0] - results[1]).max()
                print(
                    f"CPU-GPU agreement {np.dtype(dtype).name} {similarity}: "
                    f"max abs difference {difference:.2e}"
                )


if __name__ == "__main__":
    main()
