"""``python -m sklearn_relrep EXPERIMENT`` and the ``sklearn-relrep`` console script.

Parsing and checking the arguments, and every ``--help``, import neither torch nor
scikit-learn: the experiments are imported only once all the options are known
to be good, so that a mistake costs a one-line error, not minutes of work.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from ._settings import (
    EXPERIMENT_HELP,
    EXPERIMENTS,
    MEASURED_MINUTES,
    MEASURED_ON,
    SIZES,
    check_device_name,
    check_folders,
    check_run,
    settings_for,
)

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
Zero-shot latent-space stitching experiments on real encoders and data: BBC News
through two MiniLM text encoders, MNIST through CNN and MLP encoders of several
seeds. Writes a Markdown (and reStructuredText) report with PNG figures, and
prints the result tables."""

EPILOG = """\
First time? Run the quick suite first, "{{prog}} all --size quick" ({quick}
minutes, encoding and training included), then the full one, "{{prog}} all"
(about {full} minutes from an empty cache on {measured_on}). Encoded texts and
trained encoders are cached, so later runs are faster.

"{{prog}} EXPERIMENT --help" describes each experiment and its options.""".format(
    quick=MEASURED_MINUTES["quick"],
    full=MEASURED_MINUTES["full"],
    measured_on=MEASURED_ON,
)

ALL_HELP = (
    "Runs the four experiments in order (similarity, finetune, reconstruction, "
    "stitching) and writes one report.",
    f"about {MEASURED_MINUTES['full']} minutes at --size full ({MEASURED_ON}) and "
    f"{MEASURED_MINUTES['quick']} minutes at --size quick, from an empty cache, "
    "encoding and training included",
)


class _ParagraphFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description or epilog on its own."""

    def _fill_text(self, text, width, indent):
        paragraphs = text.split("\n\n")
        return "\n\n".join(
            super(_ParagraphFormatter, self)._fill_text(p, width, indent)
            for p in paragraphs
        )


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _non_negative_int(text: str) -> int:
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; use 0 or more")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive; use 1 or more")
    return value


def _n_jobs(text: str) -> int:
    value = _integer(text)
    # The command line's runs go to joblib's local processes, one per job.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = cores or os.cpu_count() or 1
    if value == 0 or abs(value) > cores:
        raise argparse.ArgumentTypeError(
            f"{value} is not a number of parallel runs on this machine's {cores} "
            f"CPU core(s); use 1 to {cores}, or -1 (one per core) down to -{cores}"
        )
    return value


def _device(text: str) -> str:
    try:
        return check_device_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _folder(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a folder")
    return Path(text)


def _options() -> argparse.ArgumentParser:
    """The options every experiment takes (a parent parser)."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--size",
        choices=list(SIZES),
        default="full",
        help="preset subset sizes, seeds and epochs: 'full' (default) for the "
        "reported results, 'quick' for a first look, 'smoke' for a check",
    )
    options.add_argument(
        "--seeds",
        type=_non_negative_int,
        nargs="+",
        default=None,
        metavar="SEED",
        help="seeds of anchors and heads (default from --size)",
    )
    options.add_argument(
        "--n-anchors",
        type=_positive_int,
        default=None,
        metavar="N",
        help="anchors per space, at most the training samples (default from --size)",
    )
    options.add_argument(
        "--n-train",
        type=_positive_int,
        default=None,
        metavar="N",
        help="training samples per domain; BBC News has at most 1699, MNIST 50000 "
        "(default from --size)",
    )
    options.add_argument(
        "--n-test",
        type=_positive_int,
        default=None,
        metavar="N",
        help="test samples per domain; BBC News has at most 425, MNIST 10000 "
        "(default from --size)",
    )
    options.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=None,
        metavar="N",
        help="parallel stitching runs through joblib, at most one per CPU core "
        "(default -1: one per core); inside joblib.parallel_backend('dask'), "
        "say, they go to that backend",
    )
    options.add_argument(
        "--device",
        type=_device,
        default="auto",
        help="'auto' (CUDA when present, default), 'cpu', 'cuda' or 'cuda:N'; "
        "used by the text encoder MiniLM-L6, the MNIST training, the relative "
        "projections and the stitchers (MiniLM-L3 runs on the CPU, via ONNX)",
    )
    options.add_argument(
        "--output",
        type=_folder,
        default=Path("relrep_output"),
        help="folder for report.md, report.rst and the figures (default: "
        "relrep_output); files of an earlier run that this one does not make "
        "are removed, other files are left alone",
    )
    options.add_argument(
        "--cache-dir",
        type=_folder,
        default=None,
        help="embedding and model cache (default: $SKLEARN_RELREP_CACHE or "
        "~/.cache/sklearn_relrep)",
    )
    options.add_argument(
        "--no-progress",
        action="store_true",
        help="hide the progress bars (the one line per stage stays)",
    )
    return options


