"""The blocked Gibbs sweep with the degree-3 term (bayesfm.engines.gibbs.terms.Degree3Term)."""

from __future__ import annotations

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import MCMC, NUTS, init_to_uniform

from bayesfm import simulate_fm
from bayesfm.data import from_sparse
from bayesfm.engines.gibbs import (
    FMGibbs,
    init,
    latent_for,
    prepare_data,
    run_gibbs,
    step,
    term_for,
)
from bayesfm.engines.gibbs.mesh import row_mesh
from bayesfm.engines.gibbs.sweep import column_draws
from bayesfm.model import Degree3FM, fm_model, fm_score, get_likelihood
from tests._helpers import gibbs_parts, mixed_design, onehot_rows
from tests._model_helpers import dense_degree3, random_design

DEG3 = Degree3FM()


def deg3_score(w0, w, v, v3, design):
    """The degree-3 model's score of a design's rows."""
    return fm_score({"w0": w0, "w": w, "v": v, "v3": v3}, DEG3, design.indices, design.values,
                    design.group_of_feature)


def dense_caches(X, v, v3):
    """The (3k, N) row sums q, S, Q of the sampler, from the dense matrix."""
    return np.concatenate([(X @ v).T, (X @ v3).T, ((X * X) @ (v3 * v3)).T])


def dense_score(X, w0, w, v, v3):
    """The degree-3 score from dense matrices (power sums; checked against the loops below)."""
    q, s2 = X @ v, (X * X) @ (v * v)
    p1, p2, p3 = X @ v3, (X * X) @ (v3 * v3), (X**3) @ (v3**3)
    pair = 0.5 * np.sum(q * q - s2, axis=1)
    return w0 + X @ w + pair + np.sum(p1**3 - 3 * p1 * p2 + 2 * p3, axis=1) / 6


