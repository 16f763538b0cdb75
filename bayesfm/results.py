"""Engine draws -> one labelled ArviZ DataTree, and convergence on identifiable quantities.

DESIGN section 4: ``v`` is identified only up to rotation and sign, so R-hat and ESS are
reported on ``w0``, ``w``, ``mu_w``, ``lambda_w``, ``tau``, predictions on a fixed set of
training rows (``eta_ref``) and the total log likelihood, never on raw ``v``. (``mu_v`` and
``lambda_v`` are left out too: factors are exchangeable, so a label switch between factors
moves them without changing the fit.)
"""

from __future__ import annotations

import warnings
from typing import Any

import arviz as az
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import xarray as xr
from sklearn.exceptions import ConvergenceWarning

from bayesfm._version import __version__
from bayesfm.engines._common import EngineResult, FitProblem
from bayesfm.model import log_likelihood as pointwise_log_likelihood
from bayesfm.predict import FMDraws, chunk_size, eta_chunks, factor_width

__all__ = [
    "IDENTIFIABLE",
    "DIMS",
    "to_datatree",
    "draws_from_datatree",
    "convergence_summary",
    "check_convergence",
]

#: Quantities on which convergence is judged.
IDENTIFIABLE = ("w0", "w", "mu_w", "lambda_w", "tau", "eta_ref", "log_likelihood")

#: Dimension names of every variable (after the sample dims chain, draw).
DIMS: dict[str, list[str]] = {
    "w0": [],
    "w": ["feature"],
    "v": ["feature", "factor"],
    "mu_w": ["group"],
    "lambda_w": ["group"],
    "mu_v": ["group", "factor"],
    "lambda_v": ["group", "factor"],
    "tau": [],
    "eta_ref": ["ref_obs"],
    "y": ["obs"],
    "group_of_feature": ["feature"],
    "sample_weight": ["obs"],
    "ref_rows": ["ref_obs"],
    "ref_indices": ["ref_obs", "slot"],
    "ref_values": ["ref_obs", "slot"],
    "v3": ["feature", "factor"],
    "mu_v3": ["group", "factor"],
    "lambda_v3": ["group", "factor"],
}

#: Dimensions that differ in the field-aware FM (one factor vector per other group).
FFM_DIMS: dict[str, list[str]] = {
    "v": ["feature", "other_group", "factor"],
    "mu_v": ["group", "other_group", "factor"],
    "lambda_v": ["group", "other_group", "factor"],
}

#: Default memory allowed for the pointwise log likelihood (rows x draws, float32).
LOG_LIKELIHOOD_BUDGET = 512 * 2**20


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape((-1, *a.shape[2:]))


_log_lik_jit = jax.jit(pointwise_log_likelihood, static_argnums=2)


def _pointwise_log_lik(
    draws: FMDraws, problem: FitProblem, keep: bool
) -> tuple[np.ndarray | None, np.ndarray]:
    """Pointwise ``(S, N)`` log likelihood (if ``keep``) and its per-draw total ``(S,)``."""
    d = problem.design
    n_draws = int(draws.w0.shape[0])
    rows = chunk_size(n_draws, d.max_nnz, factor_width(draws))
    total = np.zeros(n_draws)
    full = np.empty((n_draws, d.n_rows), dtype=np.float32) if keep else None
    tau = None if draws.tau is None else draws.tau[:, None]
    for sl, eta in eta_chunks(draws, d.indices, d.values, rows):
        y = jnp.asarray(problem.y[sl], dtype=eta.dtype)
        weight = None
        if problem.sample_weight is not None:
            weight = jnp.asarray(problem.sample_weight[sl], dtype=eta.dtype)
        ll = np.asarray(_log_lik_jit(eta, y, problem.likelihood, tau, weight))
        total += ll.sum(axis=1)
        if full is not None:
            full[:, sl] = ll
    return full, total


def _reference_rows(n_rows: int, n_ref: int) -> np.ndarray:
    # A fixed seed: the same training rows are tracked whatever the engine or its seed.
    rng = np.random.default_rng(20240229)
    return np.sort(rng.choice(n_rows, size=min(n_ref, n_rows), replace=False))


