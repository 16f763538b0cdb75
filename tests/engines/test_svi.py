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


def test_minibatch_rows_are_uniform_permutation_slices():
    import jax

    from bayesfm.engines.svi import minibatch_rows

    # A chunk of at least a quarter epoch: slices of permutations, every row once per epoch.
    rows = np.asarray(minibatch_rows(jax.random.key(0), 1000, 100, 30))
    assert rows.shape == (30, 100)
    for epoch in range(3):
        assert np.array_equal(np.sort(rows[10 * epoch:10 * (epoch + 1)].ravel()),
                              np.arange(1000))
    # A short chunk draws with replacement: in range, and not a constant pattern.
    few = np.asarray(minibatch_rows(jax.random.key(1), 100_000, 10, 20))
    assert few.shape == (20, 10) and few.min() >= 0 and few.max() < 100_000
    assert len(np.unique(few)) > 190


@pytest.mark.parametrize(("model", "n_rows", "expected"),
                         [("fm", 8192, None), ("fm", 8193, 4096), ("ifm", 50_000, 4096),
                          ("cfm", 50_000, 512)])
def test_auto_batch_size(model, n_rows, expected):
    from types import SimpleNamespace

    from bayesfm.engines.svi import auto_batch_size
    from bayesfm.model import get_interaction

    # frappe's shape: 10 fields, rank 8 (a CFM holds 4,400 floats per row).
    problem = SimpleNamespace(design=SimpleNamespace(n_rows=n_rows, n_groups=10), rank=8,
                              interaction=get_interaction(model))
    assert auto_batch_size(problem) == expected


def test_auto_minibatches_a_large_problem():
    big = simulate_fm(9000, group_sizes=(12, 10), rank=2, seed=3)
    fm = BayesianFMRegressor(method="svi", rank=2, num_samples=20, svi_steps=500,
                             random_state=0, progress_bar=False)
    fm.fit(big.X, big.y, groups=big.groups)
    rmse = np.sqrt(np.mean((fm.predict(big.X) - big.eta) ** 2))
    assert rmse < 0.6 * big.eta.std()


def test_a_short_last_chunk_runs_exactly_the_steps_asked_for(sim):
    """Chunks are one compiled program of ``check_every`` steps; the last chunk of a run that
    ``check_every`` does not divide skips its extra steps. Full batch, the only randomness is
    the state's own key, split once per update, so the same 130 updates in chunks of
    100 + 30 (70 skipped) or in one chunk of 130 give the same losses and the same fit, up
    to float32 differences of programs compiled for different lengths (1e-5 relative)."""
    import jax

    from bayesfm.data import from_sparse
    from bayesfm.engines import FitProblem
    from bayesfm.engines.svi import run_svi
    from bayesfm.model import get_interaction, get_likelihood

    d = from_sparse(sim.X[:300], groups=sim.groups, dtype=np.float32)
    problem = FitProblem(d, sim.y[:300], get_likelihood("gaussian"), get_interaction("fm"), 2)
    runs = [run_svi(problem, rng_key=jax.random.key(0), num_steps=130, check_every=every,
                    batch_size=None, num_samples=5, progress_bar=False)
            for every in (100, 130)]
    for res in runs:
        assert res.extras["elbo"].shape == (130,)
        assert np.all(np.isfinite(res.extras["elbo"]))
        assert int(res.extras["num_steps"]) == 130
    for res in runs[1:]:
        np.testing.assert_allclose(res.extras["elbo"], runs[0].extras["elbo"], rtol=1e-5)
        np.testing.assert_allclose(res.samples["w"], runs[0].samples["w"], rtol=1e-4,
                                   atol=1e-5)
