"""Exact k-NN metrics at scale: time and peak memory against the Gram matmuls.

One command regenerates the committed table ``benchmarks/RESULTS_metrics.md``
(100k x 768; about 9 minutes on 2 quiet cores, 14 with a baseline checkout; run it
under ``flock /tmp/heavy.lock`` on a shared machine)::

    python benchmarks/bench_metrics.py
    python benchmarks/bench_metrics.py --baseline-checkout OLD --baseline-label L
    python benchmarks/bench_metrics.py --n 20000 --output -   # quick, prints only

The committed table was made with ``--baseline-checkout`` pointing at an export
of commit b8a0184 (``git archive b8a0184 | tar -x -C OLD``), the metrics before
the tiled top-k.

``knn_jaccard_score`` needs the neighbours of every sample in each space, so its
floor is the two Gram products ``X @ X.T`` and ``Y @ Y.T``; ``mean_reciprocal_rank``
needs the one cross product ``X @ Y.T``. Each figure is a time divided by the time
of those products, computed in blocks of rows by ``torch.mm`` into a reused buffer,
timed in the same run. Every measurement runs in a fresh subprocess that generates
the data, resets its peak resident set (``/proc/self/clear_refs``) and reports the
peak (``VmHWM``) of the measured call alone, next to the resident set before it
(interpreter, torch and the two input arrays).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# The package next to this script, not whichever copy is installed.
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

N_NEIGHBORS = 10
GRAM_BLOCK_ROWS = 1024
TASKS = ("gram", "cross", "jaccard", "mrr", "jaccard_euclidean", "mrr_euclidean")
DEFAULT_TASKS = ("gram", "cross", "jaccard", "mrr")
DESCRIPTIONS = {
    "gram": "X @ X.T and Y @ Y.T in blocks (baseline)",
    "cross": "X @ Y.T in blocks",
    "jaccard": f"knn_jaccard_score, n_neighbors={N_NEIGHBORS}, cosine",
    "mrr": "mean_reciprocal_rank, cosine",
    "jaccard_euclidean": f"knn_jaccard_score, n_neighbors={N_NEIGHBORS}, euclidean",
    "mrr_euclidean": "mean_reciprocal_rank, euclidean",
}


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


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _blocked_products(queries, keys) -> None:
    import torch

    q, k = torch.from_numpy(queries), torch.from_numpy(keys)
    buffer = torch.empty((GRAM_BLOCK_ROWS, k.shape[0]), dtype=k.dtype)
    for start in range(0, q.shape[0], GRAM_BLOCK_ROWS):
        block = q[start : start + GRAM_BLOCK_ROWS]
        torch.mm(block, k.T, out=buffer[: block.shape[0]])


def _run_task(task: str, X, Y):
    from sklearn_relrep.metrics import knn_jaccard_score, mean_reciprocal_rank

    metric = "euclidean" if task.endswith("euclidean") else "cosine"
    if task == "gram":
        _blocked_products(X, X)
        _blocked_products(Y, Y)
        return None
    if task == "cross":
        _blocked_products(X, Y)
        return None
    if task.startswith("jaccard"):
        return knn_jaccard_score(
            X, Y, n_neighbors=N_NEIGHBORS, metric=metric, device="cpu"
        )
    return mean_reciprocal_rank(X, Y, metric=metric, device="cpu")


def worker(task: str, n_samples: int, width: int) -> None:
    """Measure one task in this (fresh) process and print one JSON line."""
    import torch  # noqa: F401  (imported before the baseline resident set)

    X, Y = paired_embeddings(n_samples, width)
    _run_task(task, X[:2000], Y[:2000])  # warm up threads and allocators
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    value = _run_task(task, X, Y)
    seconds = time.perf_counter() - start
    cpu_seconds = _cpu_seconds() - cpu_start
    record = {
        "task": task,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "value": value,
        "rss_before_mib": before / 1024,
        "peak_rss_mib": _status_kib("VmHWM") / 1024,
    }
    print(json.dumps(record))


def measure(task: str, n_samples: int, width: int, root: Path = REPO_ROOT) -> dict:
    """Run one task in a fresh process that imports the package under ``root``."""
    command = [sys.executable, __file__, "--worker", task]
    command += ["--n", str(n_samples), "--width", str(width)]
    command += ["--package-root", str(root)]
    environment = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        command, capture_output=True, text=True, check=True, env=environment
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _row(label: str, record: dict, gram: dict, cross: dict) -> str:
    value = "-" if record["value"] is None else f"{record['value']:.6f}"
    wall, cpu = record["seconds"], record["cpu_seconds"]
    return (
        f"| {label} | {wall:.1f} | {cpu:.1f} "
        f"| {wall / gram['seconds']:.2f}x / {cpu / gram['cpu_seconds']:.2f}x "
        f"| {wall / cross['seconds']:.2f}x / {cpu / cross['cpu_seconds']:.2f}x "
        f"| {value} | {record['rss_before_mib']:.0f} | {record['peak_rss_mib']:.0f} "
        f"| {record['peak_rss_mib'] - record['rss_before_mib']:.0f} |"
    )


def render(records: dict, baseline: dict, args, seconds_total: float) -> str:
    import torch

    input_mib = 2 * args.n * args.width * 4 / 2**20
    gram, cross = records["gram"], records["cross"]
    lines = [
        "# Exact k-NN metrics at scale",
        "",
        "Generated by `python benchmarks/bench_metrics.py`; do not edit by hand.",
        f"n={args.n}, d={args.width}, float32, device=cpu; one fresh subprocess "
        f"per row; the whole run took {seconds_total / 60:.1f} min; load average "
        f"at the end {os.getloadavg()[0]:.1f} (other sessions share the cores).",
        "",
        f"- CPU: {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} torch threads; torch {torch.__version__}, "
        f"numpy {np.__version__}, Python {platform.python_version()}",
        f"- Input: X and Y, {input_mib:.0f} MiB together. 'RSS before' is the "
        "process after importing torch and generating them; 'peak RSS' is the "
        "high-water mark (VmHWM) during the measured call, reset just before it.",
        "- Ratios, wall / CPU time: over the two Gram products X @ X.T and "
        "Y @ Y.T (the floor of Jaccard), and over the one cross product X @ Y.T "
        "(the floor of MRR). CPU time (user + system of the process) is less "
        "disturbed by other jobs on the machine than wall time.",
        "",
        "| what | wall s | CPU s | / two Gram products | / cross product "
        "| value | RSS before MiB | peak RSS MiB | peak - before MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(DESCRIPTIONS[t], r, gram, cross) for t, r in records.items()]
    lines += [
        _row(f"{DESCRIPTIONS[t]}, {args.baseline_label}", r, gram, cross)
        for t, r in baseline.items()
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument(
        "--tasks", nargs="+", choices=TASKS, default=list(DEFAULT_TASKS)
    )
    parser.add_argument(
        "--output",
        default=str(Path(__file__).with_name("RESULTS_metrics.md")),
        help="where to write the table; '-' prints it only",
    )
    parser.add_argument(
        "--baseline-checkout",
        type=Path,
        help="also time the metrics of another checkout of the package (e.g. "
        "before a change), in the same run",
    )
    parser.add_argument(
        "--baseline-label",
        default="baseline checkout",
        help="how the table names the baseline checkout's rows",
    )
    parser.add_argument("--worker", choices=TASKS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--package-root", default=str(REPO_ROOT), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, args.package_root)
        worker(args.worker, args.n, args.width)
        return
    tasks = ["gram", "cross"] + [t for t in args.tasks if t not in ("gram", "cross")]
    start = time.perf_counter()
    records = {}
    for task in tasks:
        records[task] = measure(task, args.n, args.width)
        print(json.dumps(records[task]), flush=True)
    baseline = {}
    if args.baseline_checkout:
        for task in tasks[2:]:
            baseline[task] = measure(task, args.n, args.width, args.baseline_checkout)
            print(json.dumps(baseline[task]), flush=True)
    seconds_total = time.perf_counter() - start
    table = render(records, baseline, args, seconds_total)
    print(table)
    if args.output != "-":
        Path(args.output).write_text(table)


if __name__ == "__main__":
    main()
