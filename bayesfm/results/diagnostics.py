"""Convergence on identifiable quantities (DESIGN section 4).

``v`` is identified only up to rotation and sign, so R-hat and ESS are reported on ``w0``,
``w``, ``mu_w``, ``lambda_w``, ``tau``, the free cutpoints, predictions on a fixed set of
training rows (``eta_ref``) and the total log likelihood, never on raw factors. (``mu_v`` and
``lambda_v`` are left out too: factors are exchangeable, so a label switch between factors
moves them without changing the fit.)
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from sklearn.exceptions import ConvergenceWarning

from bayesfm.results.convergence import ess_bulk, ess_tail, mcse_mean, mcse_sd, rhat_rank

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


class _Stacked:
    """Every variable's draws side by side, ``(chain, draw, M)`` per dtype, with labels.

    Labels follow ArviZ's summary (``w[user=42]``; a scalar by its name alone). Columns keep
    their dtype (arviz-stats folds and centres float32 draws in float32), so each dtype is
    one stacked array and :meth:`apply` puts the results back in column order.
    """

    def __init__(self, ds: xr.Dataset) -> None:
        self.columns: list[np.ndarray] = []
        self.labels: list[str] = []
        self.owners: list[str] = []
        for name, da in ds.data_vars.items():
            da = da.transpose("chain", "draw", ...)
            extra = [d for d in da.dims if d not in ("chain", "draw")]
            values = np.asarray(da.values)
            if values.dtype.kind != "f":
                values = values.astype(np.float64)
            flat = values.reshape(da.sizes["chain"], da.sizes["draw"], -1)
            self.columns += [flat[..., j] for j in range(flat.shape[2])]
            if not extra:
                self.labels.append(str(name))
            else:
                index = da.isel(chain=0, draw=0, drop=True).to_series().index
                self.labels += [
                    f"{name}[{', '.join(map(str, key if isinstance(key, tuple) else (key,)))}]"
                    for key in index]
            self.owners += [str(name)] * flat.shape[2]

    def apply(self, fn: Any, split_one_chain: bool = False) -> np.ndarray:
        """``fn`` of every column (one vectorised call per dtype), in column order."""
        out = np.full(len(self.columns), np.nan)
        for dtype in {c.dtype for c in self.columns}:
            where = [j for j, c in enumerate(self.columns) if c.dtype == dtype]
            draws = np.stack([self.columns[j] for j in where], axis=2)
            if split_one_chain and draws.shape[0] == 1 and draws.shape[1] >= 4:
                # One chain: R-hat compares its two halves, as it would several chains.
                half = draws.shape[1] // 2
                draws = np.concatenate([draws[:, :half], draws[:, half:2 * half]], axis=0)
            out[where] = fn(draws)
        return out


def convergence_summary(dt: xr.DataTree, *, ci_prob: float = 0.9) -> pd.DataFrame:
    """Posterior summary (mean, sd, interval, ESS, R-hat, MCSE) of the identifiable quantities.

    The columns and figures of :func:`arviz.summary`, computed for all quantities in one
    vectorised pass (:mod:`bayesfm.results.convergence`).

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
    cols = _Stacked(_identifiable_dataset(dt))
    perc = int(ci_prob * 100)

    def flat(fn: Any) -> Any:
        return lambda d: fn(d.reshape(-1, d.shape[2]))

    probs = [(1 - ci_prob) / 2, (1 + ci_prob) / 2]
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        table = {
            "mean": cols.apply(flat(lambda f: f.mean(axis=0))),
            "sd": cols.apply(flat(lambda f: f.std(axis=0, ddof=1))),
            f"eti{perc}_lb": cols.apply(flat(lambda f: np.quantile(f, probs[0], axis=0))),
            f"eti{perc}_ub": cols.apply(flat(lambda f: np.quantile(f, probs[1], axis=0))),
            "ess_bulk": cols.apply(ess_bulk), "ess_tail": cols.apply(ess_tail),
            "r_hat": cols.apply(rhat_rank), "mcse_mean": cols.apply(mcse_mean),
            "mcse_sd": cols.apply(mcse_sd),
        }
    return pd.DataFrame(table, index=cols.labels)


def check_convergence(
    dt: xr.DataTree, *, rhat_threshold: float = 1.01, ess_threshold: float = 100.0,
    warn: bool = True,
) -> list[str]:
    """Check R-hat and bulk ESS of the identifiable quantities; warn with the figures.

    All quantities are checked in one vectorised pass (:mod:`bayesfm.results.convergence`),
    with the estimators of :func:`arviz.rhat` and :func:`arviz.ess`.

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
    cols = _Stacked(_identifiable_dataset(dt))
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        rhat = cols.apply(rhat_rank, split_one_chain=True)
        ess = cols.apply(ess_bulk, split_one_chain=True)
    problems = []
    owner = np.asarray(cols.owners)
    for name in dict.fromkeys(cols.owners):
        r, e = rhat[owner == name], ess[owner == name]
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
