"""Convergence on identifiable quantities (DESIGN section 4).

``v`` is identified only up to rotation and sign, so R-hat and ESS are reported on ``w0``,
``w``, ``mu_w``, ``lambda_w``, ``tau``, the free cutpoints, predictions on a fixed set of
training rows (``eta_ref``) and the total log likelihood, never on raw factors. (``mu_v`` and
``lambda_v`` are left out too: factors are exchangeable, so a label switch between factors
moves them without changing the fit.)
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from sklearn.exceptions import ConvergenceWarning

__all__ = ["IDENTIFIABLE", "check_convergence", "convergence_summary"]

#: Quantities on which convergence is judged.
IDENTIFIABLE = ("w0", "w", "mu_w", "lambda_w", "tau", "cutpoints", "eta_ref", "log_likelihood")


def _identifiable_dataset(dt: xr.DataTree) -> xr.Dataset:
    post = dt["posterior"].to_dataset()
    names = [n for n in IDENTIFIABLE if n in post.data_vars]
    ds = post[names]
    if "cutpoints" in names:
        # cutpoints[0] = 0 is fixed (bayesfm.model.likelihoods.ordinal): only the free ones
        # are checked.
        free = ds["cutpoints"].isel(cutpoint=slice(1, None))
        ds = ds.drop_vars("cutpoints")
        if free.sizes["cutpoint"]:
            ds = ds.assign(cutpoints=free)
    stats = dt["sample_stats"].to_dataset() if "sample_stats" in dt.children else xr.Dataset()
    if "log_likelihood" in stats.data_vars:
        ds = ds.assign(log_likelihood=stats["log_likelihood"])
    return ds


def convergence_summary(dt: xr.DataTree, *, ci_prob: float = 0.9) -> pd.DataFrame:
    """Posterior summary (mean, sd, interval, ESS, R-hat) of the identifiable quantities.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> from bayesfm.results import convergence_summary
    >>> rng = np.random.default_rng(0)
    >>> dt = az.from_dict({"posterior": {"w0": rng.normal(size=(2, 50)),
    ...                                  "v": rng.normal(size=(2, 50, 3))}})
    >>> list(convergence_summary(dt).index)  # raw v is never summarised
    ['w0']
    """
    ds = _identifiable_dataset(dt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.summary(ds, ci_prob=ci_prob, round_to="none")


def check_convergence(
    dt: xr.DataTree, *, rhat_threshold: float = 1.01, ess_threshold: float = 100.0,
    warn: bool = True,
) -> list[str]:
    """Check R-hat and bulk ESS of the identifiable quantities; warn with the figures.

    Parameters
    ----------
    dt : DataTree
    rhat_threshold : float
        Largest acceptable R-hat (Vehtari et al. 2021 recommend 1.01).
    ess_threshold : float
        Smallest acceptable bulk ESS over all chains.
    warn : bool
        Emit a :class:`sklearn.exceptions.ConvergenceWarning` listing the problems.

    Returns
    -------
    list of str
        One line per problem; empty when the fit looks converged.
    """
    ds = _identifiable_dataset(dt)
    if ds.sizes["chain"] == 1 and ds.sizes["draw"] >= 4:
        # One chain: R-hat compares its two halves (split-R-hat), as it would for several.
        half = ds.sizes["draw"] // 2
        first = ds.isel(draw=slice(0, half))
        second = ds.isel(draw=slice(half, 2 * half)).assign_coords(draw=first["draw"].values)
        ds = xr.concat([first, second.assign_coords(chain=[1])], dim="chain")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(ds)
        ess = az.ess(ds, method="bulk")
    problems = []
    for name in ds.data_vars:
        r = np.asarray(rhat[name].values, dtype=float)
        e = np.asarray(ess[name].values, dtype=float)
        r_max = np.nanmax(r) if r.size and np.isfinite(r).any() else np.inf
        e_min = np.nanmin(e) if e.size and np.isfinite(e).any() else 0.0
        if r_max > rhat_threshold or e_min < ess_threshold:
            problems.append(f"{name}: max R-hat {r_max:.3f}, min bulk ESS {e_min:.0f}")
    if problems and warn:
        warnings.warn(
            "The chains have not converged (R-hat > "
            f"{rhat_threshold} or bulk ESS < {ess_threshold:.0f}): " + "; ".join(problems)
            + ". Run more warm-up and draws, or more chains.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return problems
