"""Diagnostics and prediction plots (matplotlib; every function returns the figure).

None of these calls ``plt.show``: in a notebook the returned figure displays itself, in a
script save it with ``fig.savefig``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["plot_trace", "plot_calibration", "plot_intervals"]

_TRACE_DEFAULT = ("w0", "tau", "lambda_w", "mu_w", "log_likelihood")


def _trace_values(dt: xr.DataTree, name: str) -> xr.DataArray | None:
    for group in ("posterior", "sample_stats"):
        if group in dt.children and name in dt[group].data_vars:
            return dt[group][name]
    return None


def plot_trace(
    dt: xr.DataTree, var_names: Sequence[str] | None = None, *, max_lines: int = 4
) -> Figure:
    """Trace and marginal density of identifiable quantities, one row per variable.

    Raw ``v`` is refused: it is identified only up to rotation and sign, so its trace says
    nothing about convergence.

    Parameters
    ----------
    dt : DataTree
        A fit's ``idata_``.
    var_names : sequence of str, optional
        Default ``w0, tau, lambda_w, mu_w, log_likelihood`` (those present).
    max_lines : int
        At most this many components of a vector variable are drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(var_names) if var_names is not None else list(_TRACE_DEFAULT)
    if "v" in names:
        raise ValueError("v is not identifiable (rotation, sign); trace identifiable quantities")
    found = [(n, _trace_values(dt, n)) for n in names]
    missing = [n for n, a in found if a is None]
    if var_names is not None and missing:
        raise ValueError(f"variables not in the fit: {missing}")
    found = [(n, a) for n, a in found if a is not None]
    fig, axes = plt.subplots(len(found), 2, figsize=(10, 2.2 * len(found)), squeeze=False)
    for row, (name, da) in enumerate(found):
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        flat = da.stack(component=extra) if extra else da.expand_dims(component=[0])
        comps = flat["component"].values[:max_lines]
        for c_i, comp in enumerate(comps):
            sub = flat.isel(component=c_i)
            for chain in sub["chain"].values:
                vals = np.asarray(sub.sel(chain=chain).values)
                # Scalars: one colour per chain; vectors: one colour per component.
                color = f"C{c_i}" if len(comps) > 1 else f"C{int(chain)}"
                axes[row, 0].plot(vals, lw=0.6, alpha=0.8, color=color)
            axes[row, 1].hist(np.asarray(sub.values).ravel(), bins=30, histtype="step",
                              color=f"C{c_i}", density=True)
        label = name if not extra else f"{name} ({len(comps)} of {flat.sizes['component']})"
        axes[row, 0].set_ylabel(label)
        axes[row, 1].set_yticks([])
    axes[-1, 0].set_xlabel("draw")
    axes[-1, 1].set_xlabel("value")
    axes[0, 0].set_title("trace (one line per chain)")
    axes[0, 1].set_title("marginal posterior")
    fig.tight_layout()
    return fig


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
