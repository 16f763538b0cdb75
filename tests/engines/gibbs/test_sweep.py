"""Tests of the exact blocked Gibbs engine (bayesfm.engines.gibbs and gibbs_kernel)."""

from __future__ import annotations

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from jax.scipy.stats import norm
from numpyro.infer import MCMC, NUTS, init_to_uniform
from sklearn.metrics import roc_auc_score

import bayesfm.engines.gibbs as gibbs
from bayesfm.data import Design, from_sparse
from bayesfm.engines.gibbs import color_blocks, init, predict_cache, prepare_data, step
from bayesfm.engines.gibbs_kernel import FMGibbs, run_gibbs
from bayesfm.model import FMPriors, fm_model, fm_predict


def onehot_rows(n_rows: int, sizes: list[int], rng: np.random.Generator) -> sp.csr_matrix:
    """Rows with exactly one feature of every one-hot group."""
    offsets = np.cumsum([0, *sizes])[:-1]
    cols = np.stack([o + rng.integers(0, s, n_rows) for o, s in zip(offsets, sizes)], 1)
    rows = np.repeat(np.arange(n_rows), len(sizes))
    return sp.csr_matrix((np.ones(cols.size), (rows, cols.ravel())), shape=(n_rows, sum(sizes)))


def mixed_design(n_rows: int, seed: int) -> Design:
    """A one-hot group (15), a multi-hot group (25, 0-6 per row, values 1/count), a numeric one."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 15, n_rows)
    X = sp.lil_matrix((n_rows, 41))
    for n in range(n_rows):
        X[n, user[n]] = 1.0
        tags = rng.choice(25, size=rng.integers(0, 7), replace=False)
        for t in tags:
            X[n, 15 + t] = 1.0 / len(tags)
        X[n, 40] = rng.normal()
    return from_sparse(X.tocsr(), group_sizes=[15, 25, 1])


def simulate(n_rows: int, sizes: list[int], seed: int, dtype=np.float32):
    rng = np.random.default_rng(seed)
    d = from_sparse(onehot_rows(n_rows, sizes, rng), group_sizes=sizes, dtype=dtype)
    p = sum(sizes)
    w, v = rng.normal(0, 0.5, p), rng.normal(0, 0.5, (p, 2))
    eta = np.asarray(fm_predict(0.5, w, v, d.indices, d.values))
    return d, eta, rng


def rows_of(design: Design) -> list[np.ndarray]:
    csr = design.to_csr()
    return [csr.indices[csr.indptr[n] : csr.indptr[n + 1]] for n in range(csr.shape[0])]


# --- blocks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blocks_are_exact(seed):
    d = mixed_design(400, seed)
    block = color_blocks(d)
    for feats in rows_of(d):
        assert len(np.unique(block[feats])) == len(feats), "two features of a block share a row"
    for b in np.unique(block):
        assert len(np.unique(d.group_of_feature[block == b])) == 1, "a block spans groups"
    assert len(np.unique(block[:15])) == 1  # the one-hot group is one block
    assert len(np.unique(block[15:40])) >= 6  # rows hold up to 6 tags: at least 6 colours


@pytest.mark.parametrize("layout", ["dense", "compact"])
def test_block_arrays_reproduce_the_model_scores(layout):
    d = mixed_design(300, 3)
    rng = np.random.default_rng(0)
    w0, w, v = 0.3, rng.normal(size=41), rng.normal(size=(41, 3))
    data = prepare_data(d.indices, d.values, d.group_of_feature, np.zeros(300), n_groups=3,
                        layout=layout)
    assert all((bs.rows is None) == (layout == "dense") for bs in data.blocks)
    if layout == "compact":  # blocks of similar sizes share a set: padding stays below 4x
        assert len(data.blocks) > 1
    yhat, q = predict_cache(w0, jnp.asarray(w), jnp.asarray(v), data)
    np.testing.assert_allclose(yhat, fm_predict(w0, w, v, d.indices, d.values), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(q, (d.to_csr() @ v).T, rtol=1e-4, atol=1e-4)


def test_duplicate_feature_in_a_row_is_rejected():
    with pytest.raises(ValueError, match="twice"):
        prepare_data(np.array([[0, 0]]), np.ones((1, 2)), [0], [1.0], n_groups=1)


# --- the sweep ------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["dense", "compact", "auto"])
@pytest.mark.parametrize("weighted", [False, True])
def test_sweeps_keep_the_cached_residual_and_factor_sums_exact(layout, weighted):
    d = mixed_design(300, 4)
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    weight = rng.uniform(0.2, 3.0, 300) if weighted else None
    data = prepare_data(d.indices, d.values, d.group_of_feature, y, n_groups=3,
                        sample_weight=weight, layout=layout)
    if layout == "auto":  # the one-hot group is stored dense, the small tag blocks compact
        assert [bs.rows is None for bs in data.blocks] == [True, False]
    state = init(jax.random.key(0), data, rank=3, n_groups=3)
    for _ in range(10):
        state = step(state, data)
    yhat = fm_predict(state.w0, state.w, state.v, d.indices, d.values)
    np.testing.assert_allclose(state.e, y - yhat, atol=2e-4)
    np.testing.assert_allclose(state.q, (d.to_csr() @ np.asarray(state.v)).T, atol=2e-4)
    assert np.all(np.isfinite(state.v)) and float(state.tau) > 0


def test_step_traces_once_per_shape(monkeypatch):
    calls = []
    original = gibbs._sweep

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(gibbs, "_sweep", counting)
    # A shape no other test uses, so the jit cache starts cold.
    d, eta, _ = simulate(37, [5, 4], 0)
    for seed, n_draws in [(0, 30), (1, 40)]:
        y = eta + np.random.default_rng(seed).normal(size=37)  # new data, same shapes
        kernel = FMGibbs(d, y, rank=2)
        mcmc = MCMC(kernel, num_warmup=n_draws, num_samples=n_draws, progress_bar=False)
        mcmc.run(jax.random.key(seed))
        assert mcmc.get_samples()["v"].shape == (n_draws, 9, 2)
    # One trace in all: not one per draw, and new data of the same shapes reuse the program.
    assert len(calls) == 1


def test_logit_is_rejected_with_a_clear_error():
    d, eta, _ = simulate(20, [3, 3], 0)
    with pytest.raises(ValueError, match="logit.*probit"):
        FMGibbs(d, eta > 0, rank=2, likelihood="logit")
    data = prepare_data(d.indices, d.values, d.group_of_feature, eta > 0, n_groups=2)
    with pytest.raises(ValueError, match="logit"):
        init(jax.random.key(0), data, rank=2, n_groups=2, likelihood="logit")
    with pytest.raises(ValueError, match="valid for Gibbs"):
        run_gibbs(d.indices, d.values, d.group_of_feature, eta, n_groups=2, rank=2,
                  likelihood="poisson", rng_key=jax.random.key(0))


def test_probit_rejects_sample_weight():
    d, eta, _ = simulate(20, [3, 3], 0)
    with pytest.raises(ValueError, match="sample_weight"):
        FMGibbs(d, eta > 0, rank=2, likelihood="probit", sample_weight=np.ones(20))


def test_run_gibbs_returns_model_site_shapes():
    d, eta, _ = simulate(50, [6, 4], 0)
    draws = run_gibbs(d.indices, d.values, d.group_of_feature, eta, n_groups=2, rank=3,
                      num_warmup=5, num_samples=8, num_chains=2, thinning=2,
                      rng_key=jax.random.key(0), progress_bar=False)
    shapes = {k: v.shape for k, v in draws.items()}
    assert shapes == {"w0": (2, 4), "w": (2, 4, 10), "v": (2, 4, 10, 3), "mu_w": (2, 4, 2),
                      "lambda_w": (2, 4, 2), "mu_v": (2, 4, 2, 3), "lambda_v": (2, 4, 2, 3),
                      "tau": (2, 4), "log_likelihood": (2, 4)}
    assert not np.allclose(draws["w0"][0], draws["w0"][1])  # chains are seeded differently


def test_chains_restart_from_given_sites_and_from_the_post_warmup_state():
    d, eta, rng = simulate(60, [6, 4], 0)
    y = eta + rng.normal(size=60)
    kernel = FMGibbs(d, y, rank=2)
    mcmc = MCMC(kernel, num_warmup=20, num_samples=5, progress_bar=False)
    mcmc.run(jax.random.key(0))
    last = {k: v[-1] for k, v in mcmc.get_samples().items()}

    # A start from given sites computes the caches from them.
    data = kernel.data
    state = init(jax.random.key(1), data, rank=2, n_groups=2, params=last)
    np.testing.assert_allclose(state.v, last["v"])
    np.testing.assert_allclose(
        state.e, y - fm_predict(last["w0"], last["w"], last["v"], d.indices, d.values),
        atol=1e-5)
    with pytest.raises(ValueError, match="unknown sites"):
        init(jax.random.key(1), data, rank=2, n_groups=2, params={"beta": 1.0})

    mcmc.post_warmup_state = mcmc.last_state  # continue the same chain without warm-up
    mcmc.run(jax.random.key(2))
    assert mcmc.get_samples()["w"].shape == (5, 10)
    mcmc2 = MCMC(FMGibbs(d, y, rank=2), num_warmup=0, num_samples=3, progress_bar=False)
    mcmc2.run(jax.random.key(3), init_params=last)
    assert np.all(np.isfinite(mcmc2.get_samples()["v"]))


# --- agreement with NUTS on the same model ---------------------------------------------------


def _agreement(likelihood: str, nuts_warmup: int, nuts_samples: int, nuts_chains: int,
               gibbs_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """z-scores of the posterior-mean differences and sd ratios of 10 held-out predictions."""
    d, eta, rng = simulate(500, [12, 12], 0, dtype=np.float64)
    weight = None
    if likelihood == "probit":
        y = (eta + rng.normal(size=eta.shape) > 0).astype(np.float64)
    elif likelihood == "weighted":
        weight = rng.uniform(0.3, 3.0, eta.shape)
        y = eta + rng.normal(0.0, 0.5, eta.shape) / np.sqrt(weight)
        likelihood = "gaussian"
    else:
        y = eta + rng.normal(0.0, 0.5, eta.shape)
    held_out, _, _ = simulate(10, [12, 12], 1, dtype=np.float64)

    g = run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=2,
                  likelihood=likelihood, sample_weight=weight, num_warmup=1000,
                  num_samples=gibbs_samples, num_chains=2, rng_key=jax.random.key(0),
                  progress_bar=False)
    mcmc = MCMC(NUTS(fm_model, init_strategy=init_to_uniform(radius=0.1)),
                num_warmup=nuts_warmup, num_samples=nuts_samples, num_chains=nuts_chains,
                chain_method="sequential", progress_bar=False)
    mcmc.run(jax.random.key(1), d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=2,
             likelihood=likelihood, sample_weight=weight)
    n = mcmc.get_samples(group_by_chain=True)

    def predictions(s: dict) -> np.ndarray:  # (chain, draw, row)
        f = jax.vmap(jax.vmap(lambda w0, w, v: fm_predict(w0, w, v, held_out.indices,
                                                          held_out.values)))
        return np.asarray(f(s["w0"], s["w"], s["v"]))

    pg, pn = predictions(g), predictions(n)
    mcse_g = np.array([float(az.mcse(pg[..., j])) for j in range(10)])
    mcse_n = np.array([float(az.mcse(pn[..., j])) for j in range(10)])
    z = (pg.mean((0, 1)) - pn.mean((0, 1))) / np.hypot(mcse_g, mcse_n)
    return z, pg.std((0, 1)) / pn.std((0, 1))


# Held-out predictions are identifiable (unlike v), so both samplers must agree on them up to
# Monte Carlo error. Each |z| <= 3 has a false-alarm rate of 0.3% for correct samplers; the
# seeds are fixed, so the outcome is deterministic. With NUTS ESS ~ 450 per row the relative
# Monte Carlo error of a posterior sd is ~ 1/sqrt(2 ESS) ~ 3.5%, so 15% is over 4 such errors,
# while a wrong conditional (e.g. tau's Gamma shape off by the weights) moves sds by 20-30%.
def test_gibbs_agrees_with_nuts_on_a_small_problem(x64):
    z, sd_ratio = _agreement("gaussian", nuts_warmup=300, nuts_samples=500, nuts_chains=1,
                             gibbs_samples=5000)
    assert np.all(np.abs(z) <= 3.0), z
    assert np.all(np.abs(sd_ratio - 1.0) <= 0.15), sd_ratio


@pytest.mark.slow
@pytest.mark.parametrize("likelihood", ["gaussian", "probit", "weighted"])
def test_gibbs_agrees_with_nuts_at_full_length(x64, likelihood):
    z, sd_ratio = _agreement(likelihood, nuts_warmup=1000, nuts_samples=1000, nuts_chains=2,
                             gibbs_samples=20000)
    assert np.all(np.abs(z) <= 3.0), z
    assert np.all(np.abs(sd_ratio - 1.0) <= 0.15), sd_ratio


# --- probit ----------------------------------------------------------------------------------


def test_probit_recovers_the_click_probability():
    sizes = [40, 30]
    rng = np.random.default_rng(0)
    d = from_sparse(onehot_rows(4000, sizes, rng), group_sizes=sizes)
    test = d.with_rows(onehot_rows(2000, sizes, rng))
    w, v = rng.normal(0, 0.7, 70), rng.normal(0, 0.7, (70, 2))
    eta = np.asarray(fm_predict(-0.3, w, v, d.indices, d.values))
    p_true = norm.cdf(fm_predict(-0.3, w, v, test.indices, test.values))
    y = (eta + rng.normal(size=eta.shape) > 0).astype(np.float32)
    y_test = rng.uniform(size=p_true.shape) < p_true

    draws = run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=2,
                      likelihood="probit", num_warmup=300, num_samples=300,
                      rng_key=jax.random.key(0), progress_bar=False)
    assert "tau" not in draws
    prob = jax.vmap(lambda w0, w, v: norm.cdf(fm_predict(w0, w, v, test.indices, test.values)))
    p_draws = np.asarray(prob(draws["w0"][0], draws["w"][0], draws["v"][0]))
    p_hat = p_draws.mean(0)
    lo, hi = np.quantile(p_draws, [0.05, 0.95], axis=0)
    # Measured with these seeds: corr 0.958, AUC 0.867 vs oracle 0.885, coverage 0.85. The bounds
    # leave room for seed-to-seed noise but fail a sampler that ignores the data or the link.
    assert np.corrcoef(p_hat, p_true)[0, 1] > 0.9
    assert roc_auc_score(y_test, p_hat) > roc_auc_score(y_test, p_true) - 0.04
    assert 0.75 <= np.mean((p_true >= lo) & (p_true <= hi)) <= 0.98


def test_probit_truncated_normal_respects_the_sign_far_in_the_tails():
    yhat = jnp.array([-40.0, -8.0, 0.0, 8.0, 40.0, -40.0, 0.0, 40.0])
    y = jnp.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    u = jax.random.uniform(jax.random.key(0), (1000, 8), minval=1e-7)
    z = yhat + jax.vmap(lambda u: gibbs._truncnorm_residual(u, yhat, y))(u)
    assert np.all(np.isfinite(z))
    assert np.all(np.where(y == 1, z >= 0, z <= 0))
    # Unconstrained side: z - yhat is close to a standard normal.
    assert abs(float(jnp.mean(z[:, 3] - 8.0))) < 0.1
    assert abs(float(jnp.std(z[:, 3])) - 1.0) < 0.1


def test_gamma_sampler_matches_moments():
    shape = jnp.array([0.3, 1.0, 2.5, 400.0])
    keys = jax.random.split(jax.random.key(0), 4000)
    u = jax.random.uniform(jax.random.key(1), (4000, 4))
    x = jax.vmap(lambda k, u: gibbs._gamma(k, shape, u))(keys, u)
    # Gamma(a, 1): mean a, variance a; 4000 draws give a standard error of sqrt(a / 4000).
    assert np.all(np.abs(x.mean(0) - shape) <= 4 * np.sqrt(shape / 4000)), x.mean(0)
    np.testing.assert_allclose(x.var(0), shape, rtol=0.15)


def test_priors_enter_the_sweep():
    # A huge prior precision on w0 pins it at 0; the default prior lets it follow the data.
    d, eta, _ = simulate(200, [5, 5], 0)
    y = eta + 3.0
    data = prepare_data(d.indices, d.values, d.group_of_feature, y, n_groups=2)
    for reg0, expect_zero in [(1e8, True), (1.0, False)]:
        state = init(jax.random.key(0), data, rank=2, n_groups=2)
        for _ in range(30):
            state = step(state, data, priors=FMPriors(reg0=reg0))
        assert (abs(float(state.w0)) < 1e-3) == expect_zero


@pytest.mark.parametrize("task", ["regression", "binary"])
def test_tracked_log_likelihood_equals_the_recomputed_one(task):
    # The kernel's per-draw total (from the cached residuals) must match a fresh pass over
    # every row with bayesfm.model.log_likelihood; float32 sums of ~400 terms: 1e-3 relative.
    import jax.numpy as jnp

    from bayesfm.data import from_sparse, simulate_fm
    from bayesfm.model import fm_predict, log_likelihood

    sim = simulate_fm(400, group_sizes=(10, 8), rank=2, task=task, seed=2)
    d = from_sparse(sim.X, groups=sim.groups)
    lik = "gaussian" if task == "regression" else "probit"
    out = run_gibbs(d.indices, d.values, d.group_of_feature, sim.y, n_groups=2, rank=2,
                    likelihood=lik, num_warmup=20, num_samples=5, rng_key=jax.random.key(0),
                    progress_bar=False)
    for t in range(5):
        eta = fm_predict(out["w0"][0, t], out["w"][0, t], out["v"][0, t], d.indices, d.values)
        tau = out["tau"][0, t] if lik == "gaussian" else None
        want = float(jnp.sum(log_likelihood(eta, jnp.asarray(sim.y, eta.dtype), lik, tau)))
        np.testing.assert_allclose(out["log_likelihood"][0, t], want, rtol=1e-3)
