"""Benchmark the similarity kernels and regenerate ``benchmarks/RESULTS.md``.

Every time is a ratio to a raw ``torch.matmul(X, anchors.T)`` of the same shape and
dtype, timed in the same run, interleaved with the candidate (baseline, candidate,
baseline, ...); a ratio is the median over rounds, which resists the noise of a
shared machine better than a ratio of best times.

Usage::

    python benchmarks/bench_similarity.py            # full run, writes RESULTS.md
    python benchmarks/bench_similarity.py --quick    # smaller, prints only
    python benchmarks/bench_similarity.py --ratios-only --similarities euclidean \
        --baseline-checkout OLD --repeats 5          # before/after, prints only

``--baseline-checkout OLD`` also times the kernels of another copy of the package
(for example ``git archive COMMIT | tar -x -C OLD``), imported under another name
in the same process, in the same interleaved rounds, so that "before" and
"after" share the machine's state. ``--repeats N`` repeats each measurement and
reports the median with the range (min-max) of the N medians.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy
import torch
from scipy.spatial.distance import cdist

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sklearn_relrep._backend import map_row_chunks  # noqa: E402
from sklearn_relrep.relative._kernels import prepare_similarity  # noqa: E402

SIMILARITIES = ("cosine", "euclidean", "l1", "linf")
TORCH_CDIST_P = {"euclidean": 2.0, "l1": 1.0, "linf": float("inf")}
SCIPY_METRIC = {"euclidean": "euclidean", "l1": "cityblock", "linf": "chebyshev"}
# The estimators' default: at 1024 rows the output block of one chunk stays in
# cache for the element-wise epilogues (normalise, sqrt), which matters in float64.
BATCH_SIZE = 1024
KERNELS_MODULE = Path("sklearn_relrep", "relative", "_kernels.py")
CPU = torch.device("cpu")


def machine_description() -> str:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import numba

        numba_text = (
            f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads)"
        )
    except ImportError:
        numba_text = "numba not installed (torch fallback)"
    return (
        f"- CPU: {cpu}, {os.cpu_count()} logical cores, torch CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}\n"
        f"- Python {platform.python_version()}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), numpy {np.__version__}, "
        f"scipy {scipy.__version__}, {numba_text}\n"
    )


def data(n: int, d: int, k: int, dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((n, d)).astype(dtype),
        rng.standard_normal((k, d)).astype(dtype),
    )


def transform(X: np.ndarray, kernel, k: int) -> np.ndarray:
    return map_row_chunks(X, kernel, n_outputs=k, batch_size=BATCH_SIZE, device=CPU)


def median_ratio(candidate, X: np.ndarray, anchors: np.ndarray, rounds: int) -> float:
    X_t, anchors_t = torch.from_numpy(X), torch.from_numpy(anchors)

    def baseline():
        with torch.inference_mode():
            torch.matmul(X_t, anchors_t.T)

    baseline()
    candidate()
    ratios = []
    for _ in range(rounds):
        start = time.perf_counter()
        baseline()
        middle = time.perf_counter()
        candidate()
        ratios.append((time.perf_counter() - middle) / (middle - start))
    return float(np.median(ratios))


@functools.cache
def baseline_kernels(checkout: Path):
    """``prepare_similarity`` of the package under ``checkout``, under another name."""
    name = "sklearn_relrep_baseline"
    package = checkout / "sklearn_relrep"
    spec = importlib.util.spec_from_file_location(
        name, package / "__init__.py", submodule_search_locations=[str(package)]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.relative._kernels").prepare_similarity


def kernel_for(similarity: str, anchors: np.ndarray, implementation: str):
    anchors_t = torch.from_numpy(anchors)
    if implementation == "sklearn_relrep":
        return prepare_similarity(similarity, anchors_t)
    if isinstance(implementation, Path):
        return baseline_kernels(implementation)(similarity, anchors_t)
    if implementation == "torch.cdist":
        return lambda x: torch.cdist(x, anchors_t, p=TORCH_CDIST_P[similarity])
    return lambda x: torch.from_numpy(
        cdist(x.numpy(), anchors, SCIPY_METRIC[similarity]).astype(anchors.dtype)
    )


def ratio_table(
    n: int,
    d: int,
    k: int,
    rounds: int,
    similarities=SIMILARITIES,
    with_references: bool = True,
    baseline: tuple[Path, str] | None = None,
    repeats: int = 1,
) -> str:
    rows = ["| similarity | implementation | float32 | float64 |", "|---|---|---|---|"]
    cases = [(s, "sklearn_relrep", "sklearn_relrep") for s in similarities]
    if baseline is not None:
        cases += [
            (s, baseline[0], f"sklearn_relrep, {baseline[1]}") for s in similarities
        ]
    if with_references:
        cases += [(s, "torch.cdist", "torch.cdist") for s in TORCH_CDIST_P]
        cases += [(s, "scipy cdist", "scipy cdist") for s in SCIPY_METRIC]
    cells = {case: [] for case in cases}
    for _ in range(repeats):  # each repeat measures every case once, in turn
        for case in cases:
            similarity, implementation, _label = case
            for dtype in (np.float32, np.float64):
                X, anchors = data(n, d, k, dtype)
                kernel = kernel_for(similarity, anchors, implementation)
                reference = implementation in ("torch.cdist", "scipy cdist")
                slow = reference and similarity != "euclidean"
                if slow or implementation == "scipy cdist":
                    X = X[: n // 4]  # slow references: fewer rows, same ratio
                rounds_here = 1 if slow else rounds
                cells[case].append(
                    median_ratio(
                        functools.partial(transform, X, kernel, k),
                        X,
                        anchors,
                        rounds_here,
                    )
                )
    for case in cases:
        similarity, _implementation, label = case
        ratios = np.asarray(cells[case]).reshape(repeats, 2)
        rows.append(
            f"| {similarity} | {label} | "
            + " | ".join(_ratio_cell(ratios[:, i]) for i in range(2))
            + " |"
        )
        print(rows[-1], flush=True)
    return "\n".join(rows) + "\n"


def _ratio_cell(ratios: np.ndarray) -> str:
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}x"
    return f"{np.median(ratios):.2f}x ({ratios.min():.2f}-{ratios.max():.2f})"


def scaling_table(shapes, rounds: int) -> str:
    rows = [
        "| n | d | k | matmul ms | "
        + " | ".join(f"{s} ratio" for s in SIMILARITIES)
        + " | matmul ns per row x anchor |",
        "|---" * (5 + len(SIMILARITIES)) + "|",
    ]
    for n, d, k in shapes:
        X, anchors = data(n, d, k, np.float32)
        X_t, anchors_t = torch.from_numpy(X), torch.from_numpy(anchors)
        start = time.perf_counter()
        for _ in range(3):
            torch.matmul(X_t, anchors_t.T)
        matmul_s = (time.perf_counter() - start) / 3
        cells = []
        for similarity in SIMILARITIES:
            kernel = prepare_similarity(similarity, anchors_t)
            ratio = median_ratio(
                functools.partial(transform, X, kernel, k), X, anchors, rounds
            )
            cells.append(f"{ratio:.2f}x")
        rows.append(
            f"| {n} | {d} | {k} | {matmul_s * 1e3:.1f} | {' | '.join(cells)} | "
            f"{matmul_s / (n * k) * 1e9:.2f} |"
        )
        print(rows[-1], flush=True)
    return "\n".join(rows) + "\n"


PEAK_SCRIPT = """
import sys, time
import numpy as np, torch
sys.path.insert(0, {root!r})
from sklearn_relrep._backend import map_row_chunks
from sklearn_relrep.relative._kernels import prepare_similarity
n, d, k, similarity = {n}, {d}, {k}, {similarity!r}
rng = np.random.default_rng(0)
X = np.empty((n, d), dtype=np.float32)
for start in range(0, n, 10000):
    X[start:start + 10000] = rng.standard_normal((min(10000, n - start), d))
