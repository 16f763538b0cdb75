"""The Gibbs block of benchmarks/hmc_within_gibbs_ifm.py draws from the model's own conditionals.

Each conditional is checked against :func:`bayesfm.model.fm_model`'s log joint at a point
drawn from the prior: a conditional density ``q`` of a block is right when
``log p(block=a, rest) - log p(block=b, rest) = log q(a) - log q(b)`` for any ``a, b``
(for the Gaussian block: the log joint's Hessian in ``(w0, w, mu_w)`` is minus the
precision and its gradient is ``P mean - P theta``). Deterministic, float32: the tolerances
are a few float32 roundings of log joints of a few hundred.
"""

import importlib.util
import pathlib
from argparse import Namespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import gamma as gamma_dist
from jax.scipy.stats import norm
from numpyro.infer import Predictive
from numpyro.infer.util import log_density

_PATH = pathlib.Path(__file__).parents[2] / "benchmarks" / "hmc_within_gibbs_ifm.py"
_spec = importlib.util.spec_from_file_location("hmc_within_gibbs_ifm", _PATH)
hwg = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hwg)


@pytest.fixture(scope="module")
def setup():
    args = Namespace(rows=60, test=1, sizes=[3, 3, 2], rank=2, noise=0.5, seed=3)
    problem, _ = hwg.make_problem(args)
    d = problem.design
    data = (jnp.asarray(d.indices), jnp.asarray(d.values), jnp.asarray(d.group_of_feature),
            jnp.asarray(problem.y, d.values.dtype))
    kwargs = problem.model_kwargs()
    prior = Predictive(hwg.fm_model, num_samples=1)(jax.random.key(1), *data[:3], **kwargs)
    point = {k: v[0] for k, v in prior.items() if k != "y"}

    def log_joint(**change):
        return log_density(hwg.fm_model, data, kwargs, {**point, **change})[0]

    return hwg.Conditionals(problem), point, log_joint


def _gamma_logpdf(lam, shape, rate):
    return gamma_dist.logpdf(lam * rate, shape) + jnp.log(rate)


def test_block_covers_every_site_but_v_and_the_network(setup):
    cond, point, _ = setup
    hmc = {"v", *cond.term.network_names(cond.n_groups, 2)}
    assert set(point) == set(hwg.GIBBS_SITES) | hmc
    assert not set(hwg.GIBBS_SITES) & hmc


def test_theta_block_is_the_gaussian_conditional(setup):
    cond, point, log_joint = setup
    p = cond.n_features
    prec, b = cond.theta(point)

    def f(theta):
        return log_joint(w0=theta[0], w=theta[1:1 + p], mu_w=theta[1 + p:])

    theta0 = jnp.concatenate([point["w0"][None], point["w"], point["mu_w"]])
    hess = jax.hessian(f)(theta0)
    scale = float(jnp.max(jnp.abs(prec)))
    np.testing.assert_allclose(-hess, prec, atol=1e-4 * scale)
    np.testing.assert_allclose(jax.grad(f)(theta0), b - prec @ theta0, atol=1e-4 * scale)


@pytest.mark.parametrize("site", ["lambda_fen", "tau"])
def test_gamma_blocks(setup, site):
    cond, point, log_joint = setup
    shape, rate = cond.lambda_fen(point) if site == "lambda_fen" else cond.tau(point)
    a, b = (point[site] * f for f in (0.5, 1.7))
    lhs = log_joint(**{site: a}) - log_joint(**{site: b})
    rhs = jnp.sum(_gamma_logpdf(a, shape, rate) - _gamma_logpdf(b, shape, rate))
    np.testing.assert_allclose(lhs, rhs, atol=2e-3 * (1 + abs(float(rhs))))


@pytest.mark.parametrize("name", ["w", "v"])
def test_normal_gamma_blocks(setup, name):
    cond, point, log_joint = setup
    mean, kappa, shape, rate = cond.normal_gamma(point[name])
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(3):
        lam = point[f"lambda_{name}"] * rng.uniform(0.5, 2.0, size=mean.shape)
        mu = point[f"mu_{name}"] + rng.normal(0.0, 0.3, size=mean.shape)
        lam, mu = jnp.asarray(lam, mean.dtype), jnp.asarray(mu, mean.dtype)
        q = jnp.sum(_gamma_logpdf(lam, shape, rate)
                    + norm.logpdf(mu, mean, jax.lax.rsqrt(kappa * lam)))
        diffs.append(float(log_joint(**{f"mu_{name}": mu, f"lambda_{name}": lam}) - q))
    np.testing.assert_allclose(diffs, diffs[0], atol=2e-3 * (1 + abs(diffs[0])))
