"""Likelihood objects: numerical robustness at extreme scores."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import log_ndtr

from bayesfm.model import get_likelihood, pointwise_log_likelihood

pytestmark = pytest.mark.battery


@pytest.mark.parametrize("likelihood", ["probit", "logit"])
def test_extreme_scores_give_finite_log_likelihoods(likelihood):
    lik = get_likelihood(likelihood)
    eta = jnp.array([-1e4, -1e2, -40.0, -8.0, 0.0, 8.0, 40.0, 1e2, 1e4], jnp.float32)
    for y in (0.0, 1.0):
        lp = np.asarray(pointwise_log_likelihood(lik, jnp.full(eta.shape, y), eta, {}))
        assert np.all(np.isfinite(lp)) and np.all(lp <= 0)
        e = np.asarray(eta, np.float64) * (1 if y else -1)
        want = log_ndtr(e) if likelihood == "probit" else -np.logaddexp(0, -e)
        # float32 relative accuracy of the log probability, also far in the tails.
        np.testing.assert_allclose(lp, want, rtol=1e-5, atol=1e-6)
    p = lik.mean(np.asarray(eta, np.float64), {})
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
