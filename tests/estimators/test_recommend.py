"""``recommend``: its top-N equals a brute-force scoring of every pair row through predict.

The brute force builds the design row of every (context, candidate) pair and scores it with
``predict_draws``; ``recommend`` never builds those rows. Both run in float32 on the same
draws, so the criteria agree to rounding (1e-5 here, scores of order 1), and the rankings
agree exactly: the seeded data have no pair of candidates within rounding of each other.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from bayesfm import BayesianFMClassifier, BayesianFMRegressor
from bayesfm.data import simulate_fm
from bayesfm.model import get_interaction, get_likelihood
from bayesfm.results import PosteriorDraws, recommend_top_n

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GROUPS = ["user", "ctx", "item", "genre"]
SIZES = (7, 3, 9, 4)
EST = dict(rank=3, num_warmup=30, num_samples=25, num_chains=2, random_state=0,
           progress_bar=False, log_likelihood=False)
N = 4


def _one_hot(cols: list[np.ndarray], n_rows: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(n_rows), len(cols))
    return sp.csr_matrix((np.ones(rows.size), (rows, np.stack(cols, 1).ravel())),
                         shape=(n_rows, sum(SIZES)))


OFF = np.cumsum((0, *SIZES))
# Context rows: users 0..6 with a context level; candidates: 6 items, each with a genre.
CONTEXT = _one_hot([np.arange(7), OFF[1] + np.array([0, 1, 2, 0, 1, 2, 0])], 7)
CANDIDATES = _one_hot([OFF[2] + np.array([0, 2, 3, 5, 7, 8]),
                       OFF[3] + np.array([0, 1, 1, 2, 3, 3])], 6)


@pytest.fixture(scope="module")
def sim():
    return simulate_fm(n_rows=400, group_sizes=SIZES, rank=3, seed=3)


@pytest.fixture(scope="module")
def fits(sim):
    kw = dict(groups=sim.groups, group_names=GROUPS)
    reg = BayesianFMRegressor(**EST).fit(sim.X, sim.y, **kw)
    clf = BayesianFMClassifier(**EST).fit(sim.X, (sim.y > np.median(sim.y)).astype(int), **kw)
    return {"regressor": reg, "classifier": clf}


def _brute(fm, context, candidates):
    """Draws ``(S, contexts, candidates)`` of every pair row, through predict_draws."""
    n_c, n_i = context.shape[0], candidates.shape[0]
    pairs = sp.vstack([context[c] + candidates[i] for c in range(n_c) for i in range(n_i)])
    return fm.predict_draws(sp.csr_matrix(pairs)).reshape(-1, n_c, n_i)


def _check_top(rec, crit):
    top = np.argsort(-crit, axis=1, kind="stable")[:, :N]
    np.testing.assert_array_equal(rec.items, top)
    np.testing.assert_allclose(rec.score, np.take_along_axis(crit, top, 1), atol=1e-5)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_mean_top_n_equals_brute_force_with_summaries(fits, kind):
    fm = fits[kind]
    rec = fm.recommend(CONTEXT, CANDIDATES, n=N)
    draws = _brute(fm, CONTEXT, CANDIDATES)
    _check_top(rec, draws.mean(0))
    chosen = np.take_along_axis(draws, rec.items[None], 2)
    np.testing.assert_allclose(rec.mean, chosen.mean(0), atol=1e-5)
    lo, hi = np.quantile(chosen, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(rec.lower, lo, atol=1e-5)
    np.testing.assert_allclose(rec.upper, hi, atol=1e-5)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_thompson_ranks_by_one_draw_per_row(fits, kind):
    fm = fits[kind]
    rec = fm.recommend(CONTEXT, CANDIDATES, n=N, strategy="thompson", random_state=5)
    draws = _brute(fm, CONTEXT, CANDIDATES)
    assert rec.draw.shape == (7,) and len(set(rec.draw.tolist())) > 1
    _check_top(rec, draws[rec.draw, np.arange(7)])
    again = fm.recommend(CONTEXT, CANDIDATES, n=N, strategy="thompson", random_state=5)
    np.testing.assert_array_equal(again.items, rec.items)


@pytest.mark.parametrize("q", [0.9, 0.5])
def test_ucb_ranks_by_the_upper_quantile(fits, q):
    fm = fits["regressor"]
    rec = fm.recommend(CONTEXT, CANDIDATES, n=N, strategy="ucb", quantile=q)
    draws = _brute(fm, CONTEXT, CANDIDATES)
    _check_top(rec, np.quantile(draws, q, axis=0, method="inverted_cdf"))


def test_default_candidates_are_the_item_group_and_exclude_is_honoured(fits):
    fm = fits["regressor"]
    users = CONTEXT  # users with their context level; candidates: every item
    items = sp.csr_matrix((np.ones(9), (np.arange(9), OFF[2] + np.arange(9))),
                          shape=(9, sum(SIZES)))
    seen = np.zeros((7, 9), bool)
    seen[0, :6] = True  # user 0 keeps 3 unseen items: the fourth place is empty
    seen[1, [2, 4]] = True
    rec = fm.recommend(users, n=N, exclude=sp.csr_matrix(seen))
    crit = np.where(seen, -np.inf, _brute(fm, users, items).mean(0))
    top = np.argsort(-crit, axis=1, kind="stable")[:, :N]
    np.testing.assert_array_equal(rec.items[1:], top[1:])
    np.testing.assert_array_equal(rec.items[0], [*top[0, :3], -1])
    assert np.isnan(rec.mean[0, 3]) and rec.names[1, 0] == fm.idata_.posterior.w.feature.values[
        OFF[2] + rec.items[1, 0]]
    pairs = np.argwhere(seen)
    np.testing.assert_array_equal(fm.recommend(users, n=N, exclude=pairs).items, rec.items)
    frame = rec.to_frame()
    assert list(frame.columns[:4]) == ["context", "rank", "item", "name"] and len(frame) == 28


def test_chunking_does_not_change_the_result(fits):
    fm = fits["classifier"]
    draws = fm._draws(CONTEXT)[0]
    d_ctx, d_cand = fm._design(CONTEXT, reset=False), fm._design(CANDIDATES, reset=False)
    args = (draws, (d_ctx.indices, d_ctx.values), (d_cand.indices, d_cand.values))
    for strategy in ("mean", "ucb", "thompson"):
        whole = recommend_top_n(*args, n=N, strategy=strategy, rng=np.random.default_rng(0))
        tiny = recommend_top_n(*args, n=N, strategy=strategy, rng=np.random.default_rng(0),
                               budget_bytes=1)  # one context row per chunk
        np.testing.assert_array_equal(tiny.items, whole.items)
        np.testing.assert_allclose(tiny.mean, whole.mean, rtol=1e-6)


def test_bad_input_is_refused_by_name(fits):
    fm = fits["regressor"]
    with pytest.raises(ValueError, match="unknown strategy 'greedy'; valid: mean, thompson"):
        fm.recommend(CONTEXT, CANDIDATES, strategy="greedy")
    with pytest.raises(ValueError, match="n=7 is larger than the 6 candidates"):
        fm.recommend(CONTEXT, CANDIDATES, n=7)
    with pytest.raises(ValueError, match="22 columns; the model was fitted on 23"):
        fm.recommend(CONTEXT[:, :-1], CANDIDATES)
    with pytest.raises(ValueError, match="share columns"):
        fm.recommend(CONTEXT, CANDIDATES + CONTEXT[:6])
    with pytest.raises(ValueError, match="item_group='movie' is not a group"):
        fm.recommend(CONTEXT, item_group="movie")
    with pytest.raises(ValueError, match="exclude has shape"):
        fm.recommend(CONTEXT, CANDIDATES, n=N, exclude=np.zeros((7, 5), bool))
    with pytest.raises(ValueError, match="quantile must be in"):
        fm.recommend(CONTEXT, CANDIDATES, n=N, strategy="ucb", quantile=1.0)


def test_other_models_raise_not_implemented():
    draws = PosteriorDraws({"w0": jnp.zeros(2), "w": jnp.zeros((2, 2)),
                            "v": jnp.zeros((2, 2, 2, 1)), "tau": jnp.ones(2)},
                           get_likelihood("gaussian"), get_interaction("ffm"),
                           jnp.array([0, 1]))
    rows = (np.array([[0]]), np.ones((1, 1), np.float32))
    with pytest.raises(NotImplementedError, match="plain FM .model='fm', degree=2., not 'ffm'"):
        recommend_top_n(draws, rows, (np.array([[1]]), rows[1]), n=1)


def test_ucb_screening_equals_the_order_statistic_of_every_pair():
    """300 candidates, top 3: the count screen runs (m2 = 64 < 300) and must not lose one."""
    rng = np.random.default_rng(0)
    s, p_ctx, p_cand, k = 40, 5, 300, 2
    p = p_ctx + p_cand
    params = {"w0": jnp.asarray(rng.normal(size=s), jnp.float32),
              "w": jnp.asarray(rng.normal(size=(s, p)), jnp.float32),
              "v": jnp.asarray(rng.normal(size=(s, p, k)), jnp.float32),
              "tau": jnp.ones(s)}
    draws = PosteriorDraws(params, get_likelihood("gaussian"), get_interaction("fm"),
                           jnp.asarray(np.repeat([0, 1], [p_ctx, p_cand])))
    ctx = (np.arange(p_ctx)[:, None], np.ones((p_ctx, 1), np.float32))
    cand = (p_ctx + np.arange(p_cand)[:, None], np.ones((p_cand, 1), np.float32))
    seen = rng.uniform(size=(p_ctx, p_cand)) < 0.3
    rec = recommend_top_n(draws, ctx, cand, n=3, strategy="ucb", quantile=0.8, exclude=seen)
    w, v = np.asarray(params["w"], np.float64), np.asarray(params["v"], np.float64)
    eta = (np.asarray(params["w0"])[:, None, None] + w[:, :p_ctx, None] + w[:, None, p_ctx:]
           + np.einsum("sck,sik->sci", v[:, :p_ctx], v[:, p_ctx:]))
    crit = np.where(seen, -np.inf, np.quantile(eta, 0.8, axis=0, method="inverted_cdf"))
    np.testing.assert_array_equal(rec.items, np.argsort(-crit, axis=1)[:, :3])


def test_dataframe_context_and_candidates_score_like_their_pair_rows():
    import pandas as pd

    rng = np.random.default_rng(1)
    df = pd.DataFrame({"user": pd.Categorical(rng.integers(0, 6, 200)),
                       "hour": rng.normal(size=200),
                       "item": pd.Categorical(rng.integers(0, 8, 200))})
    y = rng.normal(size=200) + 0.3 * df["item"].cat.codes.to_numpy()
    fm = BayesianFMRegressor(**dict(EST, num_samples=10)).fit(df, y)
    ctx = pd.DataFrame({"user": pd.Categorical([0, 1, 2], categories=range(6)),
                        "hour": [0.0, 1.0, -1.0]})
    cands = pd.DataFrame({"item": pd.Categorical([3, 5, 7, 0], categories=range(8))})
    pairs = pd.DataFrame({"user": ctx["user"].repeat(4).to_numpy(),
                          "hour": ctx["hour"].repeat(4).to_numpy(),
                          "item": pd.Categorical(np.tile([3, 5, 7, 0], 3), categories=range(8))})
    mean = fm.predict(pairs).reshape(3, 4)
    rec = fm.recommend(ctx, cands, n=4)
    np.testing.assert_array_equal(rec.items, np.argsort(-mean, axis=1))
    np.testing.assert_allclose(rec.mean, np.take_along_axis(mean, rec.items, 1), atol=1e-5)
    assert fm.recommend(ctx, n=2).names[0, 0].startswith("item=")
