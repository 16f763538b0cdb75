"""Gaussian likelihood: no latent variable; ``tau`` drawn from its conjugate Gamma."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bayesfm.engines.gibbs.blocks import GibbsData
from bayesfm.engines.gibbs.latents.base import GibbsLatent, register_latent

__all__ = ["GaussianLatent"]


@register_latent
@dataclasses.dataclass(frozen=True)
class GaussianLatent(GibbsLatent):
    """Regression: the residual is ``y - yhat``; frequency weights scale the precision."""

    name = "gaussian"
    sites = ("tau",)

    def check_weights(self, weight: np.ndarray) -> None:  # noqa: D102
        pass

    def start_params(self, data: GibbsData) -> dict[str, jax.Array]:  # noqa: D102
        return {"tau": jnp.ones((), data.y.dtype)}

    def start(  # noqa: D102
        self, data: GibbsData, yhat: jax.Array, num_warmup: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        return data.y - yhat, {}

    def precision(self, params: dict[str, jax.Array], latent: dict[str, jax.Array]) -> jax.Array:  # noqa: D102
        return params["tau"]

    def conjugate(self, params: dict[str, jax.Array], tau_draw: jax.Array) -> dict[str, Any]:  # noqa: D102
        return {**params, "tau": tau_draw}

    def yhat(self, state: Any, data: GibbsData) -> jax.Array:  # noqa: D102
        return data.y - state.e

    def pointwise_log_likelihood(self, state: Any, data: GibbsData) -> jax.Array:  # noqa: D102
        tau = state.params["tau"][..., None]
        lp = 0.5 * jnp.log(tau / (2 * jnp.pi)) - 0.5 * tau * state.e * state.e
        return lp if data.weight is None else lp * data.weight
