"""Ranking metrics against hand-computed small cases (and scikit-learn's NDCG)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import ndcg_score

from bayesfm.metrics import (
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_report,
    recall_at_k,
    relevance_matrix,
)

# Three users, items 0..5. User 0: hits at ranks 1 and 3 of 3 relevant; user 1: one hit at
# rank 2; user 2: no hit; user 3 has no relevant item and is left out of every mean.
REC = np.array([[0, 4, 2, 5], [3, 1, 0, -1], [5, 4, 3, 2], [0, 1, 2, 3]])
REL = [{0, 2, 1}, {1}, {0}, set()]


def test_hand_computed_values_at_k3():
    assert precision_at_k(REC, REL, 3) == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert recall_at_k(REC, REL, 3) == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert hit_rate_at_k(REC, REL, 3) == pytest.approx(2 / 3)
    d = 1 / np.log2([2, 3, 4])
    ndcg0 = (d[0] + d[2]) / d.sum()       # 3 relevant: the ideal fills all 3 places
    ndcg1 = d[1] / d[0]                   # 1 relevant: the ideal is a hit at rank 1
    assert ndcg_at_k(REC, REL, 3) == pytest.approx((ndcg0 + ndcg1 + 0) / 3)
    ap0 = (1 / 1 + 2 / 3) / 3
    ap1 = (1 / 2) / 1
    assert map_at_k(REC, REL, 3) == pytest.approx((ap0 + ap1 + 0) / 3)


def test_matrix_and_sets_agree_and_padding_never_hits():
    rows = [u for u, r in enumerate(REL) for _ in r]
    cols = [i for r in REL for i in sorted(r)]
    mat = relevance_matrix(rows, cols, (4, 6))
    for k in (1, 2, 4):
        assert ranking_report(REC, mat, k) == pytest.approx(ranking_report(REC, REL, k))
    assert ranking_report(REC, mat.toarray(), 2) == pytest.approx(ranking_report(REC, REL, 2))
    # -1 (an empty place) is never relevant, even where item ids are matrix positions.
    pad = np.array([[-1, 5]])
    assert precision_at_k(pad, sp.csr_matrix(np.array([[0, 0, 0, 0, 0, 1]], bool)), 2) == 0.5


def test_ndcg_matches_scikit_learn_for_rankings_without_ties():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 20, 15, 5
    scores = rng.normal(size=(n_users, n_items))
    rel = rng.uniform(size=(n_users, n_items)) < 0.3
    rel[:, 0] = True  # every user has a relevant item (scikit-learn counts the others as 0)
    rec = np.argsort(-scores, axis=1)
    assert ndcg_at_k(rec, rel, k) == pytest.approx(ndcg_score(rel, scores, k=k))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="k=5, but recommended holds only 4"):
        recall_at_k(REC, REL, 5)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        recall_at_k(REC, REL, 0)
    with pytest.raises(ValueError, match="relevant has 3 users, recommended 4"):
        recall_at_k(REC, REL[:3], 2)
    assert np.isnan(recall_at_k(REC[3:], REL[3:], 2))  # no user with a relevant item
