"""The Gaussian likelihood of regression: ``y_n ~ Normal(eta_n, 1 / tau)``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import numpyro
import numpyro.distributions as dist

from bayesfm.model.likelihoods.base import Likelihood, register_likelihood
from bayesfm.model.priors import FMPriors

__all__ = ["Gaussian"]


@register_likelihood
@dataclasses.dataclass(frozen=True)
class Gaussian(Likelihood):
    """Regression: Normal noise of precision ``tau ~ Gamma(a0, b0)`` around the FM score.

    Frequency weights ``s_n`` multiply the row's log likelihood, i.e. its precision
    (``tau * s_n``).

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.model import Gaussian
    >>> Gaussian().mean(np.array([[1.0, 2.0]]), {"tau": np.array([4.0])}).tolist()
    [[1.0, 2.0]]
    """

    name = "gaussian"
    task = "regression"
    sites = ("tau",)
    prediction_sites = ("tau",)

    def sample_sites(self, priors: FMPriors) -> dict[str, jax.Array]:  # noqa: D102
        return {"tau": numpyro.sample("tau", dist.Gamma(priors.a0, priors.b0))}

    def distribution(self, eta: jax.Array, params: Mapping[str, Any]) -> dist.Distribution:  # noqa: D102
        tau = params["tau"]
        return dist.Normal(eta, jax.lax.rsqrt(tau[..., None] if np.ndim(tau) else tau))

    def mean(self, eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:  # noqa: D102
        return eta

    def noise_sd(self, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Observation noise sd ``1 / sqrt(tau)`` of every draw (float64)."""
        return 1.0 / np.sqrt(np.asarray(params["tau"], np.float64))

    def sample(  # noqa: D102
        self, rng: np.random.Generator, eta: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        sd = self.noise_sd(params)
        return eta + rng.standard_normal(eta.shape) * sd[..., None]
