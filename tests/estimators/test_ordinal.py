"""The ordinal FM (ordered probit): likelihood, Gibbs engine, estimator, recovery, persistence."""

from __future__ import annotations

import warnings

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from numpyro.infer import MCMC, NUTS, Predictive, init_to_uniform
from scipy.special import log_ndtr as np_log_ndtr
from scipy.special import ndtr
from scipy.stats import truncnorm
from sklearn.exceptions import ConvergenceWarning

import bayesfm
from bayesfm import BayesianFMOrdinal, simulate_fm
from bayesfm.cutpoints import class_probabilities, ordinal_log_prob
from bayesfm.data import from_sparse
from bayesfm.engines.gibbs import prepare_data
from bayesfm.engines.gibbs_ordinal import init, run_gibbs_ordinal, step, truncnorm_between
from bayesfm.model import fm_model, fm_predict, log_likelihood

FAST = dict(rank=2, num_warmup=30, num_samples=30, num_chains=1, random_state=0,
            progress_bar=False)


@pytest.fixture(scope="module")
def small():
    return simulate_fm(n_rows=200, group_sizes=(8, 6), rank=2, task="ordinal", seed=3)


@pytest.fixture(scope="module")
def fitted(small):
    fm = BayesianFMOrdinal(classes=[0, 1, 2, 3, 4], **FAST)
    with pytest.warns(Warning):  # 30 draws: the convergence check rightly complains
        return fm.fit(small.X, small.y, groups=small.groups)


# -- likelihood ----------------------------------------------------------------------------


def test_ordinal_log_prob_is_the_ordered_probit(x64):
    rng = np.random.default_rng(0)
    eta = rng.normal(0, 1.5, 400)  # the naive difference below stays accurate here
    cut = np.array([0.0, 0.4, 1.7, 2.0])
    y = rng.integers(0, 5, 400)
    bounds = np.concatenate([[-np.inf], cut, [np.inf]])
    expected = np.log(ndtr(bounds[y + 1] - eta) - ndtr(bounds[y] - eta))
    got = ordinal_log_prob(jnp.asarray(eta), jnp.asarray(y), jnp.asarray(cut))
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    # Class probabilities sum to one and agree with the log likelihood.
    p = class_probabilities(eta, cut)
    np.testing.assert_allclose(p.sum(-1), 1.0)
    np.testing.assert_allclose(np.log(p[np.arange(400), y]), expected, rtol=1e-6)


def test_ordinal_log_prob_is_accurate_and_differentiable_in_the_tails():
    cut = jnp.array([0.0, 1.0])
    eta = jnp.array([40.0, -40.0, 40.0, -40.0, 0.5])
    y = jnp.array([0, 2, 1, 1, 1])
    lp = ordinal_log_prob(eta, y, cut)
    assert np.all(np.isfinite(lp))
    # Class 0 at eta = 40: log Phi(-40); class 1 at eta = -40: log(Phi(41) - Phi(40))-ish.
    np.testing.assert_allclose(lp[0], np_log_ndtr(-40.0), rtol=1e-4)
    np.testing.assert_allclose(lp[3], np_log_ndtr(-40.0), rtol=1e-3)
    grad = jax.grad(lambda e, c: ordinal_log_prob(e, y, c).sum(), argnums=(0, 1))(eta, cut)
    assert all(np.all(np.isfinite(g)) for g in grad)


def test_two_classes_are_the_probit_model():
    rng = np.random.default_rng(1)
    eta = jnp.asarray(rng.normal(size=50))
    y = jnp.asarray(rng.integers(0, 2, 50).astype(float))
    np.testing.assert_allclose(
        log_likelihood(eta, y, "ordinal", cutpoints=jnp.zeros(1)),
        log_likelihood(eta, y, "probit"), rtol=1e-5, atol=1e-6)


