"""Epoch time of StitchingClassifier against a hand-written torch loop.

Both train the same :class:`~sklearn_relrep.nn.StitchingNetwork` on the same
data with the same batch size and optimizer (Adam). The hand-written loop is the
baseline: shuffle with ``randperm``, slice tensors, forward, loss, backward,
step. The StitchingClassifier time is its whole ``fit`` (validation, skorch
initialisation included) divided by the number of epochs. Prints the ratio;
the target is at most 1.25. The best of
``--repeats`` runs is kept, which damps noise from other processes.

Run: ``python benchmarks/bench_training.py [--samples N] [--epochs E]``.
"""

import argparse
import time

import numpy as np
import torch

from sklearn_relrep import StitchingClassifier
from sklearn_relrep.nn import StitchingNetwork


def hand_written_epochs(X, y, params, epochs, seed=0):
    torch.manual_seed(seed)
    sizes = [X.shape[1] // params["subspaces"]] * params["subspaces"]
    module = StitchingNetwork(
        sizes,
        int(y.max()) + 1,
        aggregation=params["aggregation"],
        hidden_sizes=params["hidden_sizes"],
    )
    optimizer = torch.optim.Adam(module.parameters(), lr=params["lr"])
    criterion = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(seed)
    batch_size = params["batch_size"]
    start = time.perf_counter()
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(X_t), generator=generator)
        for first in range(0, len(X_t), batch_size):
            rows = order[first : first + batch_size]
            optimizer.zero_grad()
            loss = criterion(module(X_t[rows]), y_t[rows])
            loss.backward()
            optimizer.step()
    return (time.perf_counter() - start) / epochs


def estimator_epochs(X, y, params, epochs, seed=0):
    model = StitchingClassifier(
        max_epochs=epochs, device="cpu", random_state=seed, **params
    )
    start = time.perf_counter()
    model.fit(X, y)
    return (time.perf_counter() - start) / epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--anchors", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    X = rng.normal(size=(args.samples, 4 * args.anchors)).astype(np.float32)
    y = rng.randint(10, size=args.samples).astype(np.int64)
    torch.set_num_threads(torch.get_num_threads())
    for aggregation in ("concat", "attention"):
        for batch_size in (32, 128):
            params = dict(
                subspaces=4,
                aggregation=aggregation,
                hidden_sizes=(128,),
                lr=1e-3,
                batch_size=batch_size,
            )
            hand, skorch_path = [], []
            for repeat in range(args.repeats):
                hand.append(hand_written_epochs(X, y, params, args.epochs, repeat))
                skorch_path.append(estimator_epochs(X, y, params, args.epochs, repeat))
            baseline, ours = min(hand), min(skorch_path)
            print(
                f"aggregation={aggregation:9s} batch_size={batch_size:4d}  "
                f"hand loop {baseline * 1e3:8.1f} ms/epoch  "
                f"StitchingClassifier {ours * 1e3:8.1f} ms/epoch  "
                f"ratio {ours / baseline:.3f}"
            )


if __name__ == "__main__":
    main()
