"""The FM prior along its scale lines: what a move that rescales parameters must account for.

Two families of maps leave the Normal-Gamma hierarchy's conditional priors invariant and
change only the top of it, which makes them cheap exact moves for any engine:

- one group's members, their mean and precision, ``(x_g, mu[g], lambda[g]) -> (e^t x_g,
  e^t mu[g], e^-2t lambda[g])``: the members' prior cancels against their Jacobian and
  :func:`group_line_log_prior` is what is left;
- every score multiplied by ``s`` (:func:`scale_scores`: ``w0, w, mu_w`` by ``s``, a factor
  matrix of order ``m`` and its mean by ``s^(1/m)``, the precisions by the inverse
  squares), of log prior plus log Jacobian :func:`scale_log_prior`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bayesfm.model.interactions import Interaction
from bayesfm.model.priors import FMPriors

__all__ = ["group_line_log_prior", "scale_log_prior", "scale_scores"]

Params = dict[str, jax.Array]


def group_line_log_prior(t: jax.Array, lam: jax.Array, mu: jax.Array,
                         priors: FMPriors) -> jax.Array:
    """Log prior plus log Jacobian at ``t`` on a group's scale line, up to a constant.

    ``-2 a0 t - b0 lam e^-2t - gamma0 lam (mu - mu0 e^-t)^2 / 2`` for the group's current
    ``lam`` and ``mu`` (``lambda[g] ~ Gamma(a0, b0)``, ``mu[g] ~ Normal(mu0, 1 / (gamma0
    lambda[g]))``); summed over the entries of array arguments.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model import FMPriors
    >>> from bayesfm.model.scaling import group_line_log_prior
    >>> float(group_line_log_prior(jnp.zeros(()), jnp.ones(()), jnp.zeros(()), FMPriors()))
    -1.0
    """
    a0, b0, gamma0, mu0, _ = priors
    return jnp.sum(-2.0 * a0 * t - b0 * lam * jnp.exp(-2.0 * t)
                   - 0.5 * gamma0 * lam * (mu - mu0 * jnp.exp(-t)) ** 2)


def scale_scores(params: Params, interaction: Interaction, s: jax.Array) -> Params:
    """Return the sites that change when every score is multiplied by ``s``, moved."""
    out = {"w0": params["w0"] * s, "w": params["w"] * s, "mu_w": params["mu_w"] * s,
           "lambda_w": params["lambda_w"] / (s * s)}
    for fs in interaction.factor_sets:
        r = jnp.sqrt(s) if fs.order == 2 else s ** (1.0 / fs.order)
        r2 = s if fs.order == 2 else s ** (2.0 / fs.order)
        out[fs.name] = params[fs.name] * r
        out[f"mu_{fs.name}"] = params[f"mu_{fs.name}"] * r
        out[f"lambda_{fs.name}"] = params[f"lambda_{fs.name}"] / r2
    return out


def scale_log_prior(params: Params, interaction: Interaction, t: jax.Array,
                    priors: FMPriors) -> jax.Array:
    """Log prior of ``scale_scores(params, interaction, e^t)`` plus the move's log Jacobian.

    Up to a constant: ``w0``'s Normal prior and Jacobian, then every group's and factor
    set's line (:func:`group_line_log_prior` at ``t / order``).
    """
    out = -0.5 * priors.reg0 * (params["w0"] * jnp.exp(t)) ** 2 + t
    out = out + group_line_log_prior(t, params["lambda_w"], params["mu_w"], priors)
    for fs in interaction.factor_sets:
        out = out + group_line_log_prior(t / fs.order, params[f"lambda_{fs.name}"],
                                         params[f"mu_{fs.name}"], priors)
    return out
