"""Dask benchmarks: a lazy transform at scale, worker memory, fresh-worker start-up.

1. **Lazy transform.** ``n_rows x 384`` float32 embeddings (generated lazily per
   block by ``dask.array``'s random generator with a fixed seed), 512 anchors,
   cosine; the output is reduced lazily to its column means, so the rows never
   sit in one process. Timed through a 2-worker process ``LocalCluster`` (one
   thread each) and, as the baseline, in-process: the same graph, block by
   block, on dask's synchronous scheduler with torch's default threads.
2. **Peak memory per worker** (``ru_maxrss``) during that transform, against
   the worker's resident memory once warm (imports done) and the size of one
   output chunk. Target: peak - warm <= output chunk + 300 MB.
3. **Fresh-worker start-up**: a first float32 l1 + linf transform in a fresh
   ``python -c`` process and in a fresh ``LocalCluster`` worker, with the numba
   cache cold (empty ``$SKLEARN_RELREP_CACHE``) and then warm.

Run under the shared lock and write the table::

    flock /tmp/heavy.lock python benchmarks/bench_dask.py \
        --out benchmarks/RESULTS_dask.md
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

N_FEATURES = 384
N_ANCHORS = 512
FIRST_TRANSFORM = textwrap.dedent(
    """
    import time
    start = time.perf_counter()
    import numpy as np
    from sklearn_relrep import RelativeProjector
    X = np.random.RandomState(0).normal(size=(1000, 384)).astype(np.float32)
    imported = time.perf_counter()
    for similarity in ("l1", "linf"):
        RelativeProjector(similarity, n_anchors=64, random_state=0).fit(X).transform(X)
    print(imported - start, time.perf_counter() - imported)
    """
)


def _lazy_input(n_rows: int, chunk_rows: int):
    import dask.array as da

    rng = da.random.default_rng(0)
    return rng.standard_normal(
        (n_rows, N_FEATURES), chunks=(chunk_rows, N_FEATURES), dtype=np.float32
    )


def _fitted_projector(X):
    from sklearn_relrep import RelativeProjector

    return RelativeProjector("cosine", n_anchors=N_ANCHORS, random_state=0).fit(X)


def _worker_memory():
    import resource

    import psutil

    return {
        "rss": psutil.Process().memory_info().rss,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def _warm_worker():
    import sklearn_relrep  # noqa: F401
    from sklearn_relrep import RelativeProjector

    X = np.zeros((4, N_FEATURES), dtype=np.float32)
    RelativeProjector(n_anchors=2, random_state=0).fit(X).transform(X)
    return _worker_memory()


def lazy_transform(n_rows: int, chunk_rows: int) -> dict:
    import dask
    from dask.distributed import Client, LocalCluster

    X = _lazy_input(n_rows, chunk_rows)
    start = time.perf_counter()
    projector = _fitted_projector(X)
    fit_seconds = time.perf_counter() - start
    column_means = projector.transform(X).mean(axis=0)

    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(2)
        warm = client.run(_warm_worker)
        start = time.perf_counter()
        on_cluster = column_means.compute()
        cluster_seconds = time.perf_counter() - start
        peaks = client.run(_worker_memory)

    start = time.perf_counter()
    with dask.config.set(scheduler="synchronous"):
        in_process = column_means.compute()
    process_seconds = time.perf_counter() - start
    np.testing.assert_allclose(on_cluster, in_process, rtol=1e-5, atol=1e-6)
    return {
        "fit_seconds": fit_seconds,
        "cluster_seconds": cluster_seconds,
        "process_seconds": process_seconds,
        "warm": list(warm.values()),
        "peaks": list(peaks.values()),
        "output_chunk_bytes": chunk_rows * N_ANCHORS * 4,
        "input_chunk_bytes": chunk_rows * N_FEATURES * 4,
    }


def _fresh_environment(cache_dir: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["SKLEARN_RELREP_CACHE"] = cache_dir
    return env


def fresh_process(cache_dir: str) -> tuple[float, float, float]:
    start = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-c", FIRST_TRANSFORM],
        env=_fresh_environment(cache_dir),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = time.perf_counter() - start
    _, first_transform = (float(v) for v in output.split())
    return total, total - first_transform, first_transform


def _first_transform_on_worker():
    namespace: dict = {}
    exec(FIRST_TRANSFORM.replace("print(", "result = ("), namespace)
    return namespace["result"]


def fresh_worker(cache_dir: str) -> tuple[float, float, float]:
    from dask.distributed import Client, LocalCluster

    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=1,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            env={"SKLEARN_RELREP_CACHE": cache_dir, "NUMBA_CACHE_DIR": ""},
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(1)
        _, first_transform = client.submit(
            _first_transform_on_worker, pure=False
        ).result()
        total = time.perf_counter() - start
    return total, total - first_transform, first_transform


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:.0f} MB"


def report(transform: dict, startup: dict, args) -> str:
    ratio = transform["cluster_seconds"] / transform["process_seconds"]
    out_chunk = transform["output_chunk_bytes"]
    lines = [
        "# Dask benchmarks",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, shared with other "
        "sessions; run under `flock /tmp/heavy.lock`.",
        "",
        "Command: `flock /tmp/heavy.lock python benchmarks/bench_dask.py "
        f"--n-rows {args.n_rows} --chunk-rows {args.chunk_rows} --out "
        "benchmarks/RESULTS_dask.md`",
        "",
        f"## Lazy transform: {args.n_rows:,} x {N_FEATURES} float32, "
        f"{N_ANCHORS} anchors, cosine",
        "",
        "Input generated lazily per block (`da.random.default_rng(0)`, "
        f"{args.chunk_rows:,}-row chunks); output reduced lazily to its column "
        "means. The baseline is the same graph computed block by block in this "
        "process (synchronous scheduler, torch's default threads).",
        "",
        "| | seconds | ratio to in-process |",
        "|---|---:|---:|",
        "| fit on the cluster (draws 512 indices, computes those rows; "
        "generating the blocks that hold them) | "
        f"{transform['fit_seconds']:.1f} | |",
        f"| in-process, chunk by chunk | {transform['process_seconds']:.1f} | 1.00 |",
        f"| 2-worker LocalCluster (processes, 1 thread each) | "
        f"{transform['cluster_seconds']:.1f} | {ratio:.2f} |",
        "",
        "## Peak memory per worker",
        "",
        f"Output chunk: {_mb(out_chunk)}; input chunk: "
        f"{_mb(transform['input_chunk_bytes'])}. Target: peak - warm <= output "
        "chunk + 300 MB.",
        "",
        "| worker | warm RSS (imports done) | peak RSS | peak - warm | target met |",
        "|---|---:|---:|---:|---|",
    ]
    for i, (warm, peak) in enumerate(
        zip(transform["warm"], transform["peaks"], strict=True)
    ):
        growth = peak["maxrss"] - warm["rss"]
        lines.append(
            f"| {i} | {_mb(warm['rss'])} | {_mb(peak['maxrss'])} | {_mb(growth)} | "
            f"{'yes' if growth <= out_chunk + 300 * 2**20 else 'no'} |"
        )
    lines += [
        "",
        "## Fresh-worker start-up (first float32 l1 + linf transform)",
        "",
        "Numba cache in a new `$SKLEARN_RELREP_CACHE` (cold), then the same "
        "folder again (warm); `NUMBA_CACHE_DIR` unset. *start + imports* is the "
        "process (or cluster and worker) start and the imports; *first l1 + "
        "linf* the two first transforms, numba compile or cache load included.",
        "",
        "| where | cache | total seconds | start + imports | first l1 + linf |",
        "|---|---|---:|---:|---:|",
    ]
    for (where, cache), (total, before, first) in startup.items():
        lines.append(
            f"| {where} | {cache} | {total:.1f} | {before:.1f} | {first:.2f} |"
        )
    cold = startup["fresh `python -c`", "cold"][2]
    warm = startup["fresh `python -c`", "warm"][2]
    lines += [
        "",
        f"A warm cache makes the first l1 + linf transform {cold / warm:.0f}x "
        "faster in a fresh process.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    startup = {}
    with tempfile.TemporaryDirectory() as process_cache:
        startup["fresh `python -c`", "cold"] = fresh_process(process_cache)
        startup["fresh `python -c`", "warm"] = fresh_process(process_cache)
    with tempfile.TemporaryDirectory() as worker_cache:
        startup["fresh LocalCluster worker", "cold"] = fresh_worker(worker_cache)
        startup["fresh LocalCluster worker", "warm"] = fresh_worker(worker_cache)
    print(startup, flush=True)
    transform = lazy_transform(args.n_rows, args.chunk_rows)
    text = report(transform, startup, args)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)


if __name__ == "__main__":
    main()
