"""The ordinal latent part of the Gibbs sweep (bayesfm.engines.gibbs.latents.ordinal)."""

from __future__ import annotations

import arviz as az
import jax
import numpy as np
import pytest
from numpyro.infer import MCMC, NUTS, init_to_uniform

from bayesfm import simulate_fm
from bayesfm.data import from_sparse
from bayesfm.engines.gibbs import init, prepare_data, run_gibbs, step
from bayesfm.model import fm_model, fm_predict
from tests._helpers import gibbs_parts


@pytest.fixture(scope="module")
def small():
    return simulate_fm(n_rows=200, group_sizes=(8, 6), rank=2, task="ordinal", seed=3)



def test_sweeps_keep_caches_exact_and_latents_inside_their_class(small):
    d = from_sparse(small.X, groups=small.groups)
    data = prepare_data(d.indices, d.values, d.group_of_feature, small.y, n_groups=2)
    parts = gibbs_parts("ordinal", n_classes=4, n_groups=2, rank=2)
    state = init(jax.random.key(0), data, **parts, num_warmup=5)
    for _ in range(10):
        state = step(state, data, **parts)
    p, z = state.params, state.latent["z"]
    yhat = fm_predict(p["w0"], p["w"], p["v"], d.indices, d.values)
    np.testing.assert_allclose(z - state.e, yhat, atol=2e-4)
    np.testing.assert_allclose(state.q, (d.to_csr() @ np.asarray(p["v"])).T, atol=2e-4)
    cut = np.asarray(p["cutpoints"])
    assert cut[0] == 0 and np.all(np.diff(cut) > 0)
    bounds = np.concatenate([[-np.inf], cut, [np.inf]])
    z = np.asarray(z)
    assert np.all((z >= bounds[small.y] - 1e-5) & (z <= bounds[small.y + 1] + 1e-5))
    assert float(state.latent["tau"]) == 1.0  # unit noise precision on the latent scale
    assert int(state.latent["iteration"]) == 10


def test_run_gibbs_ordinal_returns_sites_and_acceptance(small):
    d = from_sparse(small.X, groups=small.groups)
    out = run_gibbs(d.indices, d.values, d.group_of_feature, small.y, n_groups=2, rank=2,
                    likelihood="ordinal", n_classes=4, num_warmup=50, num_samples=40,
                    num_chains=2, rng_key=jax.random.key(0), progress_bar=False)
    assert out["cutpoints"].shape == (2, 40, 3) and "tau" not in out
    acc = out["acceptance_rate"]
    # Adapted towards 0.44 during warm-up; 40 draws x 2 cutpoints leave a wide margin.
    assert acc.shape == (2, 40) and 0.15 < acc.mean() < 0.8


# The same agreement test as the plain FM's (test_kernel.py), on ordinal data: held-out
# scores are identified (the first cutpoint is fixed), so both samplers must agree on their
# posterior means within 3 Monte Carlo standard errors (0.3% false-alarm rate per row for
# correct samplers; seeds fixed) and on their sds within 15% (about 4 Monte Carlo errors of a
# sd at NUTS ESS ~ 400; a wrong cutpoint or latent update moves them by more). Slow: 2.5-4.5 min
# on two loaded cores (NUTS through the ordinal likelihood dominates).
@pytest.mark.slow
def test_gibbs_agrees_with_nuts_on_ordinal_data(x64):
    sim = simulate_fm(510, group_sizes=(12, 12), rank=2, task="ordinal", seed=0)
    d = from_sparse(sim.X[:500], groups=sim.groups, dtype=np.float64)
    held = from_sparse(sim.X[500:], groups=sim.groups, dtype=np.float64)
    y = sim.y[:500]
    g = run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=2,
                  likelihood="ordinal", n_classes=4, num_warmup=1000, num_samples=5000,
                  num_chains=2, rng_key=jax.random.key(0), progress_bar=False)
    mcmc = MCMC(NUTS(fm_model, init_strategy=init_to_uniform(radius=0.1)), num_warmup=300,
                num_samples=500, num_chains=1, progress_bar=False)
    mcmc.run(jax.random.key(1), d.indices, d.values, d.group_of_feature, y.astype(float),
             n_groups=2, rank=2, likelihood="ordinal", n_classes=4)
    n = mcmc.get_samples(group_by_chain=True)

    def scores(s):
        f = jax.vmap(jax.vmap(lambda w0, w, v: fm_predict(w0, w, v, held.indices, held.values)))
        return np.asarray(f(s["w0"], s["w"], s["v"]))

    pg, pn = scores(g), scores(n)
    mcse = np.hypot([float(az.mcse(pg[..., j])) for j in range(10)],
                    [float(az.mcse(pn[..., j])) for j in range(10)])
    z = (pg.mean((0, 1)) - pn.mean((0, 1))) / mcse
    assert np.all(np.abs(z) <= 3.0), z
    ratio = pg.std((0, 1)) / pn.std((0, 1))
    assert np.all(np.abs(ratio - 1.0) <= 0.15), ratio
    cut_z = ((g["cutpoints"][..., 1:].mean((0, 1)) - n["cutpoints"][..., 1:].mean((0, 1)))
             / np.hypot(az.mcse(g["cutpoints"][..., 1:]), az.mcse(n["cutpoints"][..., 1:])))
    assert np.all(np.abs(cut_z) <= 3.0), cut_z


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_metropolis_class_log_prob_equals_the_models(n_classes):
    """The sweep's two-``log_ndtr`` class probability is the model's, to float32 rounding.

    Scores up to 6 sd away put rows deep in both tails (probabilities near 0 and near 1),
    where a wrong reflection or an open bound handled wrongly would be off by far more than
    the 1e-6 tolerance; the two differ only in rounding (measured: at most 1.2e-7).
    """
    import jax.numpy as jnp

    from bayesfm.engines.gibbs.latents.ordinal import _class_log_prob
    from bayesfm.model.likelihoods.ordinal import ordinal_log_prob

    rng = np.random.default_rng(n_classes)
    free = np.sort(rng.uniform(0.2, 3.0, n_classes - 2))
    cut = jnp.asarray(np.concatenate([[0.0], free]), jnp.float32)
    eta = jnp.asarray(rng.normal(scale=6.0, size=20000), jnp.float32)
    y = jnp.asarray(rng.integers(0, n_classes, 20000), jnp.float32)
    got, want = _class_log_prob(eta, y, cut), ordinal_log_prob(eta, y, cut)
    assert bool(jnp.all(jnp.isfinite(got)))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-6)
