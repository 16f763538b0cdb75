"""Random draws of the Gibbs sweep (bayesfm.engines.variates)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import truncnorm

from bayesfm.engines.variates import gamma, truncnorm_between, truncnorm_residual


def test_probit_truncated_normal_respects_the_sign_far_in_the_tails():
    yhat = jnp.array([-40.0, -8.0, 0.0, 8.0, 40.0, -40.0, 0.0, 40.0])
    y = jnp.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    u = jax.random.uniform(jax.random.key(0), (1000, 8), minval=1e-7)
    z = yhat + jax.vmap(lambda u: truncnorm_residual(u, yhat, y))(u)
    assert np.all(np.isfinite(z))
    assert np.all(np.where(y == 1, z >= 0, z <= 0))
    # Unconstrained side: z - yhat is close to a standard normal.
    assert abs(float(jnp.mean(z[:, 3] - 8.0))) < 0.1
    assert abs(float(jnp.std(z[:, 3])) - 1.0) < 0.1


def test_gamma_sampler_matches_moments():
    shape = jnp.array([0.3, 1.0, 2.5, 400.0])
    keys = jax.random.split(jax.random.key(0), 4000)
    u = jax.random.uniform(jax.random.key(1), (4000, 4))
    x = jax.vmap(lambda k, u: gamma(k, shape, u))(keys, u)
    # Gamma(a, 1): mean a, variance a; 4000 draws give a standard error of sqrt(a / 4000).
    assert np.all(np.abs(x.mean(0) - shape) <= 4 * np.sqrt(shape / 4000)), x.mean(0)
    np.testing.assert_allclose(x.var(0), shape, rtol=0.15)


@pytest.mark.parametrize(("lo", "hi"), [(-np.inf, -0.5), (0.3, np.inf), (-1.0, 2.0),
                                        (6.0, 6.5), (-9.0, -8.0), (-np.inf, np.inf)])
def test_truncated_normal_between_bounds_matches_scipy(lo, hi):
    u = jax.random.uniform(jax.random.key(0), (20000,), minval=1e-7)
    x = np.asarray(truncnorm_between(u, jnp.full(20000, lo), jnp.full(20000, hi)))
    assert np.all((x >= lo) & (x <= hi))
    ref = truncnorm(lo, hi)
    # 20000 draws: the standard error of the mean is sd/141; 5 such errors, plus float32.
    assert abs(x.mean() - ref.mean()) <= 5 * ref.std() / np.sqrt(20000) + 1e-3
    np.testing.assert_allclose(x.std(), ref.std(), rtol=0.05)
