"""The ordered probit likelihood and its cutpoint prior (bayesfm.model.likelihoods.ordinal)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import Predictive
from scipy.special import log_ndtr as np_log_ndtr
from scipy.special import ndtr

from bayesfm.model import Ordinal, Probit, fm_model, pointwise_log_likelihood
from bayesfm.model.likelihoods import class_probabilities, ordinal_log_prob


def test_ordinal_log_prob_is_the_ordered_probit(x64):
    rng = np.random.default_rng(0)
    eta = rng.normal(0, 1.5, 400)  # the naive difference below stays accurate here
    cut = np.array([0.0, 0.4, 1.7, 2.0])
    y = rng.integers(0, 5, 400)
    bounds = np.concatenate([[-np.inf], cut, [np.inf]])
    expected = np.log(ndtr(bounds[y + 1] - eta) - ndtr(bounds[y] - eta))
    got = ordinal_log_prob(jnp.asarray(eta), jnp.asarray(y), jnp.asarray(cut))
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    # Class probabilities sum to one and agree with the log likelihood.
    p = class_probabilities(eta, cut)
    np.testing.assert_allclose(p.sum(-1), 1.0)
    np.testing.assert_allclose(np.log(p[np.arange(400), y]), expected, rtol=1e-6)


def test_ordinal_log_prob_is_accurate_and_differentiable_in_the_tails():
    cut = jnp.array([0.0, 1.0])
    eta = jnp.array([40.0, -40.0, 40.0, -40.0, 0.5])
    y = jnp.array([0, 2, 1, 1, 1])
    lp = ordinal_log_prob(eta, y, cut)
    assert np.all(np.isfinite(lp))
    # Class 0 at eta = 40: log Phi(-40); class 1 at eta = -40: log(Phi(41) - Phi(40))-ish.
    np.testing.assert_allclose(lp[0], np_log_ndtr(-40.0), rtol=1e-4)
    np.testing.assert_allclose(lp[3], np_log_ndtr(-40.0), rtol=1e-3)
    grad = jax.grad(lambda e, c: ordinal_log_prob(e, y, c).sum(), argnums=(0, 1))(eta, cut)
    assert all(np.all(np.isfinite(g)) for g in grad)


def test_two_classes_are_the_probit_model():
    rng = np.random.default_rng(1)
    eta = jnp.asarray(rng.normal(size=50))
    y = jnp.asarray(rng.integers(0, 2, 50).astype(float))
    np.testing.assert_allclose(
        pointwise_log_likelihood(Ordinal(n_classes=2), y, eta, {"cutpoints": jnp.zeros(1)}),
        pointwise_log_likelihood(Probit(), y, eta, {}), rtol=1e-5, atol=1e-6)


def test_prior_predictive_has_ordered_cutpoints_with_the_first_at_zero():
    idx = np.array([[0, 2], [1, 3], [0, 3]])
    val = np.ones((3, 2), np.float32)
    draws = Predictive(fm_model, num_samples=200)(
        jax.random.key(0), idx, val, np.array([0, 0, 1, 1]), n_groups=2, rank=2,
        likelihood="ordinal", n_classes=5)
    cut = np.asarray(draws["cutpoints"])
    assert cut.shape == (200, 4) and np.all(cut[:, 0] == 0) and np.all(np.diff(cut) > 0)
    assert set(np.unique(draws["y"])) <= set(range(5)) and len(np.unique(draws["y"])) == 5
    with pytest.raises(ValueError, match="n_classes"):
        Predictive(fm_model, num_samples=1)(jax.random.key(0), idx, val, np.array([0, 0, 1, 1]),
                                            n_groups=2, rank=2, likelihood="ordinal")
