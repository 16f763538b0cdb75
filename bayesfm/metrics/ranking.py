"""Top-k ranking metrics of recommendation lists against held-out relevant items.

Every metric takes ``recommended``, an int array ``(n_users, >= k)`` of item ids best first
(``-1`` marks an empty place, as ``recommend`` leaves them), and ``relevant``, the held-out
items of each user: a boolean (sparse or dense) matrix ``(n_users, n_items)`` or a sequence
of item-id collections. Users without a relevant item are left out of the mean (their
recall is undefined); each function returns the mean over the other users. Definitions,
with ``hits_j = 1`` when the item at rank ``j`` (from 1) is relevant and ``R`` the user's
relevant set:

- precision@k = ``sum_{j<=k} hits_j / k``;
- recall@k = ``sum_{j<=k} hits_j / |R|``;
- hit rate@k = ``1`` if any of the first ``k`` is relevant (with one held-out item, as in
  leave-one-out, it equals recall@k);
- NDCG@k = ``DCG / IDCG`` with ``DCG = sum_{j<=k} hits_j / log2(j + 1)`` and ``IDCG`` the DCG
  of ``min(k, |R|)`` hits in the first places (binary relevance; scikit-learn's
  ``ndcg_score`` for a ranking without ties);
- MAP@k = the mean over users of ``AP@k = sum_{j<=k} hits_j * precision@j / min(k, |R|)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["hit_rate_at_k", "map_at_k", "ndcg_at_k", "precision_at_k", "ranking_report",
           "recall_at_k", "relevance_matrix"]


def relevance_matrix(users: Any, items: Any, shape: tuple[int, int]) -> sp.csr_matrix:
    """Boolean ``(n_users, n_items)`` matrix with ``True`` at every ``(users[j], items[j])``.

    Examples
    --------
    >>> relevance_matrix([0, 0, 1], [2, 0, 1], (2, 3)).toarray().tolist()
    [[True, False, True], [False, True, False]]
    """
    u, i = np.asarray(users, np.int64), np.asarray(items, np.int64)
    m = sp.csr_matrix((np.ones(u.size, bool), (u, i)), shape=shape)
    m.sum_duplicates()
    return m


def _hits(recommended: Any, relevant: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``hits (n_users, k)`` and ``|R| (n_users,)`` of the users with a relevant item."""
    rec = np.asarray(recommended)
    if rec.ndim != 2 or not np.issubdtype(rec.dtype, np.integer):
        raise ValueError("recommended must be an int array of shape (n_users, n)")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if rec.shape[1] < k:
        raise ValueError(f"k={k}, but recommended holds only {rec.shape[1]} items per user")
    rec = rec[:, :k]
    if sp.issparse(relevant) or isinstance(relevant, np.ndarray) and relevant.dtype == bool:
        rel = sp.csr_matrix(relevant, dtype=bool)
        if rel.shape[0] != rec.shape[0]:
            raise ValueError(f"relevant has {rel.shape[0]} users, recommended {rec.shape[0]}")
        sizes = np.diff(rel.indptr)
        safe = np.clip(rec, 0, rel.shape[1] - 1)
        hits = np.asarray(rel[np.arange(rec.shape[0])[:, None], safe].todense()) & (rec >= 0)
    else:
        sets = [set(np.asarray(list(r), np.int64).tolist()) for r in relevant]
        if len(sets) != rec.shape[0]:
            raise ValueError(f"relevant has {len(sets)} users, recommended {rec.shape[0]}")
        sizes = np.array([len(s) for s in sets])
        hits = np.array([[j in s for j in row] for row, s in zip(rec.tolist(), sets,
                                                                 strict=True)], bool)
        hits = hits.reshape(rec.shape) & (rec >= 0)
    keep = sizes > 0
    return hits[keep].astype(np.float64), sizes[keep].astype(np.float64)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def precision_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Mean precision@k: the share of the first ``k`` recommendations that are relevant.

    Examples
    --------
    >>> precision_at_k([[3, 1, 2]], [[1, 2]], k=2)
    0.5
    """
    hits, _ = _hits(recommended, relevant, k)
    return _mean(hits.sum(1) / k)


def recall_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Mean recall@k: the share of each user's relevant items among the first ``k``.

    Examples
    --------
    >>> recall_at_k([[3, 1, 2]], [[1, 2, 5, 6]], k=2)
    0.25
    """
    hits, sizes = _hits(recommended, relevant, k)
    return _mean(hits.sum(1) / sizes)


def hit_rate_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Share of users with at least one relevant item among their first ``k``.

    Examples
    --------
    >>> hit_rate_at_k([[3, 1], [0, 4]], [[1], [2]], k=2)
    0.5
    """
    hits, _ = _hits(recommended, relevant, k)
    return _mean(hits.max(1))


def ndcg_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Mean NDCG@k with binary relevance.

    Examples
    --------
    >>> round(ndcg_at_k([[3, 1]], [[1]], k=2), 4)   # the hit at rank 2: 1 / log2(3)
    0.6309
    """
    hits, sizes = _hits(recommended, relevant, k)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = np.cumsum(discount)[np.minimum(sizes, k).astype(np.int64) - 1]
    return _mean(hits @ discount / ideal)


def map_at_k(recommended: Any, relevant: Any, k: int = 10) -> float:
    """Mean average precision at k.

    Examples
    --------
    >>> map_at_k([[1, 3, 2]], [[1, 2]], k=3)   # (1/1 + 2/3) / 2
    0.8333333333333333
    """
    hits, sizes = _hits(recommended, relevant, k)
    prec = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return _mean((prec * hits).sum(1) / np.minimum(sizes, k))


METRICS: dict[str, Callable[[Any, Any, int], float]] = {
    "precision": precision_at_k, "recall": recall_at_k, "hit_rate": hit_rate_at_k,
    "ndcg": ndcg_at_k, "map": map_at_k,
}


def ranking_report(recommended: Any, relevant: Any, k: int | Sequence[int] = 10
                   ) -> dict[str, float]:
    """Every metric at every ``k``, keyed ``"recall@10"`` and so on.

    Examples
    --------
    >>> r = ranking_report([[1, 3, 2]], [[1, 2]], k=[1, 3])
    >>> r["precision@1"], r["recall@3"]
    (1.0, 1.0)
    """
    ks = [k] if isinstance(k, int | np.integer) else list(k)
    return {f"{name}@{kk}": fn(recommended, relevant, kk)
            for kk in ks for name, fn in METRICS.items()}
