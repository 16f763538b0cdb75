"""Plots render headless and draw what they claim."""

import arviz as az
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from bayesfm import plots  # noqa: E402


@pytest.fixture
def idata():
    rng = np.random.default_rng(0)
    return az.from_dict(
        {
            "posterior": {"w0": rng.normal(size=(2, 50)), "tau": rng.gamma(2, size=(2, 50)),
                          "lambda_w": rng.gamma(2, size=(2, 50, 3)),
                          "v": rng.normal(size=(2, 50, 4, 2))},
            "sample_stats": {"log_likelihood": rng.normal(size=(2, 50))},
        },
        dims={"lambda_w": ["group"], "v": ["feature", "factor"]},
    )


def test_trace_draws_one_line_per_chain_and_component(idata, tmp_path):
    fig = plots.plot_trace(idata, ["w0", "lambda_w", "log_likelihood"])
    fig.savefig(tmp_path / "trace.png")
    axes = fig.axes
    assert len(axes) == 6
    assert len(axes[0].get_lines()) == 2          # w0: two chains
    assert len(axes[2].get_lines()) == 2 * 3      # lambda_w: 3 groups x 2 chains
    assert axes[4].get_ylabel() == "log_likelihood"


def test_trace_refuses_raw_v(idata):
    with pytest.raises(ValueError, match="not identifiable"):
        plots.plot_trace(idata, ["v"])


def test_calibration_has_diagonal_points_and_band(tmp_path):
    rng = np.random.default_rng(1)
    p = rng.beta(2, 5, size=500)
    draws = np.clip(p + rng.normal(0, 0.02, size=(100, 500)), 0, 1)
    y = (rng.uniform(size=500) < p).astype(int)
    fig = plots.plot_calibration(y, draws, n_bins=8)
    fig.savefig(tmp_path / "cal.png")
    ax = fig.axes[0]
    diagonal, points = ax.get_lines()
    np.testing.assert_array_equal(diagonal.get_xdata(), [0, 1])
    assert len(points.get_xdata()) == 8
    assert len(ax.collections) == 1               # the credible band
    # Calibrated by construction: most observed rates fall inside the predictive band.
    band = ax.collections[0].get_paths()[0].vertices
    assert band.shape[0] > 8


def test_intervals_title_reports_coverage(tmp_path):
    truth = np.linspace(0, 1, 50)
    fig = plots.plot_intervals(truth, truth, truth - 0.1, truth + 0.1)
    fig.savefig(tmp_path / "int.png")
    assert fig.axes[0].get_title() == "coverage 100.0% of 50 rows"


def _compare_table():
    """A table shaped like the output of bayesfm.compare, deliberately not sorted by ELPD."""
    import pandas as pd

    return pd.DataFrame({"rank": [1, 0, 2], "elpd": [-14.0, -10.0, -20.0],
                         "se": [1.2, 1.0, 2.0], "elpd_diff": [-4.0, 0.0, -10.0],
                         "dse": [1.5, 0.0, 2.5]}, index=["noise", "true", "worst"])