def test_prior_predictive_has_ordered_cutpoints_with_the_first_at_zero():
    idx = np.array([[0, 2], [1, 3], [0, 3]])
    val = np.ones((3, 2), np.float32)
    draws = Predictive(fm_model, num_samples=200)(
        jax.random.key(0), idx, val, np.array([0, 0, 1, 1]), n_groups=2, rank=2,
        likelihood="ordinal", n_classes=5)
    cut = np.asarray(draws["cutpoints"])
    assert cut.shape == (200, 4) and np.all(cut[:, 0] == 0) and np.all(np.diff(cut) > 0)
    assert set(np.unique(draws["y"])) <= set(range(5)) and len(np.unique(draws["y"])) == 5
    with pytest.raises(ValueError, match="n_classes"):
        Predictive(fm_model, num_samples=1)(jax.random.key(0), idx, val, np.array([0, 0, 1, 1]),
                                            n_groups=2, rank=2, likelihood="ordinal")


@pytest.mark.parametrize(("lo", "hi"), [(-np.inf, -0.5), (0.3, np.inf), (-1.0, 2.0),
                                        (6.0, 6.5), (-9.0, -8.0), (-np.inf, np.inf)])
def test_truncated_normal_between_bounds_matches_scipy(lo, hi):
    u = jax.random.uniform(jax.random.key(0), (20000,), minval=1e-7)
    x = np.asarray(truncnorm_between(u, jnp.full(20000, lo), jnp.full(20000, hi)))
    assert np.all((x >= lo) & (x <= hi))
    ref = truncnorm(lo, hi)
    # 20000 draws: the standard error of the mean is sd/141; 5 such errors, plus float32.
    assert abs(x.mean() - ref.mean()) <= 5 * ref.std() / np.sqrt(20000) + 1e-3
    np.testing.assert_allclose(x.std(), ref.std(), rtol=0.05)


# -- Gibbs engine ----------------------------------------------------------------------------


def test_sweeps_keep_caches_exact_and_latents_inside_their_class(small):
    d = from_sparse(small.X, groups=small.groups)
    data = prepare_data(d.indices, d.values, d.group_of_feature, small.y, n_groups=2)
    state = init(jax.random.key(0), data, rank=2, n_groups=2, n_classes=4, num_warmup=5)
    for _ in range(10):
        state = step(state, data)
    fm = state.fm
    yhat = fm_predict(fm.w0, fm.w, fm.v, d.indices, d.values)
    np.testing.assert_allclose(fm.z - fm.e, yhat, atol=2e-4)
    np.testing.assert_allclose(fm.q, (d.to_csr() @ np.asarray(fm.v)).T, atol=2e-4)
    cut = np.asarray(state.cutpoints)
    assert cut[0] == 0 and np.all(np.diff(cut) > 0)
    bounds = np.concatenate([[-np.inf], cut, [np.inf]])
    z = np.asarray(fm.z)
    assert np.all((z >= bounds[small.y] - 1e-5) & (z <= bounds[small.y + 1] + 1e-5))
    assert float(fm.tau) == 1.0
    assert int(state.iteration) == 10


def test_run_gibbs_ordinal_returns_sites_and_acceptance(small):
    d = from_sparse(small.X, groups=small.groups)
    out = run_gibbs_ordinal(d.indices, d.values, d.group_of_feature, small.y, n_groups=2,
                            rank=2, n_classes=4, num_warmup=50, num_samples=40, num_chains=2,
                            rng_key=jax.random.key(0), progress_bar=False)
    assert out["cutpoints"].shape == (2, 40, 3) and "tau" not in out
    acc = out["acceptance_rate"]
    # Adapted towards 0.44 during warm-up; 40 draws x 2 cutpoints leave a wide margin.
    assert acc.shape == (2, 40) and 0.15 < acc.mean() < 0.8


# The same agreement test as the plain FM's (tests/test_gibbs.py), on ordinal data: held-out
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
    g = run_gibbs_ordinal(d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=2,
                          n_classes=4, num_warmup=1000, num_samples=5000, num_chains=2,
                          rng_key=jax.random.key(0), progress_bar=False)
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


# -- recovery ---------------------------------------------------------------------------------


