"""Correctness battery: simulation-based calibration (SBC) and interval coverage.

SBC (Talts et al. 2018): draw the truth from the model's own prior (``fm_model`` with
:class:`bayesfm.model.FMPriors`, through ``numpyro.infer.Predictive``), draw data given the
truth, run the engine, and rank the truth among the posterior draws. For an exact sampler the
rank is uniform on ``0..L``; a bias shows as a slope, too narrow a posterior as a U, too wide a
posterior as a hump. Replications are vectorised with ``jax.vmap`` over simulated data sets on
one fixed design (SBC holds for any fixed X), so one compiled program runs them all.

Every test fixes its seeds, so CI sees the same numbers every run. The acceptance rule is the
issue's: a chi-square test of the binned ranks against uniform gives p > 0.01 for each checked
quantity. With exact samplers a fixed seed passes this with probability 0.99 per quantity; the
seeds were not searched (they are 0, 1, 2 as first written).

SVI is an approximation and is not calibrated: its test asserts what holds (no location bias of
w0, w_i and the prediction) and that the documented failures are still there (see
docs/reliability.md), so the documentation cannot drift from the code.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import SVI, Predictive, Trace_ELBO, init_to_uniform
from numpyro.infer.autoguide import AutoNormal
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model
from numpyro.optim import Adam
from scipy import stats

from bayesfm.engines.gibbs import init, prepare_data, step
from bayesfm.model import FMPriors, fm_model, fm_predict
from bayesfm.predict import FMDraws, summarize_predictions

pytestmark = pytest.mark.battery

QUANTITIES = ("w0", "tau", "w_0", "pred")


class Problem(NamedTuple):
    """A tiny fixed design: one-hot groups, plus the row whose prediction is ranked."""

    indices: np.ndarray  # (N, G) int32
    values: np.ndarray  # (N, G) float32
    group_of_feature: np.ndarray  # (p,)
    n_groups: int
    rank: int
    pred_indices: np.ndarray  # (M, G): every training row, then one more row
    pred_values: np.ndarray


def tiny_problem(n_rows: int = 24, sizes: tuple[int, ...] = (3, 3), rank: int = 2,
                 seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    idx = np.stack([o + rng.integers(0, s, n_rows) for o, s in zip(offsets, sizes, strict=True)],
                   1).astype(np.int32)
    val = np.ones(idx.shape, np.float32)
    gof = np.repeat(np.arange(len(sizes)), sizes).astype(np.int32)
    extra = offsets[None, :].astype(np.int32)  # row (first feature of every group)
    pred_idx = np.concatenate([extra, idx])
    return Problem(idx, val, gof, len(sizes), rank, pred_idx, np.ones(pred_idx.shape, np.float32))


def prior_draws(problem: Problem, n: int, likelihood: str, seed: int,
                priors: FMPriors = FMPriors()) -> dict[str, np.ndarray]:  # noqa: B008
    """The truth and the data of ``n`` replications, from the model's own prior."""
    draws = Predictive(fm_model, num_samples=n)(
        jax.random.key(seed), problem.indices, problem.values, problem.group_of_feature,
        n_groups=problem.n_groups, rank=problem.rank, likelihood=likelihood, priors=priors,
    )
    return {k: np.asarray(v) for k, v in draws.items()}


def eta(problem: Problem, w0, w, v):  # noqa: ANN001, ANN201 - arrays of any batch shape
    """FM scores of the prediction rows for parameters with any leading batch shape."""
    f = lambda a, b, c: fm_predict(a, b, c, problem.pred_indices, problem.pred_values)  # noqa: E731
    for _ in range(jnp.ndim(w0)):
        f = jax.vmap(f)
    return np.asarray(f(w0, w, v))


