"""Logit: ``omega_n ~ PG(s_n, yhat_n)`` (Polson, Scott and Windle 2013; DESIGN section 3).

Given ``omega``, row ``n``'s likelihood ``e^{kappa_n yhat_n} / (1 + e^{yhat_n})^{s_n}``,
``kappa_n = s_n (y_n - 1/2)``, is proportional in ``yhat_n`` to a Normal density of the
working response ``z_n = kappa_n / omega_n`` with precision ``omega_n``: the FM's blocks see
``e = z - yhat`` with per-row precisions ``omega`` in place of frequency weights. A
frequency weight ``s_n`` (a non-negative integer) is the PG shape; ``s_n = 0`` drops the row.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from bayesfm.engines.gibbs.blocks import GibbsData
from bayesfm.engines.gibbs.latents.base import GibbsLatent, register_latent
from bayesfm.engines.gibbs.terms import on_rows
from bayesfm.engines.polyagamma import polya_gamma

__all__ = ["LogitLatent"]


@register_latent
@dataclasses.dataclass(frozen=True)
class LogitLatent(GibbsLatent):
    """Binary logit: the latent state is ``omega`` and the working response ``z``."""

    name = "logit"

    def check_weights(self, weight: np.ndarray) -> None:  # noqa: D102
        if np.any(weight < 0) or np.any(weight != np.round(weight)):
            raise ValueError("sample_weight with likelihood='logit' and method='gibbs' must "
                             "hold non-negative integers (counts of repeated rows)")

    def start(  # noqa: D102
        self, data: GibbsData, yhat: jax.Array, num_warmup: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        one = jnp.ones_like(yhat)  # any start: the first sweep draws omega given yhat first
        return jnp.zeros_like(yhat), {"z": yhat, "omega": one, "tau": one[0]}

    def begin(self, state: Any, data: GibbsData, term: Any, priors: Any) -> Any:  # noqa: D102
        key, k_pg = jax.random.split(state.rng_key)
        yhat = state.latent["z"] - state.e
        kappa = data.y - 0.5 if data.weight is None else data.weight * (data.y - 0.5)
        omega = polya_gamma(k_pg, yhat, data.weight)
        z = jnp.where(omega > 0, kappa / jnp.where(omega > 0, omega, 1.0), yhat)
        return state._replace(e=z - yhat, latent={**state.latent, "z": z, "omega": omega},
                              rng_key=key)

    def reweight(self, data: GibbsData, latent: dict[str, jax.Array]) -> GibbsData:  # noqa: D102
        return data._replace(weight=latent["omega"])

    def weigh_entries(self, data: GibbsData) -> GibbsData:  # noqa: D102
        blocks = tuple(bs._replace(wvalues=bs.values * on_rows(data.weight, bs.rows))
                       for bs in data.blocks)
        return data._replace(blocks=blocks)

    def yhat(self, state: Any, data: GibbsData) -> jax.Array:  # noqa: D102
        return state.latent["z"] - state.e

    def pointwise_log_likelihood(self, state: Any, data: GibbsData) -> jax.Array:  # noqa: D102
        lp = -jax.nn.softplus((1.0 - 2.0 * data.y) * self.yhat(state, data))
        return lp if data.weight is None else lp * data.weight