def test_gibbs_recovers_the_planted_ordinal_model():
    sim = simulate_fm(2000, group_sizes=(40, 30, 10), rank=4, task="ordinal", seed=0)
    fm = BayesianFMOrdinal(rank=4, num_warmup=500, num_samples=500, num_chains=2,
                           random_state=0, progress_bar=False)
    with warnings.catch_warnings():
        # 1000 draws leave some hyperparameters below ESS 100 (the latent augmentation mixes
        # more slowly than the Gaussian sweep); this test is about recovery, not run length.
        warnings.simplefilter("ignore", ConvergenceWarning)
        fm.fit(sim.X[:1500], sim.y[:1500], groups=sim.groups)
    expected = sim.prob[1500:] @ np.arange(4)
    bounds = fm.predict_interval(sim.X[1500:], prob=0.9)
    cover = np.mean((bounds[:, 0] <= expected) & (expected <= bounds[:, 1]))
    # 500 held-out rows: the binomial sd of a 90% rate is 1.3%; the band 85-95% is about
    # 4 sd wide on each side. Measured with this seed: 0.894 (NUTS, 2 x 300 draws: 0.904).
    assert 0.85 <= cover <= 0.95, cover
    cut = fm.idata_["posterior"]["cutpoints"].values.reshape(-1, 3)
    lo, hi = np.quantile(cut, [0.005, 0.995], axis=0)
    assert np.all((lo[1:] <= sim.params["cutpoints"][1:]) & (sim.params["cutpoints"][1:] <= hi[1:]))
    rate = fm.idata_["sample_stats"]["acceptance_rate"].values
    assert 0.2 < rate.mean() < 0.7
    assert "cutpoints[1]" in fm.summary().index


# -- estimator ------------------------------------------------------------------------------


def test_predictions_are_consistent(fitted, small):
    X = small.X[:30]
    proba = fitted.predict_proba(X)
    assert proba.shape == (30, 5)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(fitted.predict(X), fitted.classes_[proba.argmax(1)])
    mean, sd = fitted.predict_expected(X, return_std=True)
    np.testing.assert_allclose(fitted.predict_draws(X).mean(0), mean)
    bounds = fitted.predict_interval(X, 0.9)
    assert np.all((bounds[:, 0] <= mean) & (mean <= bounds[:, 1])) and np.all(sd > 0)
    pred = fitted.predict_interval(X, 0.9, kind="predictive")
    assert set(np.unique(pred)) <= set(range(5)) and np.all(pred[:, 0] <= pred[:, 1])
    # Class 4 never occurs in y (4 simulated classes) but was named: tiny, nonzero probability.
    assert np.all(proba[:, 4] < 0.2) and np.all(proba[:, 4] > 0)
    assert fitted.idata_["posterior"]["cutpoints"].dims == ("chain", "draw", "cutpoint")
    assert 0.0 <= fitted.score(X, small.y[:30]) <= 1.0
    # Replicated labels follow the predictive probabilities: 6000 draws per row give each
    # frequency a standard error below 0.007, so 0.03 is over 4 of them.
    y_rep = fitted.sample_posterior_predictive(X[:3], random_state=0)
    y_rep = np.concatenate([y_rep] + [fitted.sample_posterior_predictive(X[:3], random_state=s)
                                      for s in range(1, 200)])
    freq = np.stack([(y_rep == c).mean(0) for c in fitted.classes_], axis=1)
    np.testing.assert_allclose(freq, proba[:3], atol=0.03)
    assert fitted.sample_posterior_predictive(X, num_draws=7, random_state=1).shape == (7, 30)


def test_ordered_categories_are_the_classes(small):
    sim = small  # the shapes of the shared fit: the compiled sweep is reused
    names = np.array(["low", "mid", "high", "top"])
    y = pd.Series(pd.Categorical(names[sim.y], categories=list(names), ordered=True))
    with pytest.warns(Warning):  # 30 draws: not converged
        fm = BayesianFMOrdinal(**FAST).fit(sim.X, y, groups=sim.groups)
    assert fm.classes_.tolist() == names.tolist()
    assert set(fm.predict(sim.X[:10])) <= set(names)
    assert fm.predict_expected(sim.X[:5]).max() <= 3.0  # positions 0..3 for text classes


