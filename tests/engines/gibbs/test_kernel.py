"""The Gibbs MCMC kernel and run function, and their agreement with NUTS
(bayesfm.engines.gibbs.kernel and .run)."""

from __future__ import annotations

import dataclasses

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import MCMC, NUTS, init_to_uniform

import bayesfm.engines.gibbs.sweep as sweep
from bayesfm.data import from_sparse, simulate_fm
from bayesfm.engines.gibbs import FMGibbs, init, run_gibbs
from bayesfm.model import fm_model, fm_predict, get_likelihood, pointwise_log_likelihood
from bayesfm.model.likelihoods.binary import Binary
from tests._helpers import gibbs_parts, simulate


def test_step_traces_once_per_shape(monkeypatch):
    calls = []
    original = sweep._sweep

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(sweep, "_sweep", counting)
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


@dataclasses.dataclass(frozen=True)
class _Cloglog(Binary):
    """A binary likelihood with no Gibbs latent part (not registered anywhere)."""

    name = "cloglog"


def test_a_likelihood_without_a_latent_part_is_rejected_with_a_clear_error():
    d, eta, _ = simulate(20, [3, 3], 0)
    with pytest.raises(ValueError, match="likelihood='cloglog'; Gibbs samples gaussian, probit, "
                                         "logit, ordinal"):
        FMGibbs(d, eta > 0, rank=2, likelihood=_Cloglog())
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
    parts = gibbs_parts(n_groups=2, rank=2)
    state = init(jax.random.key(1), data, **parts, params=last)
    np.testing.assert_allclose(state.params["v"], last["v"])
    np.testing.assert_allclose(
        state.e, y - fm_predict(last["w0"], last["w"], last["v"], d.indices, d.values),
        atol=1e-5)
    with pytest.raises(ValueError, match="unknown sites"):
        init(jax.random.key(1), data, **parts, params={"beta": 1.0})

    mcmc.post_warmup_state = mcmc.last_state  # continue the same chain without warm-up
    mcmc.run(jax.random.key(2))
    assert mcmc.get_samples()["w"].shape == (5, 10)
    mcmc2 = MCMC(FMGibbs(d, y, rank=2), num_warmup=0, num_samples=3, progress_bar=False)
    mcmc2.run(jax.random.key(3), init_params=last)
    assert np.all(np.isfinite(mcmc2.get_samples()["v"]))


def test_logit_takes_integer_weights_only():
    d, eta, _ = simulate(20, [3, 3], 0)
    with pytest.raises(ValueError, match="non-negative integers"):
        FMGibbs(d, eta > 0, rank=2, likelihood="logit", sample_weight=np.full(20, 1.5))
    FMGibbs(d, eta > 0, rank=2, likelihood="logit", sample_weight=np.arange(20) % 3)


@pytest.mark.parametrize("task, lik", [("regression", "gaussian"), ("binary", "probit"),
                                       ("binary", "logit")])
def test_tracked_log_likelihood_equals_the_recomputed_one(task, lik):
    # The kernel's per-draw total (from the cached residuals) must match a fresh pass over
    # every row with bayesfm.model.pointwise_log_likelihood; float32 sums of ~400 terms: 1e-3
    # relative.
    sim = simulate_fm(400, group_sizes=(10, 8), rank=2, task=task, seed=2)
    d = from_sparse(sim.X, groups=sim.groups)
    out = run_gibbs(d.indices, d.values, d.group_of_feature, sim.y, n_groups=2, rank=2,
                    likelihood=lik, num_warmup=20, num_samples=5, rng_key=jax.random.key(0),
                    progress_bar=False)
    for t in range(5):
        eta = fm_predict(out["w0"][0, t], out["w"][0, t], out["v"][0, t], d.indices, d.values)
        params = {"tau": out["tau"][0, t]} if lik == "gaussian" else {}
        lp = pointwise_log_likelihood(get_likelihood(lik), jnp.asarray(sim.y, eta.dtype), eta,
                                      params)
        np.testing.assert_allclose(out["log_likelihood"][0, t], float(jnp.sum(lp)), rtol=1e-3)


# --- agreement with NUTS on the same model ---------------------------------------------------


