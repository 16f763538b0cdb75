"""Choose between fitted FMs (rank, variant, degree) by PSIS-LOO.

:func:`compare` hands the pointwise log likelihoods of the fits to ArviZ's
:func:`arviz.compare` (PSIS-LOO-CV, Vehtari et al. 2017) after checking that every fit kept
its ``log_likelihood`` group and that all were fitted on the same observations: LOO of fits on
different data is not comparable, and ArviZ would not notice if the row counts matched. The
table's plot is :func:`bayesfm.plots.plot_compare`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

__all__ = ["compare", "psis_loo"]


def _datatree(name: str, fit: Any) -> xr.DataTree:
    if isinstance(fit, xr.DataTree):
        return fit
    tree = getattr(fit, "idata_", None)
    if isinstance(tree, xr.DataTree):
        return tree
    if hasattr(fit, "fit") and hasattr(fit, "get_params"):
        raise ValueError(f"model {name!r} is not fitted: call fit before compare")
    raise TypeError(
        f"model {name!r} must be a fitted bayesfm estimator or an ArviZ DataTree, "
        f"got {type(fit).__name__}"
    )


def _observed(name: str, tree: xr.DataTree) -> np.ndarray:
    if "log_likelihood" not in tree.children:
        raise ValueError(
            f"model {name!r} has no log_likelihood group, which LOO needs; refit it with "
            "log_likelihood=True (the default 'auto' drops it when rows x draws exceed "
            "512 MiB)"
        )
    if "observed_data" not in tree.children or "y" not in tree["observed_data"].data_vars:
        raise ValueError(f"model {name!r} has no observed_data['y'] to check the data against")
    return np.asarray(tree["observed_data"]["y"].values)


def compare(
    fits: Mapping[str, Any],
    *,
    method: str = "stacking",
    round_to: int | str = "none",
) -> pd.DataFrame:
    """Compare fitted FMs by their expected log predictive density (PSIS-LOO).

    Parameters
    ----------
    fits : mapping of str to fitted estimator or DataTree
        At least two models, fitted on the same rows (``observed_data['y']`` must be equal),
        each with its pointwise ``log_likelihood`` group.
    method : {"stacking", "BB-pseudo-BMA", "pseudo-BMA"}
        How ArviZ computes the model weights.
    round_to : int or "none" or "auto"
        Rounding of the table (ArviZ's argument); ``"none"`` keeps raw numbers.

    Returns
    -------
    pandas.DataFrame
        ArviZ's comparison table, best model first: ``rank``, ``elpd`` (LOO estimate of the
        expected log pointwise predictive density) and its ``se``, ``elpd_diff`` to the best
        model and its ``dse``, the effective number of parameters ``p``, ``weight`` and
        Pareto-k diagnostics.

    Raises
    ------
    ValueError
        Fewer than two models, a fit without ``log_likelihood``, or fits on different data.
    TypeError
        A value that is neither a fitted estimator nor a DataTree.

    Examples
    --------
    >>> import bayesfm
    >>> sim = bayesfm.simulate_fm(300, group_sizes=(10, 8), rank=2, seed=0)
    >>> fits = {f"rank {k}": bayesfm.BayesianFMRegressor(rank=k, num_samples=200,
    ...             progress_bar=False).fit(sim.X, sim.y, groups=sim.groups)
    ...         for k in (1, 2)}  # doctest: +SKIP
    >>> bayesfm.compare(fits)[["rank", "elpd", "elpd_diff", "dse"]]  # doctest: +SKIP
    """
    if not isinstance(fits, Mapping):
        raise TypeError(f"fits must be a dict of name -> fitted model, got {type(fits).__name__}")
    if len(fits) < 2:
        raise ValueError(f"compare needs at least two models, got {len(fits)}")
    trees = {str(name): _datatree(str(name), fit) for name, fit in fits.items()}
    first, y0 = None, None
    for name, tree in trees.items():
        y = _observed(name, tree)
        if first is None:
            first, y0 = name, y
            continue
        assert y0 is not None
        if y.shape != y0.shape:
            raise ValueError(
                f"models {first!r} and {name!r} were fitted on different data: {y0.shape[0]} "
                f"and {y.shape[0]} rows; LOO compares fits on the same rows only"
            )
        if not np.array_equal(y, y0):
            row = int(np.flatnonzero(y != y0)[0])
            raise ValueError(
                f"models {first!r} and {name!r} were fitted on different data: y differs "
                f"first at row {row} ({y0[row]!r} vs {y[row]!r}); LOO compares fits on the "
                "same rows only"
            )
    with warnings.catch_warnings():
        # ArviZ warns about the float32 log likelihood's dtype; Pareto-k warnings stay.
        warnings.filterwarnings("ignore", message=".*dtype.*")
        elpds = {name: psis_loo(tree) for name, tree in trees.items()}
        return az.compare(elpds, method=method, round_to=round_to)


def psis_loo(tree: xr.DataTree) -> Any:
    """PSIS-LOO of one fit (:func:`arviz.loo`), also for rows whose weights have a flat tail.

    A row that every draw predicts with certainty to float32 precision (a click probability
    that rounds to 1, common on real CTR data) has the same log likelihood in every draw of
    the importance-ratio tail. ArviZ's Pareto fit then stops with "All tail values are the
    same". The tail of such a row has no spread to smooth, so its raw importance weights are
    already stable and its LOO term is exact: those rows get the raw normalised weights and
    ``k = -inf``; every other row gets ArviZ's Pareto-smoothed weights and ``k``, with the
    relative efficiency ArviZ would use.

    Parameters
    ----------
    tree : DataTree
        A fit with ``posterior`` and ``log_likelihood`` (variable ``y``) groups.

    Returns
    -------
    arviz_stats.ELPDData
        The pointwise LOO result, as :func:`arviz.loo` returns it.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> from bayesfm.results import psis_loo
    >>> ll = np.random.default_rng(0).normal(-1.0, 0.1, (2, 300, 5))
    >>> ll[..., 0] = 0.0  # one row with the same log likelihood in every draw
    >>> tree = az.from_dict({"posterior": {"w0": ll[..., 1]}, "log_likelihood": {"y": ll}})
    >>> res = psis_loo(tree)
    >>> abs(float(res.elpd_i.values[0])) < 1e-12, bool(np.isneginf(res.pareto_k.values[0]))
    (True, True)
    """
    # ArviZ's own relative efficiency and tail length, so the rows set aside here are exactly
    # those its Pareto fit would refuse.
    from arviz_stats.base.diagnostics import _DiagnosticsBase
    from arviz_stats.loo.loo_helper import _get_r_eff

    sample_dims = ("chain", "draw")
    ll = tree["log_likelihood"]["y"].transpose(*sample_dims, ...)
    n_chains, n_draws = ll.shape[:2]
    n_samples = n_chains * n_draws
    reff = _get_r_eff(tree, n_samples)
    n_tail = int(_DiagnosticsBase._get_ps_tails(n_samples, reff, tail="right"))
    flat = ll.values.reshape(n_samples, -1)
    # The largest importance ratios are the smallest log likelihoods.
    lowest = np.sort(flat, axis=0)[:n_tail]
    flat_tail = lowest[0] == lowest[-1]
    log_w = np.empty(flat.shape, dtype=np.float64)
    k = np.full(flat.shape[1], -np.inf)
    raw = -flat[:, flat_tail].astype(np.float64)
    log_w[:, flat_tail] = raw - np.logaddexp.reduce(raw, axis=0)
    rest = np.flatnonzero(~flat_tail)
    if rest.size:
        sub = xr.DataArray(flat[:, rest].reshape(n_chains, n_draws, -1),
                           dims=(*sample_dims, "_row"))
        lw, kk = sub.azstats.psislw(r_eff=reff, dim=sample_dims)
        log_w[:, rest] = lw.transpose(*sample_dims, "_row").values.reshape(n_samples, -1)
        k[rest] = kk.values
    log_weights = ll.copy(data=log_w.reshape(ll.shape))
    pareto_k = ll.isel(chain=0, draw=0, drop=True).copy(data=k.reshape(ll.shape[2:]))
    return az.loo(tree, pointwise=True, var_name="y", reff=reff, log_weights=log_weights,
                  pareto_k=pareto_k)