anchors = torch.from_numpy(rng.standard_normal((k, d)).astype(np.float32))
kernel = prepare_similarity(similarity, anchors)
kernel(torch.from_numpy(X[:8]))
def status_mb(field):
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith(field))
    return int(line.split()[1]) / 1024
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
except OSError:
    pass
before = status_mb("VmRSS:")
start = time.perf_counter()
out = map_row_chunks(
    X, kernel, n_outputs=k, batch_size={batch}, device=torch.device("cpu")
)
seconds = time.perf_counter() - start
peak = status_mb("VmHWM:")
print(before, peak, out.nbytes / 2**20, seconds)
"""


def peak_memory_table(n: int, d: int, k: int) -> str:
    rows = [
        f"| similarity | RSS before MB | peak RSS MB | output MB | peak - before - "
        f"output MB | seconds for n={n} |",
        "|---|---|---|---|---|---|",
    ]
    for similarity in SIMILARITIES:
        script = PEAK_SCRIPT.format(
            root=str(ROOT), n=n, d=d, k=k, similarity=similarity, batch=BATCH_SIZE
        )
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        )
        before, peak, output, seconds = map(float, result.stdout.split())
        rows.append(
            f"| {similarity} | {before:.0f} | {peak:.0f} | {output:.0f} | "
            f"{peak - before - output:.0f} | {seconds:.2f} |"
        )
        print(rows[-1], flush=True)
    return "\n".join(rows) + "\n"


STARTUP_SCRIPT = """
import sys, time
start = time.perf_counter()
import torch
sys.path.insert(0, {root!r})
from sklearn_relrep.relative._kernels import prepare_similarity
for similarity, dtype in {calls!r}:
    dtype = getattr(torch, dtype)
    prepare_similarity(similarity, torch.ones(5, 3, dtype=dtype))(
        torch.zeros(4, 3, dtype=dtype))