def test_compare_puts_the_best_model_on_top_with_its_differences(tmp_path):
    import bayesfm

    assert bayesfm.plot_compare is plots.plot_compare  # the top-level name stays
    fig = plots.plot_compare(_compare_table())
    fig.savefig(tmp_path / "compare.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["true", "noise", "worst"]
    points, diamonds = (c.lines[0] for c in ax.containers)
    np.testing.assert_array_equal(points.get_xdata(), [-10.0, -14.0, -20.0])
    # The differences sit on the best model's ELPD, one per model but the best.
    np.testing.assert_array_equal(diamonds.get_xdata(), [-14.0, -20.0])


def test_compare_refuses_a_table_without_its_columns():
    with pytest.raises(ValueError, match=r"lacks columns \['dse'\]"):
        plots.plot_compare(_compare_table().drop(columns="dse"))


# -- plots of real (tiny) fits -------------------------------------------------------------


@pytest.fixture(scope="module")
def fits():
    """One tiny Gibbs classifier and regressor, shared: fitting dominates the test time."""
    import warnings

    from bayesfm import BayesianFMClassifier, BayesianFMRegressor
    from bayesfm.data import simulate_fm

    out = {}
    for task, cls in (("binary", BayesianFMClassifier), ("regression", BayesianFMRegressor)):
        sim = simulate_fm(n_rows=300, group_sizes=(8, 6, 4), rank=2, task=task, seed=3)
        fm = cls(rank=2, num_warmup=50, num_samples=50, num_chains=2, random_state=0,
                 progress_bar=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 50 draws do not pass R-hat; not the point here
            fm.fit(sim.X, sim.y, groups=sim.groups)
        out[task] = (sim, fm)
    return out


def test_rank_one_panel_per_component_one_line_per_chain(fits, tmp_path):
    _, clf = fits["binary"]
    fig = plots.plot_rank(clf.idata_, ["w0", "lambda_w", "log_likelihood"])
    fig.savefig(tmp_path / "rank.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["w0", "lambda_w g0", "lambda_w g1", "lambda_w g2", "log_likelihood"]
    for ax in fig.axes:
        assert len(ax.get_lines()) == 2, ax.get_title()     # one ECDF line per chain
        assert ax.get_xlabel() in ("", "Fractional ranks")  # shared x axis: bottom row only


def test_rank_refuses_raw_v_and_caps_components(fits):
    _, clf = fits["binary"]
    with pytest.raises(ValueError, match="not identifiable"):
        plots.plot_rank(clf.idata_, ["w0", "v"])
    fig = plots.plot_rank(clf.idata_, ["w"], max_components=3)
    assert [ax.get_title() for ax in fig.axes] == ["w x0", "w x1", "w x2"]


def test_rank_splits_a_single_chain_in_halves(fits):
    _, clf = fits["binary"]
    one = clf.idata_.isel(chain=slice(0, 1))
    fig = plots.plot_rank(one, ["w0"])
    assert len(fig.axes[0].get_lines()) == 2              # the two halves
    assert "halves" in fig.get_suptitle()


def _yticklabels(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def test_forest_shows_top_features_by_name_with_their_means(fits, tmp_path):
    _, clf = fits["binary"]
    post = clf.idata_["posterior"]["w"]
    mean = post.mean(("chain", "draw")).to_series()
    fig = plots.plot_forest(clf.idata_, top=5)
    fig.savefig(tmp_path / "forest.png")
    ax = fig.axes[0]
    labels = _yticklabels(ax)
    assert set(labels) == set(mean.abs().nlargest(5).index)
    assert ax.get_title() == "w: 5 of 18 features (largest |mean|)"
    # The dots sit at the posterior means of the labelled features, row by row.
    dots = {int(round(y)): x for line in ax.get_lines() if line.get_marker() == "o"
            for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)}
    ypos = {t.get_text(): int(round(t.get_position()[1])) for t in ax.get_yticklabels()}
    for name in labels:
        assert dots[ypos[name]] == pytest.approx(mean[name], rel=1e-6)
    assert ax.get_legend() is not None                     # coloured by group


def test_forest_filters_by_group_and_feature(fits):
    sim, clf = fits["binary"]
    fig = plots.plot_forest(clf.idata_, group="g1", top=None)
    expected = {f"x{j}" for j in np.flatnonzero(sim.groups == 1)}
    assert set(_yticklabels(fig.axes[0])) == expected and len(expected) == 6
    fig = plots.plot_forest(clf.idata_, features=["x0", "x17"])
    assert set(_yticklabels(fig.axes[0])) == {"x0", "x17"}
    fig = plots.plot_forest(clf.idata_, var="lambda_w")
    assert set(_yticklabels(fig.axes[0])) == {"g0", "g1", "g2"}
    with pytest.raises(ValueError, match=r"unknown group\(s\) \['user'\]"):
        plots.plot_forest(clf.idata_, group="user")
    with pytest.raises(ValueError, match="not identifiable"):
        plots.plot_forest(clf.idata_, var="v")


def test_uncertainty_of_a_calibrated_gaussian_follows_the_diagonal(tmp_path):
    rng = np.random.default_rng(0)
    sd = rng.uniform(0.2, 2.0, 1000)
    y = rng.normal(0.0, sd)
    fig = plots.plot_uncertainty(y, np.zeros(1000), sd, n_bins=5)
    fig.savefig(tmp_path / "unc.png")
    ax = fig.axes[0]
    diagonal, points = ax.get_lines()
    assert len(points.get_xdata()) == 5
    assert ax.get_xlabel() == "predicted sd (root mean square in bin)"
    # 200 rows a bin: the RMSE / sd ratio has sd about 1/sqrt(400) = 0.05; 0.15 is 3 sd.
    np.testing.assert_allclose(points.get_ydata(), points.get_xdata(), rtol=0.15)
    assert len(ax.collections) == 1                       # the calibrated ranges


def test_uncertainty_of_a_fit_renders(fits, tmp_path):
    sim, reg = fits["regression"]
    mean, sd = reg.predict(sim.X, return_std=True)
    noise = float(np.mean(1.0 / reg.idata_["posterior"]["tau"].values))
    fig = plots.plot_uncertainty(sim.y, mean, np.sqrt(sd**2 + noise), n_bins=6)
    fig.savefig(tmp_path / "unc_fit.png")
    assert len(fig.axes[0].get_lines()[1].get_xdata()) == 6
    with pytest.raises(ValueError, match="lengths"):
        plots.plot_uncertainty(sim.y, mean[:-1], sd)


def test_sample_posterior_predictive_matches_the_likelihood(fits):
    sim, clf = fits["binary"]
    rep = clf.sample_posterior_predictive(sim.X, random_state=1)
    assert rep.shape == (100, 300) and set(np.unique(rep)) <= {0, 1}
    np.testing.assert_array_equal(rep, clf.sample_posterior_predictive(sim.X, random_state=1))
    # 30,000 Bernoulli draws: the overall rate has sd < 0.003, so 0.015 is 5 sd.
    assert rep.mean() == pytest.approx(clf.predict_draws(sim.X).mean(), abs=0.015)
    assert clf.sample_posterior_predictive(sim.X, num_draws=7, random_state=0).shape == (7, 300)
    with pytest.raises(ValueError, match="num_draws=101, but the fit holds 100 draws"):
        clf.sample_posterior_predictive(sim.X, num_draws=101)

    sim, reg = fits["regression"]
    rep = reg.sample_posterior_predictive(sim.X, random_state=2)
    resid = rep - reg.predict_draws(sim.X)          # same draws, same order: pure noise
    noise_var = 1.0 / reg.idata_["posterior"]["tau"].values.ravel()
    # 300 rows a draw, 100 draws: the mean variance ratio has sd about 0.008; 0.05 is 6 sd.
    assert np.mean(resid.var(axis=1) / noise_var) == pytest.approx(1.0, abs=0.05)


def test_ppc_binary_marks_the_observed_rate(fits, tmp_path):
    sim, clf = fits["binary"]
    rep = clf.sample_posterior_predictive(sim.X, num_draws=60, random_state=0)
    fig = plots.plot_ppc(sim.y, rep)
    fig.savefig(tmp_path / "ppc_bin.png")
    ax = fig.axes[0]
    (observed,) = ax.get_lines()
    np.testing.assert_allclose(observed.get_xdata(), [sim.y.mean()] * 2)
    assert ax.get_xlabel() == "rate of y = 1"
    assert sum(p.get_height() for p in ax.patches) == 60   # every replicated dataset binned
    assert ax.get_title().startswith("posterior predictive check: P(rep rate >= observed)")


def test_ppc_continuous_draws_one_histogram_per_replicate(fits, tmp_path):
    sim, reg = fits["regression"]
    rep = reg.sample_posterior_predictive(sim.X, num_draws=30, random_state=0)
    fig = plots.plot_ppc(sim.y, rep, num_reps=20)
    fig.savefig(tmp_path / "ppc_reg.png")
    ax = fig.axes[0]
    assert len(ax.patches) == 21                           # 20 replicated + observed
    assert ax.get_ylabel() == "density"
    with pytest.raises(ValueError, match=r"y_rep must have shape \(S, 300\)"):
        plots.plot_ppc(sim.y, rep[:, :10])


def test_elbo_plots_the_loss_and_refuses_mcmc_fits(fits, tmp_path):
    import xarray as xr

    loss = 100.0 / np.arange(1, 401) + np.random.default_rng(0).normal(0, 0.1, 400)
    dt = xr.DataTree.from_dict({"elbo": xr.Dataset({"loss": ("step", loss)})})
    fig = plots.plot_elbo(dt)
    fig.savefig(tmp_path / "elbo.png")
    ax = fig.axes[0]
    raw, running = ax.get_lines()
    np.testing.assert_array_equal(raw.get_ydata(), loss)
    assert len(running.get_xdata()) == 400 - 8 + 1         # window 400 // 50 = 8
    assert ax.get_ylabel() == "loss (negative ELBO)"
    _, clf = fits["binary"]
    with pytest.raises(ValueError, match="no ELBO trace \\(engine 'gibbs'\\)"):
        plots.plot_elbo(clf.idata_)
