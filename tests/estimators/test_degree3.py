"""The estimators with the degree-3 FM on the Gibbs engine (degree=3): fit, predict, persist."""

from __future__ import annotations

import numpy as np
import pytest

import bayesfm
from bayesfm import BayesianFMClassifier, BayesianFMRegressor, load, simulate_fm
from tests._model_helpers import dense_degree3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_degree3_estimators_fit_predict_and_round_trip_with_gibbs(tmp_path):
    sim = simulate_fm(300, group_sizes=(8, 6, 4), rank=2, degree=3, seed=7)
    fm = BayesianFMRegressor(rank=2, degree=3, num_warmup=100, num_samples=50,
                             random_state=0, progress_bar=False)
    fm.fit(sim.X[:250], sim.y[:250], groups=sim.groups)
    post = fm.idata_["posterior"]
    assert post["v3"].dims == ("chain", "draw", "feature", "factor")
    assert post["mu_v3"].dims == post["lambda_v3"].dims == ("chain", "draw", "group", "factor")
    assert fm.idata_.attrs["engine"] == "gibbs" and fm.idata_.attrs["degree"] == 3
    assert "log_likelihood" in fm.idata_.children
    Xt = sim.X[250:].toarray()
    draws = fm.predict_draws(Xt)
    for c, s in [(0, 0), (1, 49)]:  # predictions use v3: the dense loops on stored draws
        w0, w, v, v3 = (post[n].values[c, s] for n in ("w0", "w", "v", "v3"))
        np.testing.assert_allclose(draws[c * 50 + s], dense_degree3(w0, w, v, v3, Xt),
                                   rtol=1e-4, atol=1e-4)
    assert np.corrcoef(fm.predict(Xt), sim.eta[250:])[0, 1] > 0.5
    path = tmp_path / "deg3.bayesfm"
    fm.save(path)
    back = load(path)
    assert back.get_params() == fm.get_params()
    np.testing.assert_allclose(back.predict(Xt), fm.predict(Xt))
    np.testing.assert_allclose(back.predict_interval(Xt), fm.predict_interval(Xt))
    # The pointwise log likelihood (recomputed from the draws, v3 included) sums to the
    # sampler's tracked total (from its cached residuals; float32 sums of 250 terms: 1e-3
    # relative), and it feeds the LOO comparison.
    pointwise = fm.idata_["log_likelihood"]["y"].values.sum(-1)
    np.testing.assert_allclose(pointwise, fm.idata_["sample_stats"]["log_likelihood"].values,
                               rtol=1e-3)
    fm2 = BayesianFMRegressor(rank=2, num_warmup=100, num_samples=50, random_state=0,
                              progress_bar=False).fit(sim.X[:250], sim.y[:250], groups=sim.groups)
    table = bayesfm.compare({"degree 2": fm2, "degree 3": fm})
    assert sorted(table.index) == ["degree 2", "degree 3"] and np.all(np.isfinite(table["elpd"]))
    clf = BayesianFMClassifier(rank=2, degree=3, num_warmup=20, num_samples=20,
                               random_state=0, progress_bar=False)
    clf.fit(sim.X, (sim.y > np.median(sim.y)).astype(int), groups=sim.groups)
    assert clf.predict_proba(sim.X[:3]).shape == (3, 2)
    assert clf.idata_["posterior"]["v3"].shape == (2, 20, 18, 2)