def to_datatree(
    result: EngineResult,
    problem: FitProblem,
    *,
    log_likelihood: bool | str = "auto",
    log_likelihood_budget: int = LOG_LIKELIHOOD_BUDGET,
    n_ref: int = 20,
    attrs: dict[str, Any] | None = None,
) -> xr.DataTree:
    """Build the ArviZ DataTree of a fit.

    Parameters
    ----------
    result : EngineResult
        Draws with leading ``(chain, draw)`` dims.
    problem : FitProblem
        The training data and model settings.
    log_likelihood : bool or "auto"
        Store the pointwise log likelihood (needed by LOO). ``"auto"`` stores it when
        ``rows x draws`` float32 fits in ``log_likelihood_budget`` bytes.
    log_likelihood_budget : int
    n_ref : int
        Number of training rows whose predictions ``eta_ref`` are tracked for diagnostics.
    attrs : dict, optional
        Extra attributes (the estimator's settings).

    Returns
    -------
    xarray.DataTree
        Groups posterior, sample_stats, log_likelihood (if stored), observed_data,
        constant_data, and for SVI ``elbo``.
    """
    if log_likelihood not in (True, False, "auto"):
        raise ValueError(f"log_likelihood must be True, False or 'auto', got {log_likelihood!r}")
    d = problem.design
    samples = dict(result.samples)
    n_chains, n_draws = samples["w0"].shape[:2]
    draws = FMDraws(
        jnp.asarray(_flat(samples["w0"])),
        jnp.asarray(_flat(samples["w"])),
        jnp.asarray(_flat(samples["v"])),
        jnp.asarray(_flat(samples["tau"])) if "tau" in samples else None,
        jnp.asarray(_flat(samples["v3"])) if "v3" in samples else None,
        jnp.asarray(d.group_of_feature) if samples["v"].ndim == 5 else None,
    )
    ref = _reference_rows(d.n_rows, n_ref)
    ref_idx, ref_val = d.indices[ref], d.values[ref]
    eta_ref = next(eta_chunks(draws, ref_idx, ref_val, len(ref)))[1]
    samples["eta_ref"] = np.asarray(eta_ref).reshape(n_chains, n_draws, -1)

    n_total = n_chains * n_draws
    keep = log_likelihood is True or (
        log_likelihood == "auto" and d.n_rows * n_total * 4 <= log_likelihood_budget
    )
    stats = dict(result.sample_stats)
    ll = None
    # Engines that track the total log likelihood (Gibbs, from its cached residuals) spare
    # the O(k * nnz) pass over every draw unless the pointwise values are to be kept.
    if keep or "log_likelihood" not in stats:
        ll, ll_total = _pointwise_log_lik(draws, problem, keep)
        stats.setdefault("log_likelihood", ll_total.reshape(n_chains, n_draws))

    constant: dict[str, np.ndarray] = {
        "group_of_feature": d.group_of_feature,
        "ref_rows": ref,
        "ref_indices": ref_idx,
        "ref_values": ref_val,
    }
    if problem.sample_weight is not None:
        constant["sample_weight"] = np.asarray(problem.sample_weight)
    groups: dict[str, dict[str, np.ndarray]] = {
        "posterior": samples,
        "sample_stats": stats,
        "observed_data": {"y": np.asarray(problem.y)},
        "constant_data": constant,
    }
    if ll is not None:
        groups["log_likelihood"] = {"y": ll.reshape(n_chains, n_draws, -1)}
    coords = {
        "feature": list(d.feature_names),
        "group": list(d.group_names),
        "factor": np.arange(problem.rank),
        **({"other_group": list(d.group_names)} if problem.model == "ffm" else {}),
        "obs": np.arange(d.n_rows),
        "ref_obs": ref,
    }
    all_attrs = {
        "engine": result.engine,
        "bayesfm_version": __version__,
        "likelihood": problem.likelihood,
        "rank": problem.rank,
        "model": problem.model,
        "degree": problem.degree,
        **{f"prior_{k}": float(v) for k, v in problem.priors._asdict().items()},
        **(attrs or {}),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dims = {**DIMS, **FFM_DIMS} if problem.model == "ffm" else DIMS
        dt = az.from_dict(groups, dims=dims, coords=coords, attrs=all_attrs)
    for name, trace in result.extras.items():
        if np.ndim(trace) == 1:
            dt[name] = xr.DataTree(xr.Dataset({"loss": ("step", np.asarray(trace))}))
    dt.attrs.update(all_attrs)
    return dt


def draws_from_datatree(dt: xr.DataTree, dtype: Any = None) -> FMDraws:
    """Flatten ``(chain, draw)`` of the posterior into :class:`FMDraws` for prediction."""
    post = dt["posterior"]

    def get(name: str) -> jax.Array:
        a = np.asarray(post[name].values)
        a = _flat(a)
        return jnp.asarray(a, dtype=dtype) if dtype is not None else jnp.asarray(a)

    tau = get("tau") if "tau" in post.data_vars else None
    v3 = get("v3") if "v3" in post.data_vars else None
    gof = None
    if post["v"].ndim == 5:  # field-aware: (chain, draw, feature, other_group, factor)
        gof = jnp.asarray(np.asarray(dt["constant_data"]["group_of_feature"].values))
    return FMDraws(get("w0"), get("w"), get("v"), tau, v3, gof)


def _identifiable_dataset(dt: xr.DataTree) -> xr.Dataset:
    post = dt["posterior"].to_dataset()
    names = [n for n in IDENTIFIABLE if n in post.data_vars]
    ds = post[names]
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
