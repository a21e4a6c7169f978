"""``python -m sklearn_relrep EXPERIMENT`` and the ``sklearn-relrep`` console script."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from ._suite import EXPERIMENTS, SIZES, run_suite

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sklearn-relrep",
        description=(
            "Zero-shot latent-space stitching experiments on real encoders and data "
            "(BBC News through two MiniLM encoders; MNIST through CNN and MLP "
            "encoders of several seeds). Writes a Markdown report and PNG figures."
        ),
    )
    parser.add_argument(
        "experiment",
        choices=[*EXPERIMENTS, "all", "quick"],
        help="'all' runs the four experiments at the chosen size; 'quick' runs them "
        "at reduced size.",
    )
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default=None,
        help="preset subset sizes (default: 'full', or 'quick' for quick)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="seeds of anchors and heads (default from the size preset)",
    )
    parser.add_argument("--n-anchors", type=int, default=None, help="anchors per space")
    parser.add_argument(
        "--n-train", type=int, default=None, help="training samples per domain (subset)"
    )
    parser.add_argument(
        "--n-test", type=int, default=None, help="test samples per domain (subset)"
    )
    parser.add_argument(
        "--data",
        choices=["text", "vision", "both"],
        default="both",
        help="which domains the stitching/similarity/finetune experiments use",
    )
    parser.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda'")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("relrep_output"),
        help="folder for report.md and the figures",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="embedding and model cache (default: $SKLEARN_RELREP_CACHE "
        "or ~/.cache/sklearn_relrep)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the experiment runner's command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None. See
        ``python -m sklearn_relrep --help``.

    Returns
    -------
    int
        The exit status, 0 on success.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    size = args.size or ("quick" if args.experiment == "quick" else "full")
    overrides = {
        key: value
        for key, value in dict(
            seeds=args.seeds,
            n_anchors=args.n_anchors,
            n_train=args.n_train,
            n_test=args.n_test,
        ).items()
        if value is not None
    }
    experiments = (
        list(EXPERIMENTS) if args.experiment in ("all", "quick") else [args.experiment]
    )
    start = time.perf_counter()
    report_path, summary = run_suite(
        experiments,
        size=size,
        overrides=overrides,
        data=args.data,
        device=args.device,
        output=args.output,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
        command=shlex.join(["python", "-m", "sklearn_relrep", *argv]),
    )
    print(summary)
    print(f"\nReport: {report_path}  ({time.perf_counter() - start:.0f} s)")
    return 0