def truth_of(problem: Problem, prior: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {"w0": prior["w0"], "w_0": prior["w"][:, 0],
           "pred": eta(problem, prior["w0"], prior["w"], prior["v"])[:, 0]}
    if "tau" in prior:
        out["tau"] = prior["tau"]
    return out


def sbc_ranks(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rank of the truth among the ``L`` draws of every replication: ``(R, L), (R,) -> (R,)``."""
    return (draws < truth[:, None]).sum(axis=1)


def uniformity_p(ranks: np.ndarray, n_draws: int, n_bins: int) -> tuple[float, np.ndarray]:
    """Chi-square p-value of the ranks (uniform on ``0..n_draws``) in ``n_bins`` equal bins."""
    assert (n_draws + 1) % n_bins == 0, "bins must hold equally many rank values"
    counts = np.bincount(ranks * n_bins // (n_draws + 1), minlength=n_bins)
    return float(stats.chisquare(counts).pvalue), counts


def assert_uniform(ranks: dict[str, np.ndarray], n_draws: int, n_bins: int) -> None:
    report = {k: uniformity_p(r, n_draws, n_bins) for k, r in ranks.items()}
    failed = {k: (round(p, 5), c.tolist()) for k, (p, c) in report.items() if p <= 0.01}
    assert not failed, f"SBC ranks not uniform (p <= 0.01): {failed}"


# --- Gibbs ------------------------------------------------------------------------------------


def gibbs_replications(problem: Problem, prior: dict[str, np.ndarray], likelihood: str, *,
                       num_warmup: int, num_draws: int, thin: int, seed: int,
                       priors: FMPriors = FMPriors()) -> dict:  # noqa: B008
    """Run one Gibbs chain per replication, all vectorised; keep every ``thin``-th sweep."""
    y = np.asarray(prior["y"], np.float32)
    data0 = prepare_data(problem.indices, problem.values, problem.group_of_feature, y[0],
                         n_groups=problem.n_groups, dtype=np.float32)
    kw = dict(likelihood=likelihood, priors=priors)

    def run(key: jax.Array, y: jax.Array) -> tuple:
        data = data0._replace(y=y)
        s = init(key, data, rank=problem.rank, n_groups=problem.n_groups, **kw)
        s = jax.lax.fori_loop(0, num_warmup, lambda _, s: step(s, data, **kw), s)

        def keep(s: object, _: None) -> tuple:
            s = jax.lax.fori_loop(0, thin, lambda _, s: step(s, data, **kw), s)
            return s, (s.w0, s.w, s.v, s.tau)

        return jax.lax.scan(keep, s, None, length=num_draws)[1]

    keys = jax.random.split(jax.random.key(seed), y.shape[0])
    w0, w, v, tau = (np.asarray(a) for a in jax.jit(jax.vmap(run))(keys, jnp.asarray(y)))
    return {"w0": w0, "w": w, "v": v, "tau": tau, "eta": eta(problem, w0, w, v)}


@pytest.fixture(scope="module")
def gibbs_gaussian():
    # 600 replications x (200 warm-up + 199 draws x 3 sweeps): about 10 s on one core.
    problem = tiny_problem()
    prior = prior_draws(problem, 600, "gaussian", seed=1)
    post = gibbs_replications(problem, prior, "gaussian", num_warmup=200, num_draws=199,
                              thin=3, seed=2)
    return problem, prior, post


@pytest.mark.xdist_group("sbc_gibbs")
def test_gibbs_sbc_regression(gibbs_gaussian):
    problem, prior, post = gibbs_gaussian
    truth = truth_of(problem, prior)
    draws = {"w0": post["w0"], "tau": post["tau"], "w_0": post["w"][..., 0],
             "pred": post["eta"][..., 0]}
    # 600 replications in 10 bins: 60 expected per bin, enough for the chi-square law.
    assert_uniform({k: sbc_ranks(draws[k], truth[k]) for k in QUANTITIES}, 199, 10)


#: Probit SBC prior: FMPriors with Gamma(3, 3) hyperpriors instead of Gamma(1, 1). Under the
#: default, many simulated data sets have |eta| > 10 (all clicks or none), where the
#: truncated-normal augmentation moves the prediction very slowly: with 200 + 99 x 4 sweeps the
#: prediction's ranks were U-shaped (p = 2e-24), with 2000 + 99 x 40 still p = 9e-4, while w0
#: and w_i passed. That is slow mixing, not bias (longer chains move p toward uniform); it is
#: documented in docs/reliability.md. Gamma(3, 3) keeps the prior proper and the
#: scores moderate, and the sampler then runs under this same FMPriors.
PROBIT_PRIORS = FMPriors(a0=3.0, b0=3.0)


@pytest.mark.xdist_group("sbc_gibbs")
def test_gibbs_sbc_probit():
    problem = tiny_problem(n_rows=30, seed=3)
    prior = prior_draws(problem, 400, "probit", seed=4, priors=PROBIT_PRIORS)
    # Probit mixes slowly on the prediction: thin by 20 (the regression needs 3).
    post = gibbs_replications(problem, prior, "probit", num_warmup=1000, num_draws=49, thin=20,
                              seed=5, priors=PROBIT_PRIORS)
    truth = truth_of(problem, prior)
    draws = {"w0": post["w0"], "w_0": post["w"][..., 0], "pred": post["eta"][..., 0]}
    # 400 replications in 10 bins: 40 expected per bin.
    assert_uniform({k: sbc_ranks(draws[k], truth[k]) for k in draws}, 49, 10)


def binomial_bound(nominal: float, n: int) -> float:
    """Three binomial standard errors of a coverage rate from ``n`` independent trials."""
    return 3.0 * np.sqrt(nominal * (1.0 - nominal) / n)


@pytest.mark.xdist_group("sbc_gibbs")
def test_gibbs_intervals_cover_the_truth_at_their_nominal_rate(gibbs_gaussian):
    """Equal-tailed intervals of ``E[y | x]`` from the library's own summary code.

    Truth from the prior, so an exact posterior covers it at the nominal rate on average over
    replications. Per row, the R replications are independent Bernoulli trials. The rate is
    averaged over the 25 rows of a replication, which are dependent; the variance of a mean
    of equally distributed indicators is at most that of one indicator, so three binomial
    standard errors with n = R is a conservative bound (|rate - nominal| <= 0.037 at 90% with
    R = 600). Finite draws bias an interval from 199 draws by about 2/200 of its mass: small
    next to the bound.
    """
    problem, prior, post = gibbs_gaussian
    truth = eta(problem, prior["w0"], prior["w"], prior["v"])  # (R, M)
    n_rep = truth.shape[0]
    for prob in (0.5, 0.8, 0.9):
        covered = np.empty_like(truth, dtype=bool)
        for r in range(n_rep):
            draws = FMDraws(post["w0"][r], post["w"][r], post["v"][r], post["tau"][r])
            s = summarize_predictions(draws, problem.pred_indices, problem.pred_values,
                                      likelihood="gaussian", prob=prob)
            covered[r] = (s.lower <= truth[r]) & (truth[r] <= s.upper)
        rate = covered.mean()
        assert abs(rate - prob) <= binomial_bound(prob, n_rep), (prob, rate)
        # Each single row, too (independent trials): a looser bound, many rows at once.
        per_row = covered.mean(axis=0)
        assert np.all(np.abs(per_row - prob) <= 4.0 * np.sqrt(prob * (1 - prob) / n_rep)), (
            prob, per_row)


@pytest.mark.slow
@pytest.mark.parametrize("likelihood", ["gaussian", "probit"])
def test_gibbs_sbc_long_multi_hot_and_rank_3(likelihood):
    """4000 replications, rank 3, a multi-hot group (colour classes) and a numeric feature."""
    rng = np.random.default_rng(6)
    n_rows, rank = 30, 3
    user = rng.integers(0, 4, n_rows)
    tags = rng.uniform(size=(n_rows, 3)) < 0.5
    idx = np.zeros((n_rows, 5), np.int32)
    val = np.zeros((n_rows, 5), np.float32)
    for n in range(n_rows):
        t = np.flatnonzero(tags[n])
        cols = [user[n], *(4 + t), 7]
        vals = [1.0, *([1.0 / max(len(t), 1)] * len(t)), rng.normal()]
        idx[n, : len(cols)], val[n, : len(cols)] = cols, vals
    gof = np.array([0, 0, 0, 0, 1, 1, 1, 2], np.int32)
    problem = Problem(idx, val, gof, 3, rank, idx, val)
    priors = PROBIT_PRIORS if likelihood == "probit" else FMPriors()
    prior = prior_draws(problem, 4000, likelihood, seed=7, priors=priors)
    thin = 20 if likelihood == "probit" else 5
    post = gibbs_replications(problem, prior, likelihood, num_warmup=1000, num_draws=99,
                              thin=thin, seed=8, priors=priors)
    truth = truth_of(problem, prior)
    draws = {"w0": post["w0"], "w_0": post["w"][..., 0], "pred": post["eta"][..., 0]}
    if likelihood == "gaussian":
        draws["tau"] = post["tau"]
    draws["w_5"] = post["w"][..., 5]
    truth["w_5"] = prior["w"][:, 5]
    assert_uniform({k: sbc_ranks(draws[k], truth[k]) for k in draws}, 99, 20)


# --- NUTS -------------------------------------------------------------------------------------


def nuts_replications(problem: Problem, prior: dict[str, np.ndarray], *, num_warmup: int,
                      num_draws: int, thin: int, seed: int, max_tree_depth: int = 8,
                      parameterization: str = "noncentered") -> dict[str, np.ndarray]:
    """NUTS (numpyro's functional ``hmc``) per replication, vmapped over the data sets.

    Each replication adapts its own step size and diagonal mass matrix; the sample kernel
    regenerates the potential from the batched ``y``. One scan over warm-up and draws keeps
    a single copy of the tree builder in the compiled program.
    """
    kw = dict(n_groups=problem.n_groups, rank=problem.rank, parameterization=parameterization)
    fixed = (problem.indices, problem.values, problem.group_of_feature)
    y = np.asarray(prior["y"], np.float32)
    info = initialize_model(jax.random.key(0), fm_model, model_args=(*fixed, y[0]),
                            model_kwargs=kw, dynamic_args=True)
    init_kernel, sample_kernel = hmc(potential_fn_gen=info.potential_fn, algo="NUTS")
    leaves, tree = jax.tree.flatten(info.param_info.z)

    def run(key: jax.Array, y: jax.Array) -> tuple:
        k_init, k_run = jax.random.split(key)
        ks = jax.random.split(k_init, len(leaves))
        # The estimator's start (run_nuts): uniform in (-0.1, 0.1) on the unconstrained scale.
        z = jax.tree.unflatten(tree, [jax.random.uniform(k, a.shape, minval=-0.1, maxval=0.1)
                                      for k, a in zip(ks, leaves, strict=True)])
        args = (*fixed, y)
        state = init_kernel(z, num_warmup, max_tree_depth=max_tree_depth, model_args=args,
                            model_kwargs=kw, rng_key=k_run)
        constrain = info.postprocess_fn(*args, **kw)

        def one(s: object, _: None) -> tuple:
            s = sample_kernel(s, args, kw)
            c = constrain(s.z)
            return s, (c["w0"], c["tau"], c["w"][0], c["w"], c["v"], s.diverging)

        out = jax.lax.scan(one, state, None, length=num_warmup + num_draws * thin)[1]
        return tuple(a[num_warmup + thin - 1 :: thin] for a in out)

    keys = jax.random.split(jax.random.key(seed), y.shape[0])
    w0, tau, w_0, w, v, div = (np.asarray(a) for a in jax.jit(jax.vmap(run))(keys, y))
    return {"w0": w0, "tau": tau, "w_0": w_0, "pred": eta(problem, w0, w, v)[..., 0],
            "diverging": div}


@pytest.mark.xdist_group("sbc_nuts")
def test_nuts_sbc_regression():
    # 160 replications x (150 warm-up + 19 draws x 3): compile dominates (about 20 s).
    problem = tiny_problem(seed=10)
    prior = prior_draws(problem, 160, "gaussian", seed=11)
    post = nuts_replications(problem, prior, num_warmup=150, num_draws=19, thin=3, seed=12)
    truth = truth_of(problem, prior)
    # Divergences would bias the draws; the non-centred model keeps them rare here.
    assert post["diverging"].mean() < 0.05
    # 160 replications in 5 bins of 4 rank values: 32 expected per bin.
    assert_uniform({k: sbc_ranks(post[k], truth[k]) for k in QUANTITIES}, 19, 5)


@pytest.mark.slow
def test_nuts_sbc_long_centered():
    """The centred model too, with more replications and draws."""
    problem = tiny_problem(seed=13)
    prior = prior_draws(problem, 500, "gaussian", seed=14)
    post = nuts_replications(problem, prior, num_warmup=300, num_draws=39, thin=4, seed=15,
                             max_tree_depth=10, parameterization="centered")
    truth = truth_of(problem, prior)
    assert_uniform({k: sbc_ranks(post[k], truth[k]) for k in QUANTITIES}, 39, 10)


# --- SVI (an approximation: documented, not calibrated) ---------------------------------------


def svi_replications(problem: Problem, prior: dict[str, np.ndarray], *, num_steps: int,
                     num_draws: int, seed: int) -> dict[str, np.ndarray]:
    """AutoNormal fitted to every replication (the estimator's default guide), vmapped."""
    kw = dict(n_groups=problem.n_groups, rank=problem.rank)
    fixed = (problem.indices, problem.values, problem.group_of_feature)
    y = np.asarray(prior["y"], np.float32)
    guide = AutoNormal(fm_model, init_loc_fn=init_to_uniform(radius=0.1), init_scale=0.01)
    svi = SVI(fm_model, guide, Adam(0.01), Trace_ELBO())
    state0 = svi.init(jax.random.key(0), *fixed, y[0], **kw)  # sets the guide up, once

    def run(key: jax.Array, y: jax.Array) -> tuple:
        k_fit, k_draw = jax.random.split(key)
        args = (*fixed, y)
        state = jax.lax.scan(lambda s, _: svi.update(s, *args, **kw),
                             state0._replace(rng_key=k_fit), None, length=num_steps)[0]
        c = guide.sample_posterior(k_draw, svi.get_params(state), sample_shape=(num_draws,))
        return c["w0"], c["tau"], c["w"], c["v"]

    keys = jax.random.split(jax.random.key(seed), y.shape[0])
    w0, tau, w, v = (np.asarray(a) for a in jax.jit(jax.vmap(run))(keys, y))
    return {"w0": w0, "tau": tau, "w_0": w[..., 0], "pred": eta(problem, w0, w, v)[..., 0]}


@pytest.mark.xdist_group("sbc_svi")
def test_svi_sbc_is_a_documented_approximation():
    """What holds for SVI (AutoNormal) and what does not, on the same tiny problems.

    Holds: no location bias for w0, w_i and the prediction (mean normalised rank within three
    standard errors of 1/2, the standard error estimated from the ranks).
    Does not hold (asserted, so that docs/reliability.md stays true): the mean-field guide
    ignores the trade-off between w0 and the group means, so w0 and w_i come out far too
    narrow (a U-shaped rank histogram: the truth falls in the outer bins), and tau is biased
    low (the noise is overestimated).
    """
    problem = tiny_problem(seed=20)
    n_rep, n_draws = 200, 99
    prior = prior_draws(problem, n_rep, "gaussian", seed=21)
    post = svi_replications(problem, prior, num_steps=2000, num_draws=n_draws, seed=22)
    truth = truth_of(problem, prior)
    ranks = {k: sbc_ranks(post[k], truth[k]) for k in QUANTITIES}
    for k in ("w0", "w_0", "pred"):
        # Standard error from the ranks themselves: U-shaped ranks vary more than uniform ones.
        se = ranks[k].std() / n_draws / np.sqrt(n_rep)
        assert abs(ranks[k].mean() / n_draws - 0.5) < 3 * se, k
    for k in ("w0", "w_0"):
        p, counts = uniformity_p(ranks[k], n_draws, 10)
        outer = (counts[0] + counts[-1]) / n_rep
        assert p < 1e-6 and outer > 0.4, (k, counts)  # uniform would put 0.2 there
    se = ranks["tau"].std() / n_draws / np.sqrt(n_rep)
    assert ranks["tau"].mean() / n_draws > 0.5 + 3 * se  # truth above most draws
