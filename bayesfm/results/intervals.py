"""Exact predictive summaries of a new ``y`` from the posterior predictive mixture.

Given posterior draws ``s = 1..S``, a new ``y`` at row ``x`` has the mixture distribution
``p(y | x) = (1/S) sum_s p(y | eta_s(x), theta_s)``. Gaussian: a mixture of normals
``N(mu_s, sigma_s^2)``, whose quantiles are found by bisection on the mixture CDF (no noise
draws, so no Monte Carlo error beyond the posterior draws themselves). Binary and ordinal: the
mixture is the posterior mean of the class probabilities; the interval is the central range of
classes it covers.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = ["class_summary", "normal_mixture_quantiles", "normal_mixture_summary"]

#: Bisection steps: the bracket shrinks by 2**-48, far below float32 resolution of ``y``.
BISECTION_STEPS = 48


def normal_mixture_quantiles(mu: np.ndarray, sd: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of ``(1/S) sum_s N(mu[s, i], sd[s]^2)`` for every column ``i``.

    Parameters
    ----------
    mu : ndarray of shape (S, n)
        Component means (the draws of ``E[y | x]``).
    sd : ndarray of shape (S,) or (S, n)
        Component standard deviations (the noise sd of every draw).
    q : float in (0, 1)

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.results.intervals import normal_mixture_quantiles
    >>> mu, sd = np.zeros((2, 1)), np.ones(2)
    >>> float(normal_mixture_quantiles(mu, sd, 0.95)[0]).__round__(6)  # a single normal
    1.644854
    >>> mu = np.array([[-1.0], [1.0]])
    >>> x = normal_mixture_quantiles(mu, np.array([0.5, 0.5]), 0.5)
    >>> float(abs(x[0])) < 1e-9  # a symmetric mixture: median 0
    True
    """
    sd = np.broadcast_to(sd.reshape(sd.shape[0], -1), mu.shape)
    z = ndtri(q)
    # Every component's own q-quantile brackets the mixture's: F(min) <= q <= F(max).
    comp = mu + z * sd
    lo, hi = comp.min(axis=0), comp.max(axis=0)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        below = ndtr((mid[None, :] - mu) / sd).mean(axis=0) < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
        if np.all(hi - lo <= 1e-12 * np.maximum(1.0, np.abs(hi))):
            break
    return 0.5 * (lo + hi)


def normal_mixture_summary(
    mu: np.ndarray, sd: np.ndarray, q: list[float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sd and ``q`` quantiles of the Gaussian predictive mixture of every column."""
    sd = np.asarray(sd, dtype=np.float64)
    var = np.broadcast_to((sd**2).reshape(sd.shape[0], -1), mu.shape)
    mean = mu.mean(axis=0)
    total_sd = np.sqrt(np.maximum((var + mu**2).mean(axis=0) - mean**2, 0.0))
    if q is None:
        nan = np.full(mean.shape, np.nan)
        return mean, total_sd, nan, nan
    return (mean, total_sd, normal_mixture_quantiles(mu, sd, q[0]),
            normal_mixture_quantiles(mu, sd, q[1]))


def class_summary(
    probs: np.ndarray, values: np.ndarray, q: list[float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, sd and central ``q`` range of a new class from mixture class probabilities.

    Parameters
    ----------
    probs : ndarray of shape (n, C)
        Posterior mean probability of every class (the predictive distribution).
    values : ndarray of shape (C,)
        The value of every class (0, 1 for binary; the ordinal classes).
    q : [lower, upper] probabilities or None

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.results.intervals import class_summary
    >>> m, s, lo, hi = class_summary(np.array([[0.9, 0.1]]), np.array([0.0, 1.0]), [0.05, 0.95])
    >>> float(m[0]), round(float(s[0]), 6), float(lo[0]), float(hi[0])
    (0.1, 0.3, 0.0, 1.0)
    """
    m = probs @ values
    sd = np.sqrt(np.maximum(probs @ values**2 - m * m, 0.0))
    if q is None:
        nan = np.full(m.shape, np.nan)
        return m, sd, nan, nan
    cdf = np.cumsum(probs, axis=1)
    last = values.size - 1
    lo = values[np.minimum((cdf < q[0]).sum(axis=1), last)]
    hi = values[np.minimum((cdf < q[1]).sum(axis=1), last)]
    return m, sd, lo, hi
