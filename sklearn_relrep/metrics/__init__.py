"""Similarity of two latent spaces, measured on paired samples.

Every function takes ``X`` and ``Y``: the same samples, in the same order,
embedded in two spaces whose widths may differ (except where coordinates are
compared directly: :func:`mean_reciprocal_rank` and
:func:`mean_cosine_similarity`). Higher is more similar for all of them.
:func:`pairwise_space_similarity` computes one of them over every pair of K
spaces, in parallel through joblib.

Degenerate input
----------------
One policy holds for every metric: **a result is either a finite number that
means what the metric says, or a** ``ValueError`` **that names the space and
the cause.** No metric returns NaN, and none returns a perfect score for
spaces without structure. In detail:

- Magnitude is never degenerate. Each space is rescaled by a power of two
  before anything is computed (an exact operation), and the Euclidean
  neighbourhoods are centred, so any finite float32 or float64 input, from
  1e-30 to 1e30 or 1e-300 to 1e300, gives the result of the same data near 1.
  All metrics are invariant to isotropic scaling, so nothing else changes.
- A space whose rows are all identical has nothing to compare: every metric
  raises ``ValueError`` ("all n rows of X are identical").
- A cosine is undefined for an all-zero row, so the cosine-based metrics
  (:func:`mean_cosine_similarity`, the cosine neighbourhoods and
  retrieval, and the cosine distance correlation) raise ``ValueError`` for
  one; neighbourhoods and retrieval also raise when all rows are parallel.
- Ties are not degenerate: :func:`knn_jaccard_score` and
  :func:`mean_reciprocal_rank` resolve them in expectation over a random order
  of the tied candidates, so undetermined neighbourhoods score near chance.
- A statistic that cannot be formed from valid data raises ``ValueError``
  with the fix: all sampled distances equal
  (:func:`pairwise_distance_correlation`), a non-positive debiased HSIC
  (``debiased=True`` with few samples), or an explicit ``bandwidth`` of
  :func:`rbf_cka` for which every kernel value is 0 or 1.
"""

from ._cka import linear_cka, rbf_cka
from ._neighbors import knn_jaccard_score, mean_reciprocal_rank
from ._paired import mean_cosine_similarity, pairwise_distance_correlation, svcca
from ._pairwise import pairwise_space_similarity

__all__ = [
    "knn_jaccard_score",
    "linear_cka",
    "mean_cosine_similarity",
    "mean_reciprocal_rank",
    "pairwise_distance_correlation",
    "pairwise_space_similarity",
    "rbf_cka",
    "svcca",
]
