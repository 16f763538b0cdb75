"""Plots of predictions: calibration, intervals, uncertainty versus error, predictive checks."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_calibration", "plot_intervals", "plot_uncertainty", "plot_ppc"]

def plot_calibration(
    y: np.ndarray,
    prob_draws: np.ndarray,
    *,
    n_bins: int = 10,
    prob: float = 0.9,
    ax: Any = None,
) -> Figure:
    """Reliability diagram of a classifier with posterior credible bands.

    Rows are binned by their posterior mean click probability; each bin shows the observed
    click rate (points) and the posterior predictive ``prob`` band of that rate: for every
    posterior draw, clicks are simulated for the bin's rows and averaged, so the band holds
    both the parameter uncertainty and the binomial noise of a finite bin. A calibrated model
    keeps about ``prob`` of the points inside the band, which follows the diagonal.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed 0/1 labels.
    prob_draws : ndarray of shape (S, n)
        Posterior draws of the click probability of each row.
    n_bins : int
    prob : float
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.plots import plot_calibration
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, size=(200, 500))
    >>> y = (rng.uniform(size=500) < p.mean(axis=0)).astype(int)
    >>> fig = plot_calibration(y, p, n_bins=5)
    >>> fig.axes[0].get_xlabel()
    'predicted click probability (posterior mean)'
    """
    y = np.asarray(y, dtype=float)
    draws = np.asarray(prob_draws, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != y.shape[0]:
        raise ValueError(f"prob_draws must have shape (S, {y.shape[0]}), got {draws.shape}")
    mean = draws.mean(axis=0)
    rng = np.random.default_rng(0)
    edges = np.quantile(mean, np.linspace(0, 1, n_bins + 1))
    which = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, n_bins - 1)
    centers, observed, lo, hi = [], [], [], []
    for b in range(n_bins):
        m = which == b
        if not m.any():
            continue
        expected = (rng.uniform(size=draws[:, m].shape) < draws[:, m]).mean(axis=1)
        centers.append(mean[m].mean())
        observed.append(y[m].mean())
        lo.append(np.quantile(expected, (1 - prob) / 2))
        hi.append(np.quantile(expected, (1 + prob) / 2))
    fig = ax.figure if ax is not None else plt.figure(figsize=(5, 5))
    ax = ax if ax is not None else fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect calibration")
    ax.fill_between(centers, lo, hi, color="C0", alpha=0.3, label=f"{prob:.0%} posterior band")
    ax.plot(centers, observed, "o", color="C1", label="observed rate per bin")
    ax.set_xlabel("predicted click probability (posterior mean)")
    ax.set_ylabel("observed click rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    return fig


def plot_intervals(
    y: np.ndarray,
    mean: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    max_points: int = 300,
    ylabel: str = "prediction",
    xlabel: str = "observed",
    ax: Any = None,
) -> Figure:
    """Predictions with credible intervals against observed (or true) values.

    Parameters
    ----------
    y, mean, lower, upper : ndarray of shape (n,)
    max_points : int
        A random subset of at most this many rows keeps the plot readable.
    ylabel, xlabel : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        The title gives the share of all rows whose interval covers ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.plots import plot_intervals
    >>> y = np.linspace(0.0, 1.0, 50)
    >>> fig = plot_intervals(y, y, y - 0.1, y + 0.1)
    >>> fig.axes[0].get_title()
    'coverage 100.0% of 50 rows'
    """
    y, mean, lower, upper = (np.asarray(a, dtype=float) for a in (y, mean, lower, upper))
    rng = np.random.default_rng(0)
    keep = rng.choice(y.size, size=min(max_points, y.size), replace=False)
    inside = (lower <= y) & (y <= upper)
    fig = ax.figure if ax is not None else plt.figure(figsize=(5, 5))
    ax = ax if ax is not None else fig.add_subplot()
    for mask, color, label in ((inside[keep], "C0", "interval covers"),
                               (~inside[keep], "C3", "interval misses")):
        k = keep[mask]
        ax.errorbar(y[k], mean[k], yerr=[mean[k] - lower[k], upper[k] - mean[k]], fmt="o",
                    ms=2, lw=0.6, color=color, alpha=0.7,
                    label=f"{label} ({mask.sum()} of {keep.size} shown)")
    lim = [min(y.min(), lower.min()), max(y.max(), upper.max())]
    ax.plot(lim, lim, ls="--", color="grey", lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"coverage {inside.mean():.1%} of {y.size} rows")
    ax.legend(loc="upper left")
    return fig


def _same_length(**arrays: Any) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=float).ravel() for a in arrays.values()]
    sizes = {k: a.size for k, a in zip(arrays, out, strict=True)}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"arrays must have one value per row, got lengths {sizes}")
    for k, a in zip(arrays, out, strict=True):
        if not np.all(np.isfinite(a)):
            first = int(np.argmin(np.isfinite(a)))
            raise ValueError(f"{k} has non-finite values (first at row {first})")
    return out


def plot_uncertainty(
    y: np.ndarray,
    mean: np.ndarray,
    sd: np.ndarray,
    *,
    n_bins: int = 10,
    prob: float = 0.9,
    ax: Any = None,
) -> Figure:
    """Uncertainty versus error: a larger predicted sd should come with a larger error.

    Rows are sorted by their predicted standard deviation and cut into ``n_bins`` bins of
    equal size; each bin shows its root-mean-square predicted sd against the root mean
    squared error of its posterior means. For a calibrated Gaussian predictive the points
    follow the diagonal ``RMSE = sd``; the grey bars show where a calibrated model's RMSE
    falls with probability ``prob`` in a bin of that size (``m * RMSE^2 / sd^2`` is then
    chi-squared with ``m`` degrees of freedom).

    Pass the sd of the *predictive* distribution (the posterior sd of the mean plus the
    noise) for the diagonal to be the calibration reference: with the sd of ``E[y | x]``
    alone, the points sit above it by the noise.

    Parameters
    ----------
    y, mean, sd : ndarray of shape (n,)
        Observed values, posterior predictive means and standard deviations.
    n_bins : int, default 10
    prob : float, default 0.9
        Mass of the calibrated range drawn for every bin.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.plots import plot_uncertainty
    >>> rng = np.random.default_rng(0)
    >>> sd = rng.uniform(0.2, 2.0, 1000)
    >>> y = rng.normal(0.0, sd)
    >>> fig = plot_uncertainty(y, np.zeros(1000), sd, n_bins=5)
    >>> fig.axes[0].get_ylabel()
    'observed RMSE in bin'
    """
    from scipy.stats import chi2

    y, mean, sd = _same_length(y=y, mean=mean, sd=sd)
    if np.any(sd < 0):
        raise ValueError(f"sd must be non-negative, got {sd[sd < 0][0]}")
    if int(n_bins) != n_bins or not 1 <= n_bins <= y.size:
        raise ValueError(f"n_bins must be an integer in [1, {y.size}], got {n_bins}")
    bins = np.array_split(np.argsort(sd, kind="stable"), int(n_bins))
    pred = np.array([np.sqrt(np.mean(sd[b] ** 2)) for b in bins])
    rmse = np.array([np.sqrt(np.mean((y[b] - mean[b]) ** 2)) for b in bins])
    m = np.array([b.size for b in bins])
    lo = pred * np.sqrt(chi2.ppf((1 - prob) / 2, m) / m)
    hi = pred * np.sqrt(chi2.ppf((1 + prob) / 2, m) / m)
    fig = ax.figure if ax is not None else plt.figure(figsize=(5, 5))
    ax = ax if ax is not None else fig.add_subplot()
    top = float(max(pred.max(), rmse.max(), hi.max())) * 1.05 or 1.0
    ax.plot([0, top], [0, top], ls="--", color="grey", lw=1, label="calibrated: RMSE = sd")
    ax.vlines(pred, lo, hi, color="grey", lw=3, alpha=0.4,
              label=f"{prob:.0%} range if calibrated")
    ax.plot(pred, rmse, "o", color="C1", label="observed, per bin")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted sd (root mean square in bin)")
    ax.set_ylabel("observed RMSE in bin")
    ax.set_title(f"{y.size} rows in {len(bins)} bins of predicted sd")
    ax.legend(loc="upper left")
    return fig


def plot_ppc(
    y: np.ndarray,
    y_rep: np.ndarray,
    *,
    ax: Any = None,
    kind: str = "auto",
    num_reps: int = 50,
    bins: int | None = None,
) -> Figure:
    """Posterior predictive check: the observed data against datasets replicated from the fit.

    Continuous ``y``: the histogram (density) of the observed values over those of
    ``num_reps`` replicated datasets. Binary ``y``: the distribution over replicated datasets
    of the rate of ones, with the observed rate marked. The title gives the posterior
    predictive p-value ``P(T(y_rep) >= T(y))`` of the standard deviation (continuous) or the
    rate (binary); values near 0 or 1 flag a misfit.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Observed values.
    y_rep : ndarray of shape (S, n)
        Replicated datasets, e.g. from the estimators' ``sample_posterior_predictive``.
    ax : matplotlib Axes, optional
    kind : {"auto", "continuous", "binary"}
        ``"auto"``: binary when every value of ``y`` and ``y_rep`` is 0 or 1.
    num_reps : int, default 50
        Continuous: replicated histograms drawn (the first ones).
    bins : int, optional
        Continuous: histogram bins, shared by every dataset; default ``sqrt(n)`` within
        ``[10, 40]``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.plots import plot_ppc
    >>> rng = np.random.default_rng(0)
    >>> y_rep = (rng.uniform(size=(200, 300)) < 0.3).astype(int)
    >>> fig = plot_ppc(y_rep[0], y_rep[1:])
    >>> fig.axes[0].get_xlabel()
    'rate of y = 1'
    """
    y = np.asarray(y, dtype=float).ravel()
    rep = np.asarray(y_rep, dtype=float)
    if rep.ndim != 2 or rep.shape[1] != y.size:
        raise ValueError(f"y_rep must have shape (S, {y.size}), got {rep.shape}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(rep))):
        raise ValueError("y and y_rep must be finite")
    if kind not in ("auto", "continuous", "binary"):
        raise ValueError(f"unknown kind {kind!r}; valid: auto, continuous, binary")
    if kind == "auto":
        binary = bool(np.all(np.isin(y, (0.0, 1.0))) and np.all(np.isin(rep, (0.0, 1.0))))
        kind = "binary" if binary else "continuous"
    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 4))
    ax = ax if ax is not None else fig.add_subplot()
    if kind == "binary":
        rates = rep.mean(axis=1)
        observed = float(y.mean())
        p_value = float(np.mean(rates >= observed))
        ax.hist(rates, bins=min(30, max(5, rep.shape[0] // 10)), color="C0", alpha=0.6,
                label=f"replicated ({rep.shape[0]} datasets)")
        ax.axvline(observed, color="k", lw=2, label=f"observed {observed:.4f}")
        ax.set_xlabel("rate of y = 1")
        ax.set_ylabel("replicated datasets")
        ax.set_title(f"posterior predictive check: P(rep rate >= observed) = {p_value:.2f}")
    else:
        shown = rep[: int(num_reps)]
        lo, hi = np.quantile(np.concatenate([y, shown.ravel()]), [0.002, 0.998])
        n_bins = int(bins) if bins is not None else int(np.clip(np.sqrt(y.size), 10, 40))
        edges = np.linspace(lo, hi, n_bins + 1) if hi > lo else n_bins
        for i, r in enumerate(shown):
            ax.hist(r, bins=edges, density=True, histtype="step", color="C0", alpha=0.25,
                    lw=0.8, label=f"replicated ({shown.shape[0]} of {rep.shape[0]})"
                    if i == 0 else None)
        ax.hist(y, bins=edges, density=True, histtype="step", color="k", lw=2,
                label="observed")
        p_value = float(np.mean(rep.std(axis=1) >= y.std()))
        ax.set_xlabel("y")
        ax.set_ylabel("density")
        ax.set_title(f"posterior predictive check: P(rep sd >= observed sd) = {p_value:.2f}")
    ax.legend(loc="upper right", fontsize="small")
    return fig
