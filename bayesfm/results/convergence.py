"""Rank-normalised split R-hat, bulk and tail ESS and MCSE of many quantities in one pass.

The estimators of Vehtari et al. (2021, "Rank-normalization, folding, and localization"), as
arviz-stats computes them, written over stacked arrays: ``draws`` has shape
``(chain, draw, M)`` and every function returns one value per column, with no Python loop over
the ``M`` quantities. arviz-stats loops over them (and ranks each with scipy), which took most
of a fit's post-processing time with thousands of weights. ``tests/results/test_convergence.py``
checks every function against arviz-stats to 1e-6.

Conventions as in arviz-stats: R-hat needs at least 2 chains and 4 draws, ESS 1 chain and 4
draws, else NaN; chains are split into halves; ranks are averaged over ties and back-
transformed with Blom's offset 3/8; ESS uses Geyer's initial positive and monotone sequences.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.fft import irfft, next_fast_len, rfft
from scipy.special import ndtri

__all__ = ["ess_bulk", "ess_mean", "ess_tail", "mcse_mean", "mcse_sd", "rhat_rank"]


def _split(draws: np.ndarray) -> np.ndarray:
    """``(C, n, M) -> (2C, n // 2, M)``: every chain's first and last halves."""
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half:]], axis=0)


def _z_scale(draws: np.ndarray) -> np.ndarray:
    """Return the normal scores of the pooled ranks of every column (ties averaged, Blom)."""
    c, n, m = draws.shape
    ranks = stats.rankdata(draws.reshape(c * n, m), method="average", axis=0)
    return ndtri((ranks - 3 / 8) / (c * n - 2 * 3 / 8 + 1)).reshape(c, n, m)


def _rhat(draws: np.ndarray) -> np.ndarray:
    """Classic R-hat of every column of ``(C, n, M)`` draws."""
    draws = np.asarray(draws, dtype=np.float64)
    n = draws.shape[1]
    between = n * np.var(draws.mean(axis=1), axis=0, ddof=1)
    within = np.mean(np.var(draws, axis=1, ddof=1), axis=0)
    return np.sqrt((between / within + n - 1) / n)


