"""``sample_negatives``: k distinct unobserved items per positive, seeded, never a positive.

The end-to-end test plants two taste clusters (users 0-9 like items 0-9, users 10-19 items
10-19), fits a Gibbs classifier to positives plus sampled negatives and checks that
``recommend`` (excluding the training positives) picks the user's own cluster: with 10 of
20 items of the cluster left, random top-5 lists would hit it half the time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from bayesfm import BayesianFMClassifier
from bayesfm.data import load_movielens_ratings, sample_negatives

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

USERS = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
ITEMS = np.array([0, 3, 5, 1, 2, 7, 0, 1, 2, 3])


def _pairs(rows, select):
    return set(zip(rows.users[select].tolist(), rows.items[select].tolist(), strict=True))


def test_k_distinct_unobserved_negatives_per_positive():
    rows = sample_negatives(USERS, ITEMS, n_items=12, k=2, random_state=0)
    pos, neg = rows.y == 1, rows.y == 0
    assert rows.n_positives == USERS.size and rows.n_negatives == 2 * USERS.size
    assert np.array_equal(rows.users[pos], USERS) and np.array_equal(rows.items[pos], ITEMS)
    # 2 per positive of every user, no pair twice, never a positive of the user
    assert np.bincount(rows.users[neg]).tolist() == [6, 4, 2, 8]
    assert len(_pairs(rows, neg)) == rows.n_negatives
    assert not _pairs(rows, neg) & _pairs(rows, pos)
    # the design: one-hot user | item columns, labels as y
    assert rows.X.shape == (30, 4 + 12)
    assert np.array_equal(rows.X.indices.reshape(-1, 2)[:, 1] - 4, rows.items)
    assert rows.info.group_sizes == (4, 12)


def test_seeded_and_exclude_is_never_drawn():
    a = sample_negatives(USERS, ITEMS, n_items=12, k=2, random_state=5)
    b = sample_negatives(USERS, ITEMS, n_items=12, k=2, random_state=5)
    c = sample_negatives(USERS, ITEMS, n_items=12, k=2, random_state=6)
    assert np.array_equal(a.items, b.items) and not np.array_equal(a.items, c.items)
    held = np.array([[0, 4], [0, 6], [3, 11], [3, 10]])
    dense = np.zeros((4, 12), bool)
    dense[held[:, 0], held[:, 1]] = True
    for exclude in (held, dense, sp.csr_matrix(dense)):
        for seed in range(10):
            rows = sample_negatives(USERS, ITEMS, n_items=12, k=2, exclude=exclude,
                                    random_state=seed)
            assert not _pairs(rows, rows.y == 0) & set(map(tuple, held.tolist()))


def test_a_user_with_too_few_free_items_gets_all_of_them():
    # user 3 likes 4 of 6 items: 2 free, 12 wanted
    rows = sample_negatives(USERS[USERS == 3], ITEMS[USERS == 3], n_users=4, n_items=6, k=3,
                            random_state=0)
    assert sorted(rows.items[rows.y == 0].tolist()) == [4, 5]


def test_popularity_weighting_draws_popular_items_more_often():
    # item 0 has 30 positives, the others 1: under popularity it is drawn far more often
    users = np.r_[np.arange(30), 30 + np.arange(19)]
    items = np.r_[np.zeros(30, int), 1 + np.arange(19)]
    counts = {}
    for weighting in ("uniform", "popularity"):
        drawn = []
        for seed in range(20):
            rows = sample_negatives(users, items, n_users=80, n_items=20, k=1,
                                    weighting=weighting, random_state=seed)
            drawn.append(rows.items[(rows.y == 0) & (rows.users >= 30)])
        counts[weighting] = np.mean(np.concatenate(drawn) == 0)
    # users 30..48 can draw item 0 (weight 1 + 30) among 19 free items: uniformly 1/19 of
    # the time, by popularity 31 / (31 + 18 * 2) = 0.46; 380 draws each, so within 0.06
    assert abs(counts["uniform"] - 1 / 19) < 0.04 and abs(counts["popularity"] - 0.46) < 0.08


@pytest.mark.parametrize("kwargs, message", [
    (dict(users=[0, 1], items=[0]), "one per positive"),
    (dict(users=[0, -1], items=[0, 1]), "negative id"),
    (dict(users=[0.5, 1], items=[0, 1]), "integer ids"),
    (dict(users=[], items=[]), "non-empty"),
    (dict(users=[0, 3], items=[0, 1], n_users=3), "n_users=3"),
    (dict(users=[0, 1], items=[0, 9], n_items=5), "n_items=5"),
    (dict(users=[0, 1], items=[0, 1], k=0), "k must be a positive integer"),
    (dict(users=[0, 1], items=[0, 1], k=1.5), "k must be a positive integer"),
    (dict(users=[0, 1], items=[0, 1], weighting="pop"), "valid: uniform, popularity"),
    (dict(users=[0, 1], items=[0, 1], power=-1.0), "power must be"),
    (dict(users=[0, 1], items=[0, 1], exclude=np.zeros((3, 3), bool)), "exclude has shape"),
    (dict(users=[0, 1], items=[0, 1], exclude=[[0, 5]]), "outside"),
    (dict(users=[0, 1], items=[0, 1], exclude=[0, 1]), "exclude must be"),
])
def test_bad_input_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_negatives(**kwargs)


@pytest.mark.parametrize("link", ["probit", "logit"])
def test_fit_on_sampled_negatives_then_recommend_finds_the_cluster(link):
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(20), 5)
    items = np.concatenate([rng.choice(10, 5, replace=False) + 10 * (u >= 10)
                            for u in range(20)])
    rows = sample_negatives(users, items, n_items=20, k=2, random_state=0)
    clf = BayesianFMClassifier(rank=2, link=link, num_warmup=100, num_samples=100,
                               num_chains=1, random_state=0, progress_bar=False,
                               log_likelihood=False)
    clf.fit(rows.X, rows.y, groups=rows.info)
    seen = np.zeros((20, 20), bool)
    seen[users, items] = True
    rec = clf.recommend(sp.eye(20, 40, format="csr"), n=5, exclude=seen)
    assert not seen[np.arange(20)[:, None], rec.items].any()
    in_cluster = (rec.items >= 10) == (np.arange(20) >= 10)[:, None]
    assert in_cluster.mean() > 0.8


def test_ratings_log_loader_on_fake_files(tmp_path: Path) -> None:
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "u.data").write_text("3\t2\t4\t103\n1\t5\t2\t104\n")
    log = load_movielens_ratings("ml-100k", path=tmp_path, download=False)
    assert log.values.tolist() == [[2, 1, 4, 103], [0, 4, 2, 104]]
    assert log.attrs == {"n_users": 3, "n_items": 5}
    (tmp_path / "ml-1m-half").mkdir()
    (tmp_path / "ml-1m-half" / "ratings.dat").write_text("5::10::4::7\n2::3::5::8\n5::3::1::9\n")
    log = load_movielens_ratings("ml-1m-half", path=tmp_path, download=False)
    assert log.values.tolist() == [[1, 1, 4, 7], [0, 0, 5, 8], [1, 0, 1, 9]]
    assert log.attrs == {"n_users": 2, "n_items": 2}
    with pytest.raises(ValueError, match="name must be"):
        load_movielens_ratings("ml-10m", path=tmp_path)
    with pytest.raises(FileNotFoundError, match="BAYESFM_DATA"):
        load_movielens_ratings("ml-100k", path=tmp_path / "none", download=False)
