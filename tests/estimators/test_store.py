"""What the estimators keep (store, thinning, max_kept) and how they predict from it."""

from __future__ import annotations

import numpy as np
import pytest

import bayesfm
from bayesfm import BayesianFMClassifier, BayesianFMRegressor
from bayesfm.data import simulate_fm
from bayesfm.results import draws_from_datatree, posterior_moments, summarize_predictions
from tests._helpers import assert_same_tree

# Short chains on purpose: these tests compare draws, not posteriors.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

EST = dict(rank=2, num_warmup=30, num_samples=40, num_chains=2, random_state=0,
           progress_bar=False)


@pytest.fixture(scope="module")
def sim():
    return simulate_fm(n_rows=150, group_sizes=(8, 6), rank=2, seed=0)


@pytest.fixture(scope="module")
def fitted(sim):
    kw = dict(EST, log_likelihood=False)
    return {
        "draws": BayesianFMRegressor(**kw).fit(sim.X, sim.y, groups=sim.groups),
        "thinned": BayesianFMRegressor(thinning=4, **kw).fit(sim.X, sim.y, groups=sim.groups),
        "moments": BayesianFMRegressor(store="moments", max_kept=5, **kw).fit(
            sim.X, sim.y, groups=sim.groups),
    }


def test_every_mode_predicts_from_its_kept_draws(fitted, sim):
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
    expect = summarize_predictions(full.subset(idx), *_rows(fitted["draws"], X), prob=None).mean
    np.testing.assert_allclose(fitted["moments"].predict(X), expect, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(fitted["thinned"].idata_["posterior"]["v"].values,
                                  fitted["draws"].idata_["posterior"]["v"].values[:, 3::4])


def _rows(fm, X):
    d = fm._design(X, reset=False)
    return d.indices, d.values


def test_moments_mode_datatree(fitted):
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
    assert ("factors are identified only up to rotation"
            in dt["posterior_moments"].attrs["description"])
    # Convergence is still judged, on the identifiable quantities that are kept.
    assert fitted["moments"].summary().index[0] == "w0"
    problems = fitted["moments"].convergence_problems_
    assert all(not p.startswith("w:") for p in problems)


def test_moments_mode_round_trips_bit_identically(fitted, sim, tmp_path):
    fm = fitted["moments"]
    path = tmp_path / "moments.bayesfm"
    fm.save(path)
    loaded = bayesfm.load(path)
    assert loaded.get_params() == fm.get_params()
    assert_same_tree(fm.idata_, loaded.idata_)
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
    for cls in (BayesianFMRegressor, BayesianFMClassifier):
        with pytest.raises(error, match=match):
            cls(**{**EST, **params}).fit(sim.X, sim.y > 0, groups=sim.groups)


def test_classifier_moments_mode_predicts_probabilities():
    sim = simulate_fm(n_rows=150, group_sizes=(8, 6), rank=2, task="binary", seed=2)
    clf = BayesianFMClassifier(store="moments", max_kept=4, **EST).fit(
        sim.X, sim.y, groups=sim.groups)
    proba = clf.predict_proba(sim.X[:10])
    assert proba.shape == (10, 2) and np.all((proba >= 0) & (proba <= 1))
    assert clf.predict_draws(sim.X[:10]).shape == (8, 10)
    assert "tau" not in clf.idata_["prediction_draws"].data_vars
