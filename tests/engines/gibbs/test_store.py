"""Memory modes of the Gibbs engine: every draw, thinned draws, running moments."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from bayesfm.engines.gibbs_kernel import FMGibbs, keep_plan, run_gibbs
from bayesfm.model import fm_predict
from tests.test_gibbs import simulate

# Short chains on purpose: these tests compare draws, not posteriors.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# 25 post-warmup sweeps: with thinning 3, MCMC's kept sweeps start at an offset (25 % 3 = 1).
WARMUP, SAMPLES, THIN = 7, 25, 3
SMALL_SITES = ("w0", "mu_w", "lambda_w", "mu_v", "lambda_v", "log_likelihood")


@pytest.fixture(scope="module")
def problem():
    d, eta, rng = simulate(80, [6, 5], 3)
    return d, eta + rng.normal(0.0, 0.5, eta.shape)


def _run(problem, likelihood="gaussian", **kw):
    d, y = problem
    if likelihood == "probit":
        y = (y > np.median(y)).astype(np.float64)
    kw = {"num_warmup": WARMUP, "num_samples": SAMPLES, "num_chains": 2, **kw}
    return run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=3,
                     likelihood=likelihood, rng_key=jax.random.key(5), progress_bar=False, **kw)


@pytest.fixture(scope="module")
def full(problem):
    return _run(problem)


@pytest.fixture(scope="module")
def thinned(problem):
    return _run(problem, thinning=THIN)


def _scores(design, rows, draws):
    f = jax.vmap(jax.vmap(lambda w0, w, v: fm_predict(w0, w, v, design.indices[rows],
                                                      design.values[rows])))
    return np.asarray(f(draws["w0"], draws["w"], draws["v"]))


def test_thinned_draws_are_every_t_th_draw_of_the_full_run(full, thinned):
    # MCMC keeps sweeps offset + m * t - 1 (m >= 1), offset = num_samples % t.
    pick = np.arange(SAMPLES % THIN + THIN - 1, SAMPLES, THIN)
    assert thinned["v"].shape[:2] == (2, SAMPLES // THIN) and pick.size == SAMPLES // THIN
    for name, draws in thinned.items():
        np.testing.assert_array_equal(draws, full[name][:, pick], err_msg=name)


def test_moments_mode_runs_the_same_chain_and_its_moments_match_every_sweep(
        problem, full, thinned):
    ref = np.array([0, 5, 79])
    mom = _run(problem, thinning=THIN, store="moments", max_kept=3, ref_rows=ref)
    assert "w" not in mom and "v" not in mom
    # Same seed, same chain: the small sites are the thinned run's draws bit for bit.
    for name in (*SMALL_SITES, "tau"):
        np.testing.assert_array_equal(mom[name], thinned[name], err_msg=name)
    # The moments run over every post-warmup sweep, whatever the thinning. Welford in float32
    # over 25 draws of values O(1) agrees with float64 NumPy to a few ulps; a missed or
    # doubled sweep would move a mean by ~ sd / 25 (about 1e-2 here), far above 1e-5.
    m = mom["posterior_moments"]
    np.testing.assert_array_equal(m["n_sweeps"], [SAMPLES, SAMPLES])
    for name in ("w", "v"):
        draws = full[name].astype(np.float64)
        np.testing.assert_allclose(m[f"{name}_mean"], draws.mean(1), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(m[f"{name}_var"], draws.var(1), rtol=1e-4, atol=1e-6)
    # Kept prediction draws: at most 3, evenly spread, among the thinned draws, the last
    # sweep included.
    kept = mom["prediction_draws"]
    # The 8 thinned draws are sweeps 3, 6, ..., 24; every third of them from the end is kept.
    np.testing.assert_array_equal(kept["draw"], [6, 15, 24])
    for name in ("w0", "w", "v", "tau"):
        np.testing.assert_array_equal(kept[name], full[name][:, kept["draw"]], err_msg=name)
    # eta_ref is every draw's score of the reference rows, from the cached residuals.
    np.testing.assert_allclose(mom["eta_ref"], _scores(problem[0], ref, thinned), atol=1e-4)


def test_probit_single_chain_moments(problem):
    full = _run(problem, "probit", num_chains=1)
    mom = _run(problem, "probit", num_chains=1, store="moments", max_kept=100, ref_rows=[2, 3])
    for name in SMALL_SITES:
        np.testing.assert_array_equal(mom[name], full[name], err_msg=name)
    assert "tau" not in mom and "tau" not in mom["prediction_draws"]
    # One chain still has a chain dimension; max_kept above num_samples keeps every sweep.
    np.testing.assert_array_equal(mom["prediction_draws"]["v"], full["v"])
    assert mom["posterior_moments"]["v_mean"].shape == (1, 11, 3)
    np.testing.assert_allclose(mom["posterior_moments"]["v_var"],
                               full["v"].astype(np.float64).var(1), rtol=1e-4, atol=1e-6)
    # Probit scores come from the latent utilities: z - e.
    np.testing.assert_allclose(mom["eta_ref"], _scores(problem[0], [2, 3], full), atol=1e-4)


@pytest.mark.parametrize(("num_samples", "thinning", "max_kept"),
                         [(25, 3, 3), (11, 2, 5), (10, 1, 5), (1000, 7, 100), (5, 1, 9)])
def test_keep_plan_spreads_at_most_max_kept_among_the_stored_draws(num_samples, thinning,
                                                                   max_kept):
    stride, first, n_keep = keep_plan(num_samples, thinning, max_kept)
    kept = first + stride * np.arange(n_keep)
    stored = np.arange(num_samples % thinning + thinning - 1, num_samples, thinning)
    assert 1 <= n_keep <= max_kept and kept[-1] == num_samples - 1
    assert set(kept) <= set(stored) and stride % thinning == 0
    # The spacing is the smallest that fits: one stored draw closer would keep too many.
    every = stride // thinning
    assert every == 1 or (stored.size - 1) // (every - 1) + 1 > max_kept


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"store": "all"}, "store"),
    ({"store": "moments", "num_samples": None}, "num_samples"),
    ({"store": "moments", "num_samples": 10, "max_kept": 0}, "max_kept"),
    ({"store": "moments", "num_samples": 10, "thinning": -1}, "thinning"),
    ({"store": "moments", "num_samples": 10, "ref_rows": [80]}, "ref_rows"),
])
def test_kernel_rejects_bad_memory_options(problem, kwargs, name):
    d, y = problem
    with pytest.raises(ValueError, match=name):
        FMGibbs(d, y, rank=2, **kwargs)


# --- estimators -------------------------------------------------------------------------------

EST = dict(rank=2, num_warmup=30, num_samples=40, num_chains=2, random_state=0,
           progress_bar=False)


@pytest.fixture(scope="module")
def sim():
    from bayesfm.data import simulate_fm

    return simulate_fm(n_rows=150, group_sizes=(8, 6), rank=2, seed=0)


@pytest.fixture(scope="module")
def fitted(sim):
    from bayesfm import BayesianFMRegressor

    kw = dict(EST, log_likelihood=False)
    return {
        "draws": BayesianFMRegressor(**kw).fit(sim.X, sim.y, groups=sim.groups),
        "thinned": BayesianFMRegressor(thinning=4, **kw).fit(sim.X, sim.y, groups=sim.groups),
        "moments": BayesianFMRegressor(store="moments", max_kept=5, **kw).fit(
            sim.X, sim.y, groups=sim.groups),
    }


def test_every_mode_predicts_from_its_kept_draws(fitted, sim):
    from bayesfm.predict import summarize_predictions
    from bayesfm.results import draws_from_datatree

    X = sim.X[:30]
    sizes = {"draws": 80, "thinned": 20, "moments": 10}
    for mode, fm in fitted.items():
        mu = fm.predict_draws(X)
        assert mu.shape == (sizes[mode], 30), mode
        np.testing.assert_allclose(fm.predict(X), mu.mean(0), rtol=1e-6, atol=1e-6)
        lo, hi = fm.predict_interval(X, 0.8).T
        assert np.all(lo <= hi)
        pred = fm.predict_idata(X)["predictions"]["mu"]
        assert pred.shape == (2, sizes[mode] // 2, 30)
    # Thinned and moments-mode predictions use a subset of the full run's draws (same seed).
    full = draws_from_datatree(fitted["draws"].idata_)
    kept = fitted["moments"].idata_["prediction_draws"]
    sweeps = kept["draw"].values
    assert sweeps.tolist() == [7, 15, 23, 31, 39]
    idx = np.concatenate([sweeps, 40 + sweeps])  # (chain, draw) flattened
    sub = type(full)(*(None if a is None else a[idx] for a in full))
    expect = summarize_predictions(sub, *_rows(fitted["draws"], X), likelihood="gaussian",
                                   prob=None).mean
    np.testing.assert_allclose(fitted["moments"].predict(X), expect, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(fitted["thinned"].idata_["posterior"]["v"].values,
                                  fitted["draws"].idata_["posterior"]["v"].values[:, 3::4])


def _rows(fm, X):
    d = fm._design(X, reset=False)
    return d.indices, d.values


def test_moments_mode_datatree(fitted):
    from bayesfm.results import posterior_moments

    dt, full = fitted["moments"].idata_, fitted["draws"].idata_
    post = dt["posterior"]
    assert "w" not in post.data_vars and "v" not in post.data_vars
    assert "log_likelihood" not in dt.children and dt.attrs["store"] == "moments"
    for name in ("w0", "tau", "mu_w", "lambda_w", "mu_v", "lambda_v"):
        np.testing.assert_array_equal(post[name].values, full["posterior"][name].values)
    np.testing.assert_array_equal(dt["sample_stats"]["log_likelihood"].values,
                                  full["sample_stats"]["log_likelihood"].values)
    # eta_ref from the cached residuals equals the recomputed scores to float32 rounding.
    np.testing.assert_allclose(post["eta_ref"].values, full["posterior"]["eta_ref"].values,
                               atol=1e-4)
    # Pooled moments (law of total variance over chains) equal those of every draw.
    a, b = posterior_moments(dt), posterior_moments(full)
    for name in ("w_mean", "w_var", "v_mean", "v_var"):
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-5, err_msg=name)
    assert "v is identified only up to rotation" in dt["posterior_moments"].attrs["description"]
    # Convergence is still judged, on the identifiable quantities that are kept.
    assert fitted["moments"].summary().index[0] == "w0"
    problems = fitted["moments"].convergence_problems_
    assert all(not p.startswith("w:") for p in problems)


def test_moments_mode_round_trips_bit_identically(fitted, sim, tmp_path):
    import bayesfm
    from tests.test_persistence import _assert_same_tree

    fm = fitted["moments"]
    path = tmp_path / "moments.bayesfm"
    fm.save(path)
    loaded = bayesfm.load(path)
    assert loaded.get_params() == fm.get_params()
    _assert_same_tree(fm.idata_, loaded.idata_)
    X = sim.X[:25]
    np.testing.assert_array_equal(fm.predict_draws(X), loaded.predict_draws(X))
    np.testing.assert_array_equal(fm.predict_interval(X), loaded.predict_interval(X))
    np.testing.assert_array_equal(fm.summary().to_numpy(), loaded.summary().to_numpy())


@pytest.mark.parametrize(("params", "error", "match"), [
    ({"store": "everything"}, ValueError, "store"),
    ({"max_kept": 0}, ValueError, "max_kept"),
    ({"max_kept": 2.5}, TypeError, "max_kept"),
    ({"thinning": 0}, ValueError, "thinning"),
    ({"thinning": 50, "num_samples": 40}, ValueError, "thinning"),
    ({"store": "moments", "method": "nuts"}, ValueError, "store='moments'"),
    ({"store": "moments", "log_likelihood": True}, ValueError, "log_likelihood"),
])
def test_estimators_reject_bad_memory_options(sim, params, error, match):
    from bayesfm import BayesianFMClassifier, BayesianFMRegressor

    for cls in (BayesianFMRegressor, BayesianFMClassifier):
        with pytest.raises(error, match=match):
            cls(**{**EST, **params}).fit(sim.X, sim.y > 0, groups=sim.groups)


def test_classifier_moments_mode_predicts_probabilities():
    from bayesfm import BayesianFMClassifier
    from bayesfm.data import simulate_fm

    sim = simulate_fm(n_rows=150, group_sizes=(8, 6), rank=2, task="binary", seed=2)
    clf = BayesianFMClassifier(store="moments", max_kept=4, **EST).fit(
        sim.X, sim.y, groups=sim.groups)
    proba = clf.predict_proba(sim.X[:10])
    assert proba.shape == (10, 2) and np.all((proba >= 0) & (proba <= 1))
    assert clf.predict_draws(sim.X[:10]).shape == (8, 10)
    assert "tau" not in clf.idata_["prediction_draws"].data_vars
