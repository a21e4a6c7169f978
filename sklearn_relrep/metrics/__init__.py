"""Similarity of two latent spaces, measured on paired samples.

Every function takes ``X`` and ``Y``: the same samples, in the same order,
embedded in two spaces whose widths may differ (except where coordinates are
compared directly: :func:`mean_reciprocal_rank` and
:func:`mean_cosine_similarity`). Higher is more similar for all of them.
"""

from ._cka import linear_cka, rbf_cka
from ._neighbors import knn_jaccard_score, mean_reciprocal_rank
from ._paired import mean_cosine_similarity, pairwise_distance_correlation, svcca

__all__ = [
    "knn_jaccard_score",
    "linear_cka",
    "mean_cosine_similarity",
    "mean_reciprocal_rank",
    "pairwise_distance_correlation",
    "rbf_cka",
    "svcca",
]
