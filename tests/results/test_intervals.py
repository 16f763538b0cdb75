"""Exact predictive summaries: mixture-of-normals quantiles and class ranges."""

import numpy as np
from scipy import stats

from bayesfm.results.intervals import (
    class_summary,
    normal_mixture_quantiles,
    normal_mixture_summary,
)


def test_mixture_quantiles_solve_the_mixture_cdf():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(200, 7))
    sd = rng.uniform(0.2, 2.0, 200)
    for q in (0.05, 0.5, 0.95):
        x = normal_mixture_quantiles(mu, sd, q)
        cdf = stats.norm.cdf((x[None, :] - mu) / sd[:, None]).mean(axis=0)
        np.testing.assert_allclose(cdf, q, atol=1e-10)


def test_mixture_quantiles_where_newton_steps_leave_the_bracket():
    """Two far-apart clusters of narrow components: the CDF is flat between them (a zero
    density sends a Newton step to infinity) and steep inside them, so the search has to fall
    back on bisection; the answer still solves the CDF, in the tails too."""
    rng = np.random.default_rng(2)
    mu = np.concatenate([rng.normal(-5.0, 0.01, (300, 20)), rng.normal(5.0, 0.01, (100, 20))])
    sd = np.full(400, 1e-3)
    for q in (1e-6, 0.05, 0.5, 0.9, 0.999):
        x = normal_mixture_quantiles(mu, sd, q)
        cdf = stats.norm.cdf((x[None, :] - mu) / sd[:, None]).mean(axis=0)
        np.testing.assert_allclose(cdf, q, atol=1e-10)


def test_mixture_summary_moments_and_never_narrower_than_the_mean_interval():
    rng = np.random.default_rng(1)
    mu = rng.normal(3.0, 0.3, size=(400, 50))
    sd = np.full(400, 0.9)
    m, s, lo, hi = normal_mixture_summary(mu, sd, [0.05, 0.95])
    np.testing.assert_allclose(m, mu.mean(0))
    np.testing.assert_allclose(s, np.sqrt(mu.var(0) + 0.81))
    mlo, mhi = np.quantile(mu, [0.05, 0.95], axis=0)
    assert np.all(lo <= mlo) and np.all(hi >= mhi)


def test_class_summary_is_the_central_range_of_classes():
    p = np.array([[0.02, 0.9, 0.08], [0.5, 0.3, 0.2]])
    m, s, lo, hi = class_summary(p, np.array([1.0, 2.0, 3.0]), [0.05, 0.95])
    np.testing.assert_allclose(m, p @ [1, 2, 3])
    assert lo.tolist() == [2.0, 1.0] and hi.tolist() == [3.0, 3.0]