@pytest.mark.parametrize(("y", "match"), [
    (np.array([1.0, 2.5, 3.0]), r"integer labels.*2\.5.*position 1"),
    (np.array(["a", "b", "c"]), "integer labels or ordered categories"),
    (np.array([2, 2, 2]), "at least 2 classes"),
    (pd.Series(pd.Categorical(["a", "b", "a"])), "unordered categorical"),
    (np.array([1.0, np.nan, 2.0]), "integer labels"),
])
def test_bad_labels_are_refused(y, match):
    X = np.eye(3)
    with pytest.raises(ValueError, match=match):
        BayesianFMOrdinal(**FAST).fit(X, y)


def test_classes_must_cover_y_and_be_increasing():
    X, y = np.eye(3), np.array([1, 2, 3])
    with pytest.raises(ValueError, match=r"label 3 at row 2 is not one of the classes"):
        BayesianFMOrdinal(classes=[1, 2], **FAST).fit(X, y)
    with pytest.raises(ValueError, match="strictly increasing"):
        BayesianFMOrdinal(classes=[3, 2, 1], **FAST).fit(X, y)


def test_labels_outside_the_fitted_classes_are_refused_at_scoring(fitted, small):
    y = small.y[:10].copy()
    y[3] = 7
    with pytest.raises(ValueError, match=r"label 7 at row 3 is not one of the classes"):
        fitted.score(small.X[:10], y)


def test_gibbs_refuses_sample_weight_with_a_clear_error(small):
    fm = BayesianFMOrdinal(**FAST)
    with pytest.raises(ValueError, match="sample_weight.*nuts"):
        fm.fit(small.X, small.y, groups=small.groups, sample_weight=np.ones(200))


def test_save_load_is_bit_identical(fitted, small, tmp_path):
    path = tmp_path / "ord.bayesfm"
    fitted.save(path)
    loaded = bayesfm.load(path)
    assert type(loaded) is BayesianFMOrdinal
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)
    X = small.X[:40]
    for name in ("predict_proba", "predict", "predict_expected", "predict_interval",
                 "predict_draws"):
        np.testing.assert_array_equal(getattr(fitted, name)(X), getattr(loaded, name)(X))
    assert fitted.idata_.identical(loaded.idata_)
    pd.testing.assert_frame_equal(fitted.summary(), loaded.summary(), check_exact=True)


def test_save_load_keeps_text_classes(small, tmp_path):
    sim = small
    y = pd.Categorical(np.array(["d", "c", "b", "a"])[sim.y], categories=["d", "c", "b", "a"],
                       ordered=True)
    with pytest.warns(Warning):  # 30 draws: not converged
        fm = BayesianFMOrdinal(**FAST).fit(sim.X, y, groups=sim.groups)
    fm.save(tmp_path / "t.bayesfm")
    loaded = bayesfm.load(tmp_path / "t.bayesfm")
    assert loaded.classes_.tolist() == ["d", "c", "b", "a"]
    np.testing.assert_array_equal(loaded.predict(sim.X), fm.predict(sim.X))


def test_svi_fits_the_same_model(small):
    fm = BayesianFMOrdinal(method="svi", rank=2, svi_steps=250, num_samples=50,
                           random_state=0, progress_bar=False)
    fm.fit(small.X, small.y, groups=small.groups)
    post = fm.idata_["posterior"]
    assert "tau" not in post and post["cutpoints"].shape == (1, 50, 3)
    cut = post["cutpoints"].values
    assert np.all(cut[..., 0] == 0) and np.all(np.diff(cut, axis=-1) > 0)
    assert fm.idata_["log_likelihood"]["y"].shape == (1, 50, 200)
    np.testing.assert_allclose(fm.predict_proba(small.X[:5]).sum(1), 1.0)