def _data_option() -> argparse.ArgumentParser:
    option = argparse.ArgumentParser(add_help=False)
    option.add_argument(
        "--data",
        choices=["text", "vision", "both"],
        default="both",
        help="which domains to use (default: both)",
    )
    return option


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser, with one subcommand per experiment and ``all``.

    Parameters
    ----------
    prog : str or None, default=None
        The program's name in messages; None takes it from ``sys.argv[0]``.

    Returns
    -------
    argparse.ArgumentParser
        The parser; its subcommands are in ``parser.subcommands``.
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG.format(prog=prog or os.path.basename(sys.argv[0])),
        formatter_class=_ParagraphFormatter,
    )
    subparsers = parser.add_subparsers(
        dest="experiment", required=True, metavar="EXPERIMENT", title="experiments"
    )
    options, data = _options(), _data_option()
    parser.subcommands = {}
    for name, (description, duration) in [*EXPERIMENT_HELP.items(), ("all", ALL_HELP)]:
        parents = [options] if name == "reconstruction" else [options, data]
        parser.subcommands[name] = subparsers.add_parser(
            name,
            parents=parents,
            help=description.split(":")[0].split(".")[0],
            description=f"{description}\n\nExpected duration: {duration}.",
            formatter_class=_ParagraphFormatter,
        )
    return parser


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Run the experiment runner's command line.

    Every option is checked before any work starts; a bad one ends the program
    with a one-line message and exit status 2.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None. See
        ``python -m sklearn_relrep --help``.
    prog : str or None, default=None
        How the program was invoked, for messages and the report's "reproduce
        with" line; None takes the name of ``sys.argv[0]``.

    Returns
    -------
    int
        The exit status, 0 on success.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    prog = prog or os.path.basename(sys.argv[0]) or "sklearn-relrep"
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    subcommand = parser.subcommands[args.experiment]
    experiments = list(EXPERIMENTS) if args.experiment == "all" else [args.experiment]
    data = getattr(args, "data", "both")
    overrides = {
        key: value
        for key, value in dict(
            seeds=args.seeds,
            n_anchors=args.n_anchors,
            n_train=args.n_train,
            n_test=args.n_test,
            n_jobs=args.n_jobs,
        ).items()
        if value is not None
    }
    try:
        settings = settings_for(args.size, overrides)
        check_run(experiments, settings, data=data, device=args.device)
        check_folders(args.output, args.cache_dir)
    except ValueError as error:
        subcommand.error(str(error))

    from ._suite import run_suite

    start = time.perf_counter()
    report_path, summary = run_suite(
        experiments,
        size=args.size,
        overrides=overrides,
        data=data,
        device=args.device,
        output=args.output,
        cache_dir=args.cache_dir,
        progress=not args.no_progress,
        command=shlex.join([*shlex.split(prog), *argv]),
    )
    print(summary)
    print(f"\nReport: {report_path}  ({time.perf_counter() - start:.0f} s)")
    return 0