print(time.perf_counter() - start, time.process_time())
"""
FIRST_CALL = (("l1", "float32"),)
ALL_CALLS = tuple((s, t) for t in ("float32", "float64") for s in ("l1", "linf"))


def startup_table(repeats: int, baseline: tuple[Path, str] | None = None) -> str:
    def run(root: Path, calls, env_update) -> tuple[float, float]:
        script = STARTUP_SCRIPT.format(root=str(root), calls=calls)
        env = {**os.environ, **env_update}
        env.pop("SKLEARN_RELREP_DISABLE_NUMBA", None)
        env.update(env_update)
        result = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        wall, cpu = map(float, result.stdout.split())
        return wall, cpu

    def cold(root: Path, calls) -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as cache_dir:
            return run(root, calls, {"NUMBA_CACHE_DIR": cache_dir})

    rows = [
        "| fresh process: import torch, then prepare and call | code | seconds | "
        "extra over torch path | CPU seconds (all threads) | extra CPU |",
        "|---|---|---|---|---|---|",
    ]
    roots = [(ROOT, "this checkout")] + ([baseline] if baseline else [])
    for root, label in roots:
        torch_only = min(
            run(root, ALL_CALLS, {"SKLEARN_RELREP_DISABLE_NUMBA": "1"})
            for _ in range(repeats)
        )
        with tempfile.TemporaryDirectory() as cache_dir:
            cache = {"NUMBA_CACHE_DIR": cache_dir}
            run(root, ALL_CALLS, cache)
            warm = min(run(root, ALL_CALLS, cache) for _ in range(repeats))
        cases = [
            ("l1, linf x float32, float64: torch path", torch_only),
            ("first l1 float32 call, cold numba cache", cold(root, FIRST_CALL)),
            ("l1, linf x float32, float64, cold numba cache", cold(root, ALL_CALLS)),
            ("l1, linf x float32, float64, warm numba cache", warm),
        ]
        for case, seconds in cases:
            extra = ["-", "-"]
            if seconds is not torch_only:
                extra = [f"{seconds[i] - torch_only[i]:+.2f}" for i in range(2)]
            rows.append(
                f"| {case} | {label} | {seconds[0]:.2f} | {extra[0]} | "
                f"{seconds[1]:.2f} | {extra[1]} |"
            )
            print(rows[-1], flush=True)
    return "\n".join(rows) + "\n"


BOUND_TEXT = {
    "AVX2": (
        "AVX2, 8 float32 or 4 float64 lanes, 16 vector registers. A matmul issues "
        "one FMA per lane-element and reuses each loaded vector across a register "
        "tile, so it is bound by the two FMA pipes: 2 vectors per cycle. l1 needs "
        "sub, and (abs), add: 3 vector operations per element, so counted as "
        "instructions at the FMA's throughput the bound is **3x** a matmul. On "
        "AMD Zen 3/4 (4 vector pipes: 2 FMA/mul, 2 add; logic on any) sub and add "
        "share the 2 add pipes, 1 vector per cycle: **2x**; linf float32 (sub, "
        "and, integer max on the bit patterns) spreads over the 4 pipes, **1.5x**; "
        "linf float64 has no 64-bit integer max in AVX2 (compare + blend, 4 "
        "operations), **2x**. On Intel AVX2 cores (add on ports 0/1, logic also "
        "on 5) l1 is bound at 2x as well. A 2 rows x 4 anchors tile loads 6 "
        "vectors per 8 element-vectors, within the 2 loads per cycle."
    ),
    "AVX512": (
        "AVX-512, 16 float32 or 8 float64 lanes. A matmul is bound by the two "
        "512-bit FMA ports (0+1 fused, 5): 2 vectors per cycle. l1 needs sub, "
        "and (abs), add on the same two ports: 1.5 cycles per vector, **3x** a "
        "matmul (linf: sub, and, integer max, also 3x). LLVM emits 256-bit "
        "vectors by default on these cores (prefer-vector-width=256): then "
        "ports 0/1 do 8 lanes of sub and add per cycle against the matmul's 32 "
        "lanes of FMA, **4x**."
    ),
}


def bound_section(d: int, k: int, rounds: int) -> str:
    """The l1/linf kernels alone against a matmul, one thread, one block."""
    from sklearn_relrep.relative._kernels import _numba_module

    module = _numba_module()
    if module is None:
        return "numba is not installed or disabled: no bound measured.\n"
    capability = torch.backends.cpu.get_cpu_capability()
    text = BOUND_TEXT.get(capability, f"CPU capability {capability}: no bound.")
    rows = [
        f"| one thread, {BATCH_SIZE} rows x {k} anchors x d={d} | float32 | float64 |",
        "|---|---|---|",
    ]
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name in ("l1", "linf"):
            cells = []
            for dtype in (np.float32, np.float64):
                X, anchors = data(BATCH_SIZE, d, k, dtype)
                out = np.empty((BATCH_SIZE, k), dtype=dtype)
                reduce = functools.partial(module.KERNELS[name], X, anchors, out)
                cells.append(f"{median_ratio(reduce, X, anchors, rounds):.2f}x")
            rows.append(f"| {name} numba kernel / matmul | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    finally:
        torch.set_num_threads(previous)
    return f"{text}\n\n" + "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes, fast")
    parser.add_argument("--output", type=Path, default=None, help="markdown file")
    parser.add_argument(
        "--ratios-only",
        action="store_true",
        help="only the ratio table of the kernels (no references, memory, start-up "
        "or scaling), printed",
    )
    parser.add_argument(
        "--similarities", nargs="+", choices=SIMILARITIES, default=list(SIMILARITIES)
    )
    parser.add_argument(
        "--baseline-checkout",
        type=Path,
        default=None,
        help="another copy of the repository whose kernels are timed too",
    )
    parser.add_argument("--baseline-label", default="baseline checkout")
    parser.add_argument(
        "--note", default="", help="a line under the title (e.g. the machine's load)"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="repeat the ratio table's measurements"
    )
    args = parser.parse_args()
    if (
        args.baseline_checkout is not None
        and not (args.baseline_checkout / KERNELS_MODULE).is_file()
    ):
        parser.error(
            f"--baseline-checkout {args.baseline_checkout} holds no {KERNELS_MODULE}"
        )
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    output = args.output
    if output is None and not args.quick:
        output = ROOT / "benchmarks" / "RESULTS.md"
    n, d, k = (4000, 768, 1280) if args.quick else (20000, 768, 1280)
    rounds = 3 if args.quick else 7
    baseline = None
    if args.baseline_checkout is not None:
        baseline = (args.baseline_checkout.resolve(), args.baseline_label)
    table_options = dict(
        similarities=args.similarities,
        baseline=baseline,
        repeats=args.repeats,
    )
    if args.ratios_only:
        print(f"n={n}, d={d}, k={k}, {rounds} rounds, {args.repeats} repeats")
        ratio_table(n, d, k, rounds, with_references=False, **table_options)
        return
    peak_n = 20000 if args.quick else 200000
    began = time.perf_counter()
    sections = [
        "# Similarity kernel benchmarks\n",
        *([f"**{args.note}**\n"] if args.note else []),
        f"Generated by `{shlex.join(['python', *sys.argv])}`; do not edit by hand. "
        "Ratios are times over a raw "
        "`torch.matmul(X, anchors.T)` of the same shape and dtype in the same run "
        f"(median of interleaved rounds), through `map_row_chunks` with "
        f"batch_size={BATCH_SIZE}.\n",
        machine_description(),
        f"\n## Ratio to matmul (n={n}, d={d}, k={k})\n",
        "Slow references (torch.cdist l1/linf, scipy) are timed once on n/4 rows "
        "against a matmul of that shape.\n",
        ratio_table(n, d, k, rounds, **table_options),
        f"\n## Peak memory, float32, n={peak_n}, d={d}, k={k} "
        "(fresh subprocess; peak = VmHWM of /proc/self/status, reset through "
        "/proc/self/clear_refs just before the transform)\n",
        peak_memory_table(peak_n, d, k),
        "\n## Start-up cost of the numba kernels\n",
        startup_table(1 if args.quick else 3, baseline),
        "\n## Bound of l1 and linf against a matmul\n",
        bound_section(d, k, 2 * rounds + 1),
        "\n## Scaling in n, d and k (float32)\n",
    ]
    base = (n // 2, d, k)
    ns = [base[0] // 2, base[0], base[0] * 2, base[0] * 4]
    shapes = [(m, d, k) for m in ns]
    shapes += [(base[0], dd, k) for dd in (64, 256, 1536)]
    shapes += [(base[0], d, kk) for kk in (64, 256, 2560)]
    sections.append(scaling_table(shapes, max(3, rounds // 2)))
    sections.append(f"\nTotal benchmark time: {time.perf_counter() - began:.0f} s.\n")
    text = "\n".join(sections)
    if output is not None:
        output.write_text(text)
        print(f"wrote {output}")


if __name__ == "__main__":
    main()
