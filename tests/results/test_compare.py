"""bayesfm.compare: LOO tables from fitted estimators, with clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

import bayesfm
from bayesfm import BayesianFMRegressor, compare, simulate_fm
from bayesfm.plots import plot_compare

GIBBS = dict(rank=2, num_warmup=200, num_samples=200, num_chains=2, random_state=0,
             progress_bar=False)


@pytest.fixture(scope="module")
def fits():
    sim = simulate_fm(400, group_sizes=(12, 10), rank=2, seed=5)
    true = BayesianFMRegressor(**GIBBS).fit(sim.X, sim.y, groups=sim.groups)
    # Same y, but the rows of X shuffled: features that are pure noise with respect to y.
    shuffled = sim.X[np.random.default_rng(0).permutation(sim.X.shape[0])]
    noise = BayesianFMRegressor(**GIBBS).fit(shuffled, sim.y, groups=sim.groups)
    return sim, true, noise


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_noise_model_ranks_below_the_true_model(fits):
    _, true, noise = fits
    table = compare({"noise": noise, "true": true.idata_})  # an estimator or its DataTree
    assert list(table.index) == ["true", "noise"]
    assert table.loc["true", "rank"] == 0
    # Noise features cannot predict y: the gap is many standard errors, not a coin flip.
    assert -table.loc["noise", "elpd_diff"] > 5 * table.loc["noise", "dse"]
    fig = plot_compare(table)  # ArviZ's table, as compare returns it, is what the plot draws
    assert isinstance(fig, Figure)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["true", "noise"]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fits_on_different_data_are_refused(fits):
    sim, true, _ = fits
    y2 = sim.y.copy()
    y2[7] += 1.0
    other = BayesianFMRegressor(**{**GIBBS, "num_warmup": 5, "num_samples": 5})
    other.fit(sim.X, y2, groups=sim.groups)
    with pytest.raises(ValueError, match="different data: y differs first at row 7"):
        compare({"a": true, "b": other})
    fewer = BayesianFMRegressor(**{**GIBBS, "num_warmup": 5, "num_samples": 5})
    fewer.fit(sim.X[:100], sim.y[:100], groups=sim.groups)
    with pytest.raises(ValueError, match="400 and 100 rows"):
        compare({"a": true, "b": fewer})


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_missing_log_likelihood_and_bad_inputs_are_refused(fits):
    sim, true, _ = fits
    lean = BayesianFMRegressor(**{**GIBBS, "num_warmup": 5, "num_samples": 5},
                               log_likelihood=False).fit(sim.X, sim.y, groups=sim.groups)
    with pytest.raises(ValueError, match="'lean' has no log_likelihood group"):
        compare({"true": true, "lean": lean})
    with pytest.raises(ValueError, match="at least two"):
        compare({"true": true})
    with pytest.raises(ValueError, match="'new' is not fitted"):
        compare({"true": true, "new": BayesianFMRegressor()})
    with pytest.raises(TypeError, match="'x' must be a fitted"):
        compare({"true": true, "x": 3})
    assert bayesfm.compare is compare


def _certain_rows(tree, rows):
    """A copy of ``tree`` whose ``rows`` have log likelihood 0 in every draw (p = 1)."""
    tree = tree.copy(deep=True)
    ll = tree["log_likelihood"]["y"]
    values = ll.values.copy()
    values[..., rows] = 0.0
    tree["log_likelihood"]["y"] = ll.copy(data=values)
    return tree


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_rows_predicted_with_certainty_keep_loo_working(fits):
    import arviz as az

    from bayesfm.results import psis_loo

    _, true, noise = fits
    cols = ["elpd", "se", "p", "elpd_diff", "dse"]
    # On ordinary fits bayesfm's LOO is ArviZ's, to rounding.
    ours = compare({"true": true, "noise": noise})
    theirs = az.compare({"true": true.idata_, "noise": noise.idata_}, round_to="none")
    np.testing.assert_allclose(ours.loc[["true", "noise"], cols].to_numpy(float),
                               theirs.loc[["true", "noise"], cols].to_numpy(float), rtol=1e-9)
    # A click probability that rounds to 1 in float32 gives log likelihood 0 in every draw:
    # ArviZ's Pareto fit stops on such rows (seen on frappe); compare must not.
    trees = {"true": _certain_rows(true.idata_, [0, 3, 9]),
             "noise": _certain_rows(noise.idata_, [0, 3, 9])}
    with pytest.raises(ValueError):
        az.compare(trees)
    table = compare(trees)
    assert list(table.index) == ["true", "noise"]
    loo, plain = psis_loo(trees["true"]), psis_loo(true.idata_)
    elpd_i, k = loo.elpd_i.values, loo.pareto_k.values
    np.testing.assert_allclose(elpd_i[[0, 3, 9]], 0.0, atol=1e-12)  # exact: uniform weights
    assert np.all(np.isneginf(k[[0, 3, 9]]))
    other = np.setdiff1d(np.arange(elpd_i.size), [0, 3, 9])
    np.testing.assert_allclose(elpd_i[other], plain.elpd_i.values[other], rtol=1e-12)
    np.testing.assert_allclose(k[other], plain.pareto_k.values[other], rtol=1e-12)