def rhat_rank(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat: the larger of the bulk and the folded (tail) R-hat.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.results.convergence import rhat_rank
    >>> x = np.random.default_rng(0).normal(size=(4, 500, 3))
    >>> bool(np.all(rhat_rank(x) < 1.01))
    True
    """
    draws = np.asarray(draws)
    if draws.shape[0] < 2 or draws.shape[1] < 4:
        return np.full(draws.shape[2], np.nan)
    split = _split(draws)
    folded = np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(_rhat(_z_scale(split)), _rhat(_z_scale(folded)))


def _autocov(draws: np.ndarray) -> np.ndarray:
    """Autocovariance of every chain and column at every lag, by FFT (along axis 1)."""
    n = draws.shape[1]
    m = next_fast_len(2 * n)
    centred = draws - draws.mean(axis=1, keepdims=True)
    spectrum = rfft(centred, n=m, axis=1)
    spectrum *= np.conjugate(spectrum)
    return irfft(spectrum, n=m, axis=1)[:, :n] / n


def _ess(draws: np.ndarray) -> np.ndarray:
    """ESS of every column of ``(C, n, M)`` draws (Geyer's initial monotone sequence)."""
    draws = np.asarray(draws, dtype=np.float64)
    c, n, m = draws.shape
    out = np.full(m, float(c * n))
    constant = (draws.max(axis=(0, 1)) - draws.min(axis=(0, 1))) < np.finfo(float).resolution
    if np.all(constant):
        return out
    acov = _autocov(draws)
    mean_var = np.mean(acov[:, 0], axis=0) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + np.var(draws.mean(axis=1), axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var - np.mean(acov, axis=0)) / var_plus  # (n, M)
    n_pairs = (n - 5) // 2 + 1 if n >= 5 else 0
    # Initial positive sequence: pair j holds lags 2j+2 and 2j+3; pair j is computed while
    # the previous pair's sum (1 + rho_1 for the first) stays positive.
    pairs = rho[2:2 + 2 * n_pairs].reshape(n_pairs, 2, m)
    sums = pairs.sum(axis=1)
    previous = np.concatenate([(1.0 + rho[1])[None], sums], axis=0)[:n_pairs]
    runs = np.cumprod(previous > 0, axis=0).astype(bool)  # pair j computed
    k = runs.sum(axis=0)  # pairs computed
    keep = runs & (sums >= 0)
    rho_t = np.zeros((n, m))
    rho_t[0], rho_t[1] = 1.0, rho[1]
    rho_t[2:2 + 2 * n_pairs] = np.where(keep[:, None, :], pairs, 0.0).reshape(-1, m)
    cols = np.arange(m)
    last_even = rho[np.minimum(2 * k, n - 1), cols]
    extend = (k >= 1) & (last_even > 0)
    rho_t[2 * k[extend], cols[extend]] = last_even[extend]
    # Initial monotone sequence over pairs 0 .. k-2: each pair's sum at most the previous one's.
    if n_pairs > 1:
        body = rho_t[2:2 + 2 * n_pairs].reshape(n_pairs, 2, m)
        psum = np.concatenate([(rho_t[0] + rho_t[1])[None], body.sum(axis=1)], axis=0)
        in_range = np.arange(n_pairs)[:, None] <= (k - 2)[None, :]
        psum_masked = np.where(np.concatenate([np.ones((1, m), bool), in_range]), psum, np.inf)
        cummin = np.minimum.accumulate(psum_masked, axis=0)[1:]
        lower = in_range & (cummin < psum[1:])
        body = np.where(lower[:, None, :], (cummin / 2.0)[:, None, :], body)
        rho_t[2:2 + 2 * n_pairs] = body.reshape(-1, m)
    lags = np.arange(n)[:, None]
    tau = (-1.0 + 2.0 * np.sum(np.where(lags < 2 * k, rho_t, 0.0), axis=0)
           + rho_t[np.minimum(2 * k, n - 1), cols] * (2 * k < n))
    tau = np.maximum(tau, 1.0 / np.log10(c * n))
    ess = c * n / tau
    ess[np.isnan(rho_t).any(axis=0)] = np.nan
    return np.where(constant, out, ess)


def _enough(draws: np.ndarray) -> bool:
    return draws.shape[1] >= 4


def ess_bulk(draws: np.ndarray) -> np.ndarray:
    """Bulk ESS: the ESS of the rank-normalised split chains."""
    draws = np.asarray(draws)
    if not _enough(draws):
        return np.full(draws.shape[2], np.nan)
    return _ess(_z_scale(_split(draws)))


def ess_mean(draws: np.ndarray) -> np.ndarray:
    """ESS of the mean: the ESS of the split chains (no rank normalisation)."""
    draws = np.asarray(draws)
    if not _enough(draws):
        return np.full(draws.shape[2], np.nan)
    return _ess(_split(draws))


def ess_tail(draws: np.ndarray, prob: float | None = None) -> np.ndarray:
    """Tail ESS: the smaller ESS of the indicators of the ``prob`` and ``1 - prob`` quantiles.

    ``prob`` defaults to ArviZ's ``rcParams["stats.ci_prob"]`` (0.89 unless changed), as
    :func:`arviz.ess` with ``method="tail"`` uses it.
    """
    if prob is None:
        from arviz_base import rcParams

        prob = float(rcParams["stats.ci_prob"])
    draws = np.asarray(draws)
    if not _enough(draws):
        return np.full(draws.shape[2], np.nan)
    flat = draws.reshape(-1, draws.shape[2])
    out = []
    for p in sorted((prob, 1.0 - prob)):
        q = np.quantile(flat, p, axis=0)
        out.append(_ess(_split((draws <= q).astype(np.float64))))
    return np.minimum(*out)


def _rows(draws: np.ndarray) -> np.ndarray:
    """``(M, C n)`` contiguous rows: reductions then sum in arviz-stats' order (float32 too)."""
    return np.ascontiguousarray(draws.reshape(-1, draws.shape[2]).T)


def mcse_mean(draws: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of the posterior mean."""
    draws = np.asarray(draws)
    return np.std(_rows(draws), axis=1, ddof=1) / np.sqrt(ess_mean(draws))


def mcse_sd(draws: np.ndarray) -> np.ndarray:
    """Monte Carlo standard error of the posterior standard deviation."""
    draws = np.asarray(draws)
    centred = draws - _rows(draws).mean(axis=1)
    ess = ess_mean(centred**2)
    evar = _rows(centred**2).mean(axis=1)
    varvar = (_rows(centred**4).mean(axis=1) - evar**2) / ess
    return np.sqrt(varvar / evar / 4)
