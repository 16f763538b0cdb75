"""Ranking metrics on held-out interactions, and the splits that hold them out.

- :mod:`.ranking`: recall@k, precision@k, NDCG@k, hit rate@k and MAP@k of top-N lists
  (such as :meth:`~bayesfm.BayesianFMRegressor.recommend`'s ``items``) against the held-out
  relevant items of every user;
- :mod:`.splits`: leave-one-out, the per-user time split and the per-user random split.
"""

from bayesfm.metrics.ranking import (
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
    relevance_matrix,
)
from bayesfm.metrics.splits import leave_one_out, per_user_split, per_user_time_split

__all__ = [
    "hit_rate_at_k",
    "leave_one_out",
    "map_at_k",
    "ndcg_at_k",
    "per_user_split",
    "per_user_time_split",
    "precision_at_k",
    "ranking_report",
    "recall_at_k",
    "relevance_matrix",
]
