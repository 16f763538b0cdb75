"""The ordered probit likelihood, its cutpoint prior and :class:`Ordinal` (DESIGN section 1).

Rows carry a class code ``y_n in {0, .., C-1}``; a latent ``z_n ~ Normal(yhat_n, 1)`` falls
between two cutpoints, ``y_n = c`` iff ``cut[c-1] < z_n <= cut[c]`` (``cut[-1] = -inf``,
``cut[C-1] = +inf``), so ``P(y_n = c) = Phi(cut[c] - yhat_n) - Phi(cut[c-1] - yhat_n)``.

Identification and prior. Adding a constant to ``w0`` and to every cutpoint leaves the
likelihood unchanged, so one of them must be pinned. bayesfm pins the first cutpoint,
``cut[0] = 0`` (Albert and Chib 1993): ``w0``, every score ``yhat`` and every cutpoint are then
identified by the data, and with ``C = 2`` the model is exactly the probit classifier. The
remaining ``C - 2`` cutpoints are the cumulative sums of positive gaps,

    cut[j] = cut[j-1] + gap[j],    gap[j] ~ HalfNormal(CUTPOINT_GAP_SCALE),   j = 1 .. C-2,

a proper prior (prior predictive draws and simulation-based checks need one) that is nearly
flat over the gaps real data produce on the probit scale (0.2 - 2) and lets the gap of an
empty class shrink towards 0. The NumPyro site ``cut_gaps`` holds the gaps; the deterministic
site ``cutpoints`` holds all ``C - 1`` cutpoints, ``cut[0] = 0`` included.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import scipy.special
from jax.scipy.special import log_ndtr
from numpyro.distributions import constraints

from bayesfm.model.likelihoods.base import Likelihood, register_likelihood
from bayesfm.model.priors import FMPriors

__all__ = [
    "CUTPOINT_GAP_SCALE",
    "Ordinal",
    "OrderedProbit",
    "class_probabilities",
    "cutpoint_log_prior",
    "interval_log_prob",
    "ordinal_log_prob",
    "sample_cutpoints",
]

#: Scale of the HalfNormal prior of every gap between consecutive cutpoints.
CUTPOINT_GAP_SCALE = 2.0


def _log1mexp(x: jax.Array) -> jax.Array:
    """``log(1 - exp(x))`` for ``x <= 0``, accurate on both sides of ``-log 2``."""
    return jnp.where(x > -0.6931471805599453, jnp.log(-jnp.expm1(x)), jnp.log1p(-jnp.exp(x)))


def interval_log_prob(lo: jax.Array, hi: jax.Array) -> jax.Array:
    """``log(Phi(hi) - Phi(lo))`` for finite ``lo < hi``, accurate far in either tail.

    An interval in the upper tail is reflected into the lower one, where ``log_ndtr`` keeps
    its relative accuracy.
    """
    flip = lo > 0
    a = jnp.where(flip, -hi, lo)
    b = jnp.where(flip, -lo, hi)
    la, lb = log_ndtr(a), log_ndtr(b)
    return lb + _log1mexp(jnp.minimum(la - lb, 0.0))


def ordinal_log_prob(eta: jax.Array, y: jax.Array, cutpoints: jax.Array) -> jax.Array:
    """Log probability of class codes ``y`` given scores ``eta`` and ``cutpoints``.

    Parameters
    ----------
    eta : array of shape (..., N)
    y : array of shape (N,)
        Class codes ``0 .. C-1`` (any real dtype).
    cutpoints : array of shape (..., C-1)
        Batch dims broadcast against those of ``eta``.

    Returns
    -------
    array of shape (..., N)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model.likelihoods.ordinal import ordinal_log_prob
    >>> lp = ordinal_log_prob(jnp.zeros(3), jnp.array([0, 1, 2]), jnp.array([0.0, 1.0]))
    >>> round(float(jnp.exp(lp).sum()), 4)  # Phi(0) + (Phi(1) - Phi(0)) + (1 - Phi(1))
    1.0
    """
    n_cut = cutpoints.shape[-1]
    code = jnp.asarray(y).astype(jnp.int32)
    # Both bounds are gathered finite (clipped indices); the end classes use one bound only,
    # so no infinity enters a gradient.
    hi = jnp.take(cutpoints, jnp.clip(code, 0, n_cut - 1), axis=-1) - eta
    lo = jnp.take(cutpoints, jnp.clip(code - 1, 0, n_cut - 1), axis=-1) - eta
    first, last = code <= 0, code >= n_cut
    middle = interval_log_prob(jnp.where(first | last, hi - 1.0, lo), hi)
    return jnp.where(first, log_ndtr(hi), jnp.where(last, log_ndtr(-lo), middle))


def cutpoint_log_prior(cutpoints: jax.Array, scale: float = CUTPOINT_GAP_SCALE) -> jax.Array:
    """Log prior density of the free cutpoints (``cut[0] = 0`` fixed); ``-inf`` if unordered."""
    gaps = jnp.diff(cutpoints, axis=-1)
    lp = dist.HalfNormal(scale).log_prob(jnp.maximum(gaps, 0.0)).sum(-1)
    return jnp.where(jnp.all(gaps > 0, axis=-1), lp, -jnp.inf)


def sample_cutpoints(n_classes: int, scale: float = CUTPOINT_GAP_SCALE) -> jax.Array:
    """NumPyro sites of the cutpoints: ``cut_gaps`` (``C - 2`` gaps) and ``cutpoints``."""
    if n_classes < 2:
        raise ValueError(f"the ordinal likelihood needs n_classes >= 2, got {n_classes}")
    cut = jnp.zeros(1)
    if n_classes > 2:
        gaps = numpyro.sample(
            "cut_gaps", dist.HalfNormal(scale).expand([n_classes - 2]).to_event(1)
        )
        cut = jnp.concatenate([jnp.zeros(1, gaps.dtype), jnp.cumsum(gaps)])
    return numpyro.deterministic("cutpoints", cut)


class OrderedProbit(dist.Distribution):
    """Ordered probit over classes ``0 .. C-1``: ``y = #{j : cutpoints[j] < eta + eps}``.

    Parameters
    ----------
    eta : array
        Latent means (batch shape).
    cutpoints : array of shape (..., C-1)
        Increasing cutpoints.
    """

    arg_constraints = {"eta": constraints.real, "cutpoints": constraints.ordered_vector}
    pytree_data_fields = ("eta", "cutpoints")
    has_enumerate_support = False

    def __init__(self, eta: jax.Array, cutpoints: jax.Array, *, validate_args: Any = None):
        self.eta, self.cutpoints = eta, cutpoints
        batch_shape = jnp.shape(eta)
        self._support = constraints.integer_interval(0, cutpoints.shape[-1])
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self) -> constraints.Constraint:  # noqa: D102
        return self._support

    def sample(self, key: jax.Array, sample_shape: tuple[int, ...] = ()) -> jax.Array:  # noqa: D102
        shape = sample_shape + self.batch_shape
        z = self.eta + jax.random.normal(key, shape)
        return jnp.sum(z[..., None] > self.cutpoints, axis=-1)

    def log_prob(self, value: jax.Array) -> jax.Array:  # noqa: D102
        return ordinal_log_prob(self.eta, value, self.cutpoints)


def class_probabilities(eta: np.ndarray, cutpoints: np.ndarray) -> np.ndarray:
    """Class probabilities ``(..., N, C)`` from scores ``(..., N)`` and cutpoints ``(..., C-1)``.

    NumPy in float64 (prediction runs on the host).

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.model.likelihoods.ordinal import class_probabilities
    >>> class_probabilities(np.array([0.0]), np.array([0.0])).round(3).tolist()
    [[0.5, 0.5]]
    """
    eta = np.asarray(eta, dtype=np.float64)
    cut = np.asarray(cutpoints, dtype=np.float64)
    cdf = scipy.special.ndtr(cut[..., None, :] - eta[..., None])
    shape = cdf.shape[:-1] + (1,)
    full = np.concatenate([np.zeros(shape), cdf, np.ones(shape)], axis=-1)
    return np.maximum(np.diff(full, axis=-1), 0.0)


@register_likelihood
@dataclasses.dataclass(frozen=True)
class Ordinal(Likelihood):
    """Ordered probit over ``n_classes`` classes with learned cutpoints (``cut[0] = 0``).

    Parameters
    ----------
    n_classes : int
        Number of ordered classes ``C >= 2``; ``y`` holds the class codes ``0 .. C-1``.
    class_values : tuple of float, optional
        Numeric value of every class (the rating), lowest first, for the expected value
        ``E[y | x] = sum_c value_c P(y = c)``; default the codes ``0 .. C-1``.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.model import Ordinal
    >>> lik = Ordinal(n_classes=2, class_values=(1.0, 2.0))
    >>> float(lik.mean(np.zeros((1, 1)), {"cutpoints": np.zeros((1, 1))})[0, 0])
    1.5
    """

    n_classes: int | None = None
    class_values: tuple[float, ...] | None = None

    name = "ordinal"
    task = "ordinal"
    sites = ("cutpoints",)
    prediction_sites = ("cutpoints",)

    def __post_init__(self) -> None:
        if self.n_classes is None:
            raise ValueError("the ordinal likelihood needs n_classes >= 2, got None")
        if isinstance(self.n_classes, bool) or not isinstance(self.n_classes, int | np.integer):
            raise TypeError(f"n_classes must be an integer, got {self.n_classes!r}")
        if self.n_classes < 2:
            raise ValueError(f"the ordinal likelihood needs n_classes >= 2, got {self.n_classes}")
        if self.class_values is not None and len(self.class_values) != self.n_classes:
            raise ValueError(f"class_values must have {self.n_classes} entries, got "
                             f"{len(self.class_values)}")

    def values(self) -> np.ndarray:
        """Return the numeric value of every class (float64)."""
        if self.class_values is None:
            return np.arange(int(self.n_classes or 0), dtype=np.float64)
        return np.asarray(self.class_values, dtype=np.float64)

    def sample_sites(self, priors: FMPriors) -> dict[str, jax.Array]:  # noqa: D102
        return {"cutpoints": sample_cutpoints(int(self.n_classes or 0))}

    def distribution(self, eta: jax.Array, params: Mapping[str, Any]) -> dist.Distribution:  # noqa: D102
        return OrderedProbit(eta, params["cutpoints"])

    def log_prob(self, y: jax.Array, eta: jax.Array, params: Mapping[str, Any]) -> jax.Array:  # noqa: D102
        return ordinal_log_prob(eta, y, params["cutpoints"])

    def probabilities(self, eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Class probabilities ``(..., n, C)`` of every draw and row (float64)."""
        return class_probabilities(eta, params["cutpoints"])

    def mean(self, eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:  # noqa: D102
        return self.probabilities(eta, params) @ self.values()

    def sample(  # noqa: D102
        self, rng: np.random.Generator, eta: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        cdf = np.cumsum(self.probabilities(eta, params), axis=-1)
        u = rng.uniform(size=cdf.shape[:-1])
        return np.minimum((cdf < u[..., None]).sum(axis=-1), int(self.n_classes or 0) - 1)
