"""The Normal-Gamma hierarchy of the FM's weights and factors (DESIGN section 1).

Every group (field) ``g`` has a precision and a mean for its linear weights and, for each
factor matrix of the interaction term, one precision and mean per factor (and per other group
for the field-aware FM)::

    lambda[g, ...] ~ Gamma(a0, b0)
    mu[g, ...] | lambda ~ Normal(mu0, 1 / (gamma0 * lambda[g, ...]))
    theta_i ~ Normal(mu[g(i), ...], 1 / lambda[g(i), ...])

These priors are the regulariser; :class:`FMPriors` holds their constants.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

__all__ = ["FMPriors", "PARAMETERIZATIONS", "sample_group_hyperpriors", "sample_members"]

#: Parameterisations of ``w`` and the factor matrices in the NumPyro model.
PARAMETERIZATIONS = ("centered", "noncentered")


class FMPriors(NamedTuple):
    """Constants of the Normal-Gamma hierarchy (libFM's MCMC defaults).

    ``reg0`` is the fixed prior precision of the global bias ``w0``. libFM uses 0 (an improper
    flat prior); bayesfm uses 1 so that the prior is proper (prior predictive draws and
    simulation-based calibration need that). With more than a handful of rows the difference
    is invisible in the posterior.

    Examples
    --------
    >>> from bayesfm.model import FMPriors
    >>> FMPriors(a0=2.0).b0
    1.0
    """

    a0: float = 1.0
    b0: float = 1.0
    gamma0: float = 1.0
    mu0: float = 0.0
    reg0: float = 1.0


def sample_group_hyperpriors(
    name: str, event_shape: tuple[int, ...], priors: FMPriors
) -> tuple[jax.Array, jax.Array]:
    """Sample ``lambda_<name>`` and ``mu_<name>`` inside the ``group`` plate.

    The trailing ``event_shape`` axes are event dimensions, so that the ``group`` and
    ``feature`` plates keep one dim everywhere (autoguides require consistent plates).
    Returns ``(mu, lambda)``.
    """
    a0, b0, gamma0, mu0, _ = priors
    gamma = dist.Gamma(a0, b0)
    normal_scale = jax.lax.rsqrt
    if event_shape:
        lam = numpyro.sample(
            f"lambda_{name}", gamma.expand(list(event_shape)).to_event(len(event_shape))
        )
        mu = numpyro.sample(
            f"mu_{name}",
            dist.Normal(mu0, normal_scale(gamma0 * lam)).to_event(len(event_shape)),
        )
    else:
        lam = numpyro.sample(f"lambda_{name}", gamma)
        mu = numpyro.sample(f"mu_{name}", dist.Normal(mu0, normal_scale(gamma0 * lam)))
    return mu, lam


def sample_members(
    name: str, mu: jax.Array, lam: jax.Array, group_of_feature: jax.Array, n_event: int
) -> jax.Array:
    """Sample the per-feature site ``name`` from its group's ``(mu, lambda)`` (feature plate)."""
    gof = jnp.asarray(group_of_feature)
    d = dist.Normal(mu[gof], jax.lax.rsqrt(lam[gof]))
    return numpyro.sample(name, d.to_event(n_event) if n_event else d)
