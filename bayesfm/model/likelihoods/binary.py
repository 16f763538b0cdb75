"""Binary likelihoods (click-through rate): ``P(y_n = 1) = Phi(eta_n)`` or ``sigmoid(eta_n)``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import numpyro.distributions as dist
import scipy.special
from jax.scipy.special import log_ndtr

from bayesfm.model.likelihoods.base import Likelihood, register_likelihood

__all__ = ["Binary", "Logit", "Probit", "probit_logits"]


def probit_logits(eta: jax.Array) -> jax.Array:
    """Logits of ``Phi(eta)``, computed stably as ``log Phi(eta) - log Phi(-eta)``."""
    return log_ndtr(eta) - log_ndtr(-eta)


@dataclasses.dataclass(frozen=True)
class Binary(Likelihood):
    """Labels 0/1 with ``P(y = 1 | eta) = link^{-1}(eta)``; subclasses choose the link."""

    task = "binary"

    def logits(self, eta: jax.Array) -> jax.Array:
        """``log P(y=1) - log P(y=0)`` of the scores (JAX)."""
        raise NotImplementedError

    def probability(self, eta: np.ndarray) -> np.ndarray:
        """``P(y = 1 | eta)`` (NumPy, float64)."""
        raise NotImplementedError

    def distribution(self, eta: jax.Array, params: Mapping[str, Any]) -> dist.Distribution:  # noqa: D102
        return dist.Bernoulli(logits=self.logits(eta))

    def mean(self, eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:  # noqa: D102
        return self.probability(eta)

    def sample(  # noqa: D102
        self, rng: np.random.Generator, eta: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        return (rng.uniform(size=eta.shape) < self.probability(eta)).astype(np.int64)


@register_likelihood
@dataclasses.dataclass(frozen=True)
class Probit(Binary):
    """Probit link, ``P(y = 1) = Phi(eta)``: conjugate by truncated-normal augmentation.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.model import Probit
    >>> Probit().mean(np.zeros((1, 2)), {}).tolist()
    [[0.5, 0.5]]
    """

    name = "probit"

    def logits(self, eta: jax.Array) -> jax.Array:  # noqa: D102
        return probit_logits(eta)

    def probability(self, eta: np.ndarray) -> np.ndarray:  # noqa: D102
        return scipy.special.ndtr(eta)


@register_likelihood
@dataclasses.dataclass(frozen=True)
class Logit(Binary):
    """Logistic link, ``P(y = 1) = 1 / (1 + exp(-eta))``.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.model import Logit
    >>> round(float(Logit().mean(np.array([0.0]), {})[0]), 3)
    0.5
    """

    name = "logit"

    def logits(self, eta: jax.Array) -> jax.Array:  # noqa: D102
        return eta

    def probability(self, eta: np.ndarray) -> np.ndarray:  # noqa: D102
        return scipy.special.expit(eta)