@pytest.mark.parametrize("layout", ["dense", "compact"])
def test_cache_equals_the_model_score_and_dense_triple_loops(x64, layout):
    X, d = random_design(40, [4, 5, 3], 1)  # multi-hot real values: same-group triples
    rng = np.random.default_rng(2)
    p = d.n_features
    w0, w = 0.3, rng.normal(size=p)
    v, v3 = rng.normal(size=(p, 3)), rng.normal(size=(p, 3))
    data = prepare_data(d.indices, d.values, d.group_of_feature, np.zeros(40), n_groups=3,
                        layout=layout)
    term = term_for(DEG3, n_groups=3, rank=3)
    yhat, q = term.predict_cache({"w0": w0, "w": jnp.asarray(w), "v": jnp.asarray(v),
                                  "v3": jnp.asarray(v3)}, data)
    Xd = X.toarray()
    loops = dense_degree3(w0, w, v, v3, Xd)
    np.testing.assert_allclose(yhat, loops, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(deg3_score(w0, w, v, v3, d), loops, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dense_score(Xd, w0, w, v, v3), loops, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(q, dense_caches(Xd, v, v3), rtol=1e-5, atol=1e-5)
    assert np.max(np.sum(Xd != 0, axis=1)) >= 5  # the loops did see many triples


@pytest.mark.parametrize("likelihood", ["gaussian", "weighted", "probit"])
def test_sweeps_keep_the_residual_and_row_sums_exact(likelihood):
    d = mixed_design(300, 6)  # one-hot, multi-hot and numeric groups
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    weight = rng.uniform(0.2, 3.0, 300) if likelihood == "weighted" else None
    lik = "probit" if likelihood == "probit" else "gaussian"
    if lik == "probit":
        y = (y > 0).astype(float)
    data = prepare_data(d.indices, d.values, d.group_of_feature, y, n_groups=3,
                        sample_weight=weight)
    parts = gibbs_parts(lik, degree=3, n_groups=3, rank=2)
    state = init(jax.random.key(0), data, **parts)
    for _ in range(10):
        state = step(state, data, **parts)
    p = state.params
    yhat = deg3_score(p["w0"], p["w"], p["v"], p["v3"], d)
    target = y if lik == "gaussian" else state.latent["z"]
    np.testing.assert_allclose(state.e, target - yhat, atol=2e-4)
    Xd = d.to_csr().toarray()
    np.testing.assert_allclose(state.q, dense_caches(Xd, np.asarray(p["v"]),
                                                     np.asarray(p["v3"])), atol=2e-4)
    v3 = np.asarray(p["v3"])
    assert np.all(np.isfinite(v3)) and float(np.std(v3)) > 0.01
    if lik == "probit":
        assert np.all((np.asarray(state.latent["z"]) > 0) == (y == 1))


def _brute_force_column(Xd, y, s, theta, lam, mu, gof, tau, blocks, c, u):
    """Column ``c`` of ``theta = [w | v | v3]`` drawn block after block from the conditional
    of the dense model, with standard-normal noise ``u`` for every draw.

    Every parameter enters the score linearly, so ``yhat = g + theta_ic h`` with
    ``g = yhat(theta_ic = 0)`` and ``h = yhat(1) - yhat(0)``; the conditional is then the
    Gaussian of DESIGN section 3, computed here from the dense score with no caches.
    """
    theta = theta.copy()
    k = (theta.shape[1] - 1) // 2

    def score(t):
        return dense_score(Xd, 0.0, t[:, 0], t[:, 1 : 1 + k], t[:, 1 + k :])

    for feats in blocks:
        new = {}
        for i in feats:
            t0, t1 = theta.copy(), theta.copy()
            t0[i, c], t1[i, c] = 0.0, 1.0
            g = score(t0)
            h = score(t1) - g
            prec = lam[gof[i], c] + tau * np.sum(s * h * h)
            mean = (lam[gof[i], c] * mu[gof[i], c] + tau * np.sum(s * h * (y - g))) / prec
            new[i] = mean + u / np.sqrt(prec)
        for i, val in new.items():  # a block is drawn at once, given the blocks before it
            theta[i, c] = val
    return theta[:, c]


@pytest.mark.parametrize("weighted", [False, True])
def test_column_draws_have_the_brute_force_conditional_mean_and_variance(x64, weighted):
    # Zero noise gives the conditional means and unit noise adds one conditional sd to each,
    # so equality at both checks the mean and the variance of every draw of every column
    # (w, v and v3 at rank 2). Columns are drawn in order and the later blocks of a column are
    # conditioned on the earlier draws, as in the sweep.
    X, d = random_design(60, [4, 5, 3], 5)
    Xd = X.toarray()
    rng = np.random.default_rng(3)
    p, k = d.n_features, 2
    theta = rng.normal(0, 0.7, (p, 1 + 2 * k))
    lam, mu = rng.uniform(0.5, 3.0, (3, 1 + 2 * k)), rng.normal(0, 0.3, (3, 1 + 2 * k))
    s = rng.uniform(0.3, 3.0, 60) if weighted else np.ones(60)
    y = rng.normal(size=60)
    tau = 1.7
    data = prepare_data(d.indices, d.values, d.group_of_feature, y, n_groups=3,
                        sample_weight=s if weighted else None, dtype=np.float64)
    blocks = [[int(i) for i in np.asarray(bs.features[b]) if i < p]
              for bs in data.blocks for b in range(bs.features.shape[0])]
    assert sum(len(b) > 0 for b in blocks) > 3  # multi-hot groups: several blocks each
    score = dense_score(Xd, 0.0, theta[:, 0], theta[:, 1 : 1 + k], theta[:, 1 + k :])
    term = term_for(DEG3, n_groups=3, rank=k)
    _, q = term.predict_cache({"w0": 0.0, "w": jnp.asarray(theta[:, 0]),
                               "v": jnp.asarray(theta[:, 1 : 1 + k]),
                               "v3": jnp.asarray(theta[:, 1 + k :])}, data)
    for u in (0.0, 1.0):
        noise = [jnp.full(((1 + 2 * k) * bs.features.size,), u) for bs in data.blocks]
        draw = column_draws(data, term, latent_for(get_likelihood("gaussian")), row_mesh(1))
        got, e, q_new = draw(jnp.asarray(theta), jnp.asarray(y - score), q, data,
                             jnp.asarray(lam), jnp.asarray(mu), jnp.asarray(tau), noise)
        want = theta.copy()
        for column in range(1 + 2 * k):
            want[:, column] = _brute_force_column(Xd, y, s, want, lam, mu, d.group_of_feature,
                                                  tau, blocks, column, u)
            np.testing.assert_allclose(np.asarray(got)[:, column], want[:, column], rtol=1e-8,
                                       atol=1e-8, err_msg=f"column {column}")
        t = np.asarray(got)
        new_score = dense_score(Xd, 0.0, t[:, 0], t[:, 1 : 1 + k], t[:, 1 + k :])
        np.testing.assert_allclose(e, y - new_score, atol=1e-8)
        np.testing.assert_allclose(q_new, dense_caches(Xd, t[:, 1 : 1 + k], t[:, 1 + k :]),
                                   atol=1e-8)


def test_restart_from_given_sites_and_tracked_log_likelihood():
    sim = simulate_fm(150, group_sizes=(6, 5, 4), rank=2, degree=3, seed=3)
    d = from_sparse(sim.X, groups=sim.groups)
    kernel = FMGibbs(d, sim.y, rank=2, degree=3)
    mcmc = MCMC(kernel, num_warmup=10, num_samples=3, progress_bar=False)
    mcmc.run(jax.random.key(0))
    draws = mcmc.get_samples()
    assert draws["v3"].shape == (3, 15, 2) and draws["lambda_v3"].shape == (3, 3, 2)
    last = {k: v[-1] for k, v in draws.items()}
    parts = gibbs_parts(degree=3, n_groups=3, rank=2)
    state = init(jax.random.key(1), kernel.data, **parts, params=last)
    eta = deg3_score(last["w0"], last["w"], last["v"], last["v3"], d)
    np.testing.assert_allclose(state.e, sim.y - eta, atol=1e-4)
    # The kernel's per-draw total log likelihood (from its caches) equals a fresh pass.
    tau = last["tau"]
    want = np.sum(0.5 * np.log(tau / (2 * np.pi)) - 0.5 * tau * (sim.y - np.asarray(eta)) ** 2)
    np.testing.assert_allclose(last["log_likelihood"], want, rtol=1e-3)
    with pytest.raises(ValueError, match="unknown sites"):
        init(jax.random.key(1), kernel.data, **parts, params={"v4": 1.0})
    assert FMGibbs(d, sim.y > np.median(sim.y), rank=2, degree=3,
                   likelihood="logit").latent.name == "logit"
    # Refused by the pre-refactor degree-3 engine; the one engine keeps moments of every term.
    assert FMGibbs(d, sim.y, rank=2, degree=3, store="moments", num_samples=3).store == "moments"


# Held-out predictions are identifiable, so Gibbs and NUTS on the same degree-3 posterior must
# agree up to Monte Carlo error: the test and tolerances of test_kernel.py's plain-FM agreement
# test (|z| <= 3 per row: 0.3% false alarms for correct samplers; sd ratios within 15%, over
# four Monte Carlo errors of an sd at NUTS ESS ~ 450, while a wrong conditional moves sds
# 20-30%).
def _deg3_agreement(n_rows, sizes, nuts_warmup, nuts_samples, nuts_chains, gibbs_samples):
    rng = np.random.default_rng(0)
    d = from_sparse(onehot_rows(n_rows, sizes, rng), group_sizes=sizes, dtype=np.float64)
    p, G = d.n_features, d.n_groups
    w, v, v3 = rng.normal(0, 0.5, p), rng.normal(0, 0.5, (p, 2)), rng.normal(0, 0.7, (p, 2))
    gof = d.group_of_feature
    eta = np.asarray(deg3_score(0.5, w, v, v3, d))
    y = eta + rng.normal(0.0, 0.5, eta.shape)
    held_out = d.with_rows(onehot_rows(10, sizes, np.random.default_rng(1)))

    g = run_gibbs(d.indices, d.values, gof, y, n_groups=G, rank=2, degree=3, num_warmup=1000,
                  num_samples=gibbs_samples, num_chains=2, rng_key=jax.random.key(0),
                  progress_bar=False)
    mcmc = MCMC(NUTS(fm_model, init_strategy=init_to_uniform(radius=0.1)),
                num_warmup=nuts_warmup, num_samples=nuts_samples, num_chains=nuts_chains,
                chain_method="sequential", progress_bar=False)
    mcmc.run(jax.random.key(1), d.indices, d.values, gof, y, n_groups=G, rank=2, degree=3)
    n = mcmc.get_samples(group_by_chain=True)

    def predictions(s):
        f = jax.vmap(jax.vmap(lambda w0, w, v, v3: deg3_score(w0, w, v, v3, held_out)))
        return np.asarray(f(s["w0"], s["w"], s["v"], s["v3"]))

    pg, pn = predictions(g), predictions(n)
    mcse_g = np.array([float(az.mcse(pg[..., j])) for j in range(10)])
    mcse_n = np.array([float(az.mcse(pn[..., j])) for j in range(10)])
    z = (pg.mean((0, 1)) - pn.mean((0, 1))) / np.hypot(mcse_g, mcse_n)
    return z, pg.std((0, 1)) / pn.std((0, 1))


@pytest.mark.slow
def test_degree3_gibbs_agrees_with_nuts(x64):
    z, sd_ratio = _deg3_agreement(300, [6, 5, 4], nuts_warmup=1000, nuts_samples=1000,
                                  nuts_chains=2, gibbs_samples=20000)
    print(f"z = {np.round(z, 2)}, sd ratio = {np.round(sd_ratio, 3)}")  # shown with -s
    assert np.all(np.abs(z) <= 3.0), z
    assert np.all(np.abs(sd_ratio - 1.0) <= 0.15), sd_ratio
