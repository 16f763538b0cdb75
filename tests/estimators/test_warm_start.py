"""``fit_more``: more draws continue the same chains; a refit starts from the last draw."""

from __future__ import annotations

import numpy as np
import pytest

import bayesfm
from bayesfm import BayesianFMClassifier, BayesianFMRegressor
from bayesfm.data import simulate_fm

# Short chains on purpose: these tests compare draws, not posteriors.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

EST = dict(rank=2, num_warmup=15, num_chains=2, random_state=0, progress_bar=False)


@pytest.fixture(scope="module")
def sim():
    return simulate_fm(n_rows=160, group_sizes=(8, 6), rank=2, seed=1)


@pytest.mark.parametrize(("cls", "thinning"), [(BayesianFMRegressor, 1),
                                               (BayesianFMClassifier, 2)])
def test_two_calls_give_the_chain_of_one(sim, cls, thinning):
    """Bit for bit: the continued chain is the one chain (its keys, caches and latents)."""
    y = sim.y if cls is BayesianFMRegressor else (sim.y > np.median(sim.y)).astype(int)
    kw = dict(EST, thinning=thinning)
    two = cls(num_samples=20, **kw).fit(sim.X, y, groups=sim.groups).fit_more(20)
    one = cls(num_samples=40, **kw).fit(sim.X, y, groups=sim.groups)
    assert two.idata_.posterior.sizes["draw"] == 40 // thinning
    for group in ("posterior", "sample_stats", "log_likelihood"):
        a, b = two.idata_[group].to_dataset(), one.idata_[group].to_dataset()
        assert set(a.data_vars) == set(b.data_vars)
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    np.testing.assert_array_equal(two.idata_.posterior.draw.values, np.arange(40 // thinning))
    np.testing.assert_array_equal(two.predict(sim.X[:5]), one.predict(sim.X[:5]))


def test_refit_on_new_rows_starts_from_the_last_draw(sim, monkeypatch):
    import bayesfm.estimators._warm as warm

    fm = BayesianFMRegressor(num_samples=20, **EST).fit(sim.X[:100], sim.y[:100],
                                                        groups=sim.groups)
    names = ("w0", "w", "v", "lambda_v", "tau")
    last = {n: fm.idata_.posterior[n].values[:, -1] for n in names}
    seen = {}

    def spy(problem, **kw):
        seen.update(kw, n_rows=problem.design.n_rows)
        return fit_gibbs(problem, **kw)

    fit_gibbs = warm.fit_gibbs
    monkeypatch.setattr(warm, "fit_gibbs", spy)
    fm.fit_more(10, sim.X, sim.y, num_warmup=3)
    # Every chain starts at its last draw of the first fit, on all 160 rows.
    for name in names:
        np.testing.assert_array_equal(np.asarray(seen["init_params"][name]), last[name],
                                      err_msg=name)
    assert seen["n_rows"] == 160 and seen["num_warmup"] == 3
    assert fm.idata_.posterior.sizes["draw"] == 10
    assert fm.idata_.observed_data.sizes["obs"] == 160
    assert fm.fit_more(5).idata_.posterior.sizes["draw"] == 15


def test_each_refit_draws_new_noise(sim):
    """An online loop refits rows of one fixed capacity with an int seed: every refit must
    still get its own key (it once got the same one, so a refit from the same state on the
    same rows replayed the same draws, and Thompson's errors repeated round after round)."""
    kw = dict(EST, num_samples=5, num_chains=1)
    fm = BayesianFMRegressor(**kw).fit(sim.X, sim.y, groups=sim.groups)
    start = fm._warm_
    a = fm.fit_more(5, sim.X, sim.y).idata_.posterior["w0"].values
    fm._warm_ = start  # the same last draw, the same rows: only the key can differ
    b = fm.fit_more(5, sim.X, sim.y).idata_.posterior["w0"].values
    assert not np.array_equal(a, b)
    # Still reproducible: the same seed and the same calls give the same draws.
    again = BayesianFMRegressor(**kw).fit(sim.X, sim.y, groups=sim.groups)
    np.testing.assert_array_equal(again.fit_more(5, sim.X, sim.y).idata_.posterior["w0"].values,
                                  a)


def test_fit_more_refuses_what_it_cannot_continue(sim, tmp_path):
    kw = dict(EST, num_samples=10)
    with pytest.raises(NotImplementedError, match="store='draws' fits only"):
        BayesianFMRegressor(store="moments", max_kept=5, **kw).fit(
            sim.X, sim.y, groups=sim.groups).fit_more(5)
    fm = BayesianFMRegressor(**kw).fit(sim.X, sim.y, groups=sim.groups)
    fm.save(tmp_path / "fm.bayesfm")
    loaded = bayesfm.load(tmp_path / "fm.bayesfm")
    with pytest.raises(ValueError, match="holds no sampler state"):
        loaded.fit_more(5)
    assert loaded.fit_more(5, sim.X, sim.y).idata_.posterior.sizes["draw"] == 5
    with pytest.raises(ValueError, match="X needs y"):
        fm.fit_more(5, sim.X)
    fm.method = "nuts"  # as if fitted by NUTS: there is no Gibbs chain to continue
    with pytest.raises(NotImplementedError, match="continues Gibbs chains"):
        fm.fit_more(5)
