"""The ordinal estimator BayesianFMOrdinal: labels, predictions, recovery, persistence, SVI."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning

import bayesfm
from bayesfm import BayesianFMOrdinal, simulate_fm

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
    # "keep" writes the sampler's pointwise log likelihood as it is; the default recomputes
    # it from the draws on load, equal to float32 rounding (checked below).
    fitted.save(path, log_likelihood="keep")
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
    # The default file: every group but the log likelihood bit for bit; the Gibbs sampler's
    # in-run values carry float32 rounding of its running residuals, the recomputed ones do
    # not, so they agree to that rounding.
    fitted.save(tmp_path / "default.bayesfm")
    small_file = bayesfm.load(tmp_path / "default.bayesfm")
    for group in ("posterior", "sample_stats", "observed_data", "constant_data"):
        assert fitted.idata_[group].identical(small_file.idata_[group]), group
    np.testing.assert_allclose(small_file.idata_["log_likelihood"]["y"].values,
                               fitted.idata_["log_likelihood"]["y"].values, rtol=1e-4, atol=1e-5)


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
