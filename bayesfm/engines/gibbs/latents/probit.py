"""Probit: ``z_n ~ Normal(yhat_n, 1)`` truncated to the sign of ``y_n`` (Albert and Chib 1993)."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr

from bayesfm.engines.gibbs.blocks import GibbsData
from bayesfm.engines.gibbs.latents.base import GibbsLatent, register_latent
from bayesfm.engines.variates import truncnorm_residual

__all__ = ["ProbitLatent"]


@register_latent
@dataclasses.dataclass(frozen=True)
class ProbitLatent(GibbsLatent):
    """Binary probit: the latent state is ``z``; the residual is ``z - yhat``.

    User weights are refused (:meth:`check_weights`: one latent per row has no frequency
    weight); the data's ``weight`` is then 0 or 1, the 0s marking the padding rows of a
    layout over several devices, which every sum skips.
    """

    name = "probit"

    def start(  # noqa: D102
        self, data: GibbsData, yhat: jax.Array, num_warmup: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        z = yhat  # any start is valid: the first sweep redraws z given yhat before using it
        return z - yhat, {"z": z, "tau": jnp.ones((), yhat.dtype)}

    def n_uniform(self, n_rows: int) -> int:  # noqa: D102
        return n_rows

    def augment(  # noqa: D102
        self, uniform: jax.Array, e: jax.Array, latent: dict[str, jax.Array], data: GibbsData
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        yhat = latent["z"] - e
        e = truncnorm_residual(uniform, yhat, data.y)
        return e, {**latent, "z": yhat + e}

    def yhat(self, state: Any, data: GibbsData) -> jax.Array:  # noqa: D102
        return state.latent["z"] - state.e

    def pointwise_log_likelihood(self, state: Any, data: GibbsData) -> jax.Array:  # noqa: D102
        lp = log_ndtr((2.0 * data.y - 1.0) * self.yhat(state, data))
        return lp if data.weight is None else lp * data.weight
