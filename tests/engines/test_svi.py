"""SVI: every guide, minibatches and early stopping give draws in the MCMC layout."""

import numpy as np
import pytest

from bayesfm import BayesianFMRegressor, simulate_fm


@pytest.fixture(scope="module")
def sim():
    return simulate_fm(600, group_sizes=(12, 10, 6), rank=2, seed=5)


@pytest.mark.parametrize("guide", ["normal", "lowrank", "map"])
def test_every_guide_predicts_better_than_the_mean(sim, guide):
    fm = BayesianFMRegressor(method="svi", guide=guide, rank=2, num_samples=50, svi_steps=4000,
                             random_state=0, progress_bar=False)
    fm.fit(sim.X[:500], sim.y[:500], groups=sim.groups)
    post = fm.idata_["posterior"]
    assert post["v"].shape == (1, 50, 28, 2)
    assert post["w"].dims == ("chain", "draw", "feature")
    truth = sim.eta[500:]
    rmse = np.sqrt(np.mean((fm.predict(sim.X[500:]) - truth) ** 2))
    # Predicting the mean of the training targets would give the sd of the truth.
    assert rmse < 0.6 * truth.std(), (rmse, truth.std())
    width = np.diff(fm.predict_interval(sim.X[500:]), axis=1)
    if guide == "map":
        np.testing.assert_allclose(width, 0.0, atol=1e-6)   # a point estimate
    else:
        assert np.all(width > 0)


def test_minibatches_and_early_stopping(sim):
    fm = BayesianFMRegressor(method="svi", batch_size=100, rank=2, num_samples=50,
                             svi_steps=20_000, random_state=0, progress_bar=False)
    fm.fit(sim.X[:500], sim.y[:500], groups=sim.groups)
    loss = fm.idata_["elbo"]["loss"].values
    assert len(loss) < 20_000                       # stopped early
    assert np.mean(loss[-200:]) < np.mean(loss[:200])
    rmse = np.sqrt(np.mean((fm.predict(sim.X[500:]) - sim.eta[500:]) ** 2))
    assert rmse < 0.6 * sim.eta[500:].std()