def _agreement(likelihood: str, nuts_warmup: int, nuts_samples: int, nuts_chains: int,
               gibbs_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """z-scores of the posterior-mean differences and sd ratios of 10 held-out predictions."""
    d, eta, rng = simulate(500, [12, 12], 0, dtype=np.float64)
    weight = None
    if likelihood == "probit":
        y = (eta + rng.normal(size=eta.shape) > 0).astype(np.float64)
    elif likelihood in ("logit", "logit_counts"):  # counts: each row stands for 1-3 rows
        y = (rng.logistic(size=eta.shape) < eta).astype(np.float64)
        if likelihood == "logit_counts":
            weight = rng.integers(1, 4, eta.shape).astype(np.float64)
        likelihood = "logit"
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
@pytest.mark.parametrize("likelihood", ["gaussian", "probit", "weighted", "logit",
                                        "logit_counts"])
def test_gibbs_agrees_with_nuts_at_full_length(x64, likelihood):
    z, sd_ratio = _agreement(likelihood, nuts_warmup=1000, nuts_samples=1000, nuts_chains=2,
                             gibbs_samples=20000)
    assert np.all(np.abs(z) <= 3.0), z
    assert np.all(np.abs(sd_ratio - 1.0) <= 0.15), sd_ratio


def test_a_later_run_reuses_the_compiled_loop_only_for_equal_settings():
    """The sweep loop is cached by the kernel's settings; data never key it, settings do.

    A cached program holds the settings it was traced with as constants (priors, reference
    rows), so a run whose settings differ must not reuse it: its draws must be those of a
    fresh process (here: the cache emptied first), bit for bit.
    """
    from bayesfm.engines import drive
    from bayesfm.model.priors import FMPriors

    d, eta, _ = simulate(31, [4, 3], 0)  # a shape no other test uses

    def run(seed, priors=FMPriors(), ref_rows=None):
        y = eta + np.random.default_rng(seed).normal(size=eta.shape)
        return run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=2,
                         priors=priors, ref_rows=ref_rows, num_warmup=3, num_samples=4,
                         rng_key=jax.random.key(seed), progress_bar=False)

    run(0)
    hits = drive._cached_loop.cache_info().hits
    run(1)  # new data, same settings and shapes: the same program
    assert drive._cached_loop.cache_info().hits == hits + 1
    other = FMPriors(reg0=3.0)
    changed = [run(2, priors=other), run(2, ref_rows=[3, 5, 7])]
    drive._cached_loop.cache_clear()
    fresh = [run(2, priors=other)]
    drive._cached_loop.cache_clear()
    fresh.append(run(2, ref_rows=[3, 5, 7]))
    for a, b in zip(changed, fresh, strict=True):
        for k in ("w0", "w", "v", "eta_ref"):
            if k in b:
                np.testing.assert_array_equal(a[k], b[k])
    # and the settings did change the draws (the check above could not pass by accident)
    assert not np.array_equal(changed[0]["w0"], run(2)["w0"])


def test_bucketed_rows_reuse_one_program_and_weigh_nothing():
    """Designs of nearby row counts share a shape bucket, so the second fit compiles nothing.

    41 and 45 rows both pad to the bucket of 64 (zero-weight rows without features); the
    pointwise log likelihood keeps the real rows only, the padding rows weigh 0, and the
    reference rows (data of the sweep, not constants) may differ between the fits. With the
    same data, the bucketed run's posterior means of the 20 reference rows' scores are
    within Monte Carlo error of the unpadded run's: their sds are about 0.3, so 600 draws
    (an ESS of a few hundred) put the mean absolute difference at a few hundredths, against
    a tolerance of 0.1; a padding row that counted would move the scores by far more.
    """
    import jax.monitoring

    from bayesfm.engines.gibbs.blocks import prepare_data
    from bayesfm.engines.gibbs.mesh import row_bucket

    assert row_bucket(41) == row_bucket(45) == 64
    compiles = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, secs, **kw: compiles.append(event)
        if event == "/jax/core/compile/backend_compile_duration" else None)

    designs = {n: simulate(n, [5, 3], 7) for n in (41, 45)}  # eager programs made here

    def run(n, seed, bucket=True, sweeps=(3, 4)):
        d, eta, _ = designs[n]
        y = eta + np.random.default_rng(seed).normal(size=eta.shape)
        return run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=2,
                         num_warmup=sweeps[0], num_samples=sweeps[1], bucket_rows=bucket,
                         ref_rows=np.arange(min(n, 20)), pointwise_log_likelihood=True,
                         rng_key=jax.random.key(seed), progress_bar=False)

    d, eta, _ = designs[41]
    data = prepare_data(d.indices, d.values, d.group_of_feature, eta, n_groups=2,
                        bucket_rows=True)
    assert data.y.shape == (64,) and np.all(np.asarray(data.weight)[41:] == 0)
    assert np.all(np.asarray(data.weight)[:41] == 1)
    out = run(41, 0)
    assert out["log_likelihood_pointwise"].shape == (1, 4, 41)
    before = len(compiles)
    out = run(45, 1)
    assert len(compiles) == before, "a row count of the same bucket compiled again"
    assert out["log_likelihood_pointwise"].shape == (1, 4, 45)
    padded, plain = run(41, 2, True, (200, 600)), run(41, 2, False, (200, 600))
    diff = padded["eta_ref"].mean(axis=(0, 1)) - plain["eta_ref"].mean(axis=(0, 1))
    assert np.mean(np.abs(diff)) < 0.1, diff
