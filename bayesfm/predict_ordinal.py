"""Posterior predictions of the ordinal FM: class probabilities and the expected rating.

Chunked like :mod:`bayesfm.predict`: memory stays at one chunk of rows times the draws times
the classes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bayesfm.cutpoints import class_probabilities
from bayesfm.predict import FMDraws, PredictiveSummary, chunk_size, eta_chunks

__all__ = ["OrdinalSummary", "summarize_ordinal"]


class OrdinalSummary(NamedTuple):
    """Per-row summaries of an ordinal posterior.

    Attributes
    ----------
    proba : ndarray of shape (n, C)
        Posterior mean of the class probabilities (the posterior predictive distribution).
    expected : PredictiveSummary
        Mean, sd and interval of the expected rating ``E[y | x] = sum_c value_c P(y = c)``
        (``kind="mean"``), or the mean and sd of the predictive distribution of ``y`` with
        its equal-tailed interval in class values (``kind="predictive"``).
    """

    proba: np.ndarray
    expected: PredictiveSummary


def summarize_ordinal(
    draws: FMDraws,
    indices: np.ndarray,
    values: np.ndarray,
    class_values: np.ndarray,
    *,
    prob: float | None = 0.9,
    kind: str = "mean",
    budget_bytes: int = 256 * 2**20,
) -> OrdinalSummary:
    """Class probabilities and the expected rating of new rows under the ordinal posterior.

    Parameters
    ----------
    draws : FMDraws
        With ``cutpoints``.
    indices, values : ndarray of shape (n, L)
    class_values : ndarray of shape (C,)
        Numeric value of every class (the rating), in class order.
    prob : float or None
        Mass of the equal-tailed interval; ``None`` skips it.
    kind : {"mean", "predictive"}
        ``"mean"`` summarises the posterior of ``E[y | x]``; ``"predictive"`` summarises the
        rating itself (its interval is the central ``prob`` range of the predictive classes).
    budget_bytes : int

    Returns
    -------
    OrdinalSummary

    Examples
    --------
    >>> import numpy as np, jax.numpy as jnp
    >>> from bayesfm.predict import FMDraws
    >>> from bayesfm.predict_ordinal import summarize_ordinal
    >>> d = FMDraws(jnp.zeros(2), jnp.zeros((2, 1)), jnp.zeros((2, 1, 1)), None,
    ...             jnp.array([[0.0], [0.0]]))
    >>> s = summarize_ordinal(d, np.zeros((1, 1), int), np.ones((1, 1)), np.array([1, 2]))
    >>> s.proba.tolist(), float(s.expected.mean[0])
    ([[0.5, 0.5]], 1.5)
    """
    if draws.cutpoints is None:
        raise ValueError("draws have no cutpoints: not an ordinal fit")
    if kind not in ("mean", "predictive"):
        raise ValueError(f"unknown kind {kind!r}; valid: mean, predictive")
    if prob is not None and not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    cut = np.asarray(draws.cutpoints, dtype=np.float64)
    vals = np.asarray(class_values, dtype=np.float64)
    n_classes = cut.shape[-1] + 1
    if vals.shape != (n_classes,):
        raise ValueError(f"class_values must have {n_classes} entries, got {vals.shape}")
    n = indices.shape[0]
    n_draws = int(draws.w0.shape[0])
    rank = int(draws.v.shape[-1])
    rows = chunk_size(n_draws, max(indices.shape[1], n_classes), rank, budget_bytes)
    proba = np.empty((n, n_classes))
    out = [np.empty(n) for _ in range(4)]
    q = None if prob is None else [(1 - prob) / 2, (1 + prob) / 2]
    for sl, eta in eta_chunks(draws, indices, values, rows):
        p = class_probabilities(np.asarray(eta, dtype=np.float64), cut)  # (S, rows, C)
        mean_p = p.mean(axis=0)
        proba[sl] = mean_p
        if kind == "mean":
            mu = p @ vals  # (S, r)
            stats = [mu.mean(axis=0), mu.std(axis=0)]
            lo, hi = np.quantile(mu, q, axis=0) if q is not None else (np.nan, np.nan)
        else:
            m = mean_p @ vals
            stats = [m, np.sqrt(np.maximum(mean_p @ vals**2 - m * m, 0.0))]
            lo = hi = np.nan
            if q is not None:
                cdf = np.cumsum(mean_p, axis=1)
                lo = vals[np.minimum((cdf < q[0]).sum(axis=1), n_classes - 1)]
                hi = vals[np.minimum((cdf < q[1]).sum(axis=1), n_classes - 1)]
        for o, stat in zip(out, (*stats, lo, hi), strict=True):
            o[sl] = stat
    return OrdinalSummary(proba, PredictiveSummary(*out))
