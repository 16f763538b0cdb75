"""The estimators with the field-aware FM on the Gibbs engine (model="ffm")."""

from __future__ import annotations

import numpy as np
import pytest

from bayesfm import BayesianFMClassifier, BayesianFMRegressor, simulate_fm


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_ffm_estimator_with_gibbs_predicts_and_labels_dims():
    sim = simulate_fm(300, group_sizes=(8, 6, 4), rank=2, model="ffm", seed=7)
    fm = BayesianFMRegressor(rank=2, model="ffm", num_warmup=50, num_samples=50,
                             random_state=0, progress_bar=False)
    fm.fit(sim.X[:250], sim.y[:250], groups=sim.groups)
    post = fm.idata_["posterior"]
    assert post["v"].dims[2:] == ("feature", "other_group", "factor")
    assert list(post["other_group"].values) == list(post["group"].values)
    assert fm.idata_.attrs["model"] == "ffm" and fm.idata_.attrs["engine"] == "gibbs"
    pred = fm.predict(sim.X[250:])
    assert np.corrcoef(pred, sim.eta[250:])[0, 1] > 0.5
    clf = BayesianFMClassifier(rank=2, model="ffm", num_warmup=20, num_samples=20,
                               random_state=0, progress_bar=False)
    clf.fit(sim.X, (sim.y > np.median(sim.y)).astype(int), groups=sim.groups)
    assert clf.predict_proba(sim.X[:3]).shape == (3, 2)
