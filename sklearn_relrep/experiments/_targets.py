"""Issue 10's targets for the attention blender, checked on the runner's records."""

from __future__ import annotations

import pandas as pd

from ._methods import SINGLE_SIMILARITIES

__all__ = ["attention_targets"]

ATTENTION, CONCAT = "product/attention", "product/concat"


def _per_pair(records: pd.DataFrame, metric: str) -> pd.DataFrame:
    cross = records[records["train"] != records["test"]].dropna(subset=[metric])
    return cross.groupby(["method", "pair"])[metric].agg(["mean", "std"])


def attention_targets(records: pd.DataFrame, metric: str = "accuracy") -> str:
    """Say whether the attention blender meets its targets against the singles.

    Accuracy: within 0.005 of the best single similarity on the mean over
    ordered cross pairs and on the worst pair, with a per-pair standard
    deviation over seeds at most 1.5 times concat's. MSE: at most 1.2 times
    the best single similarity's mean.
    """
    per_pair = _per_pair(records, metric)
    methods = per_pair.index.get_level_values("method")
    singles = sorted({m for m in methods if m.split("/")[0] in SINGLE_SIMILARITIES})
    if ATTENTION not in methods or not singles:
        return ""
    mean = per_pair["mean"].groupby("method").mean()
    if metric == "mse":
        best = mean[singles].idxmin()
        ratio = mean[ATTENTION] / mean[best]
        verdict = "meets" if ratio <= 1.2 else "does NOT meet"
        return (
            f"Attention's mean MSE is {ratio:.2f}x the best single similarity's "
            f"({best}); it {verdict} the target of at most 1.2x."
        )
    worst = per_pair["mean"].groupby("method").min()
    spread = per_pair["std"].groupby("method").mean()
    best_mean, best_worst = mean[singles].idxmax(), worst[singles].idxmax()
    checks = {
        f"mean {mean[ATTENTION]:.3f} against {best_mean} {mean[best_mean]:.3f}": (
            mean[ATTENTION] >= mean[best_mean] - 0.005
        ),
        f"worst pair {worst[ATTENTION]:.3f} against {best_worst} "
        f"{worst[best_worst]:.3f}": worst[ATTENTION] >= worst[best_worst] - 0.005,
    }
    if CONCAT in spread.index:
        ratio = spread[ATTENTION] / spread[CONCAT]
        checks[f"std over seeds {ratio:.2f}x concat's"] = ratio <= 1.5
    return "Attention blender targets (within 0.005 of the best single; std <= " + (
        "1.5x concat): "
        + "; ".join(
            f"{text}: {'met' if passed else 'NOT met'}"
            for text, passed in checks.items()
        )
        + "."
    )
