"""Engine draws -> one labelled ArviZ DataTree, and convergence on identifiable quantities.

DESIGN section 4: ``v`` is identified only up to rotation and sign, so R-hat and ESS are
reported on ``w0``, ``w``, ``mu_w``, ``lambda_w``, ``tau``, predictions on a fixed set of
training rows (``eta_ref``) and the total log likelihood, never on raw ``v``. (``mu_v`` and
``lambda_v`` are left out too: factors are exchangeable, so a label switch between factors
moves them without changing the fit.)

With the Gibbs engine's ``store="moments"`` the posterior group holds draws of the
low-dimensional quantities only (no ``w``, ``v``); two more groups hold the rest:
``posterior_moments`` (per-chain running mean and variance of ``w`` and ``v`` over every
post-warmup sweep) and ``prediction_draws`` (at most ``max_kept`` draws per chain of
``w0, w, v, tau``, which every prediction then uses).
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
from bayesfm.engines._common import N_REF, EngineResult, FitProblem, reference_rows
from bayesfm.model import log_likelihood as pointwise_log_likelihood
from bayesfm.predict import FMDraws, chunk_size, eta_chunks, factor_width

__all__ = [
    "IDENTIFIABLE",
    "DIMS",
    "PREDICTION_GROUP",
    "to_datatree",
    "draws_from_datatree",
    "prediction_group",
    "posterior_moments",
    "convergence_summary",
    "check_convergence",
]

#: Quantities on which convergence is judged.
IDENTIFIABLE = ("w0", "w", "mu_w", "lambda_w", "tau", "cutpoints", "eta_ref", "log_likelihood")

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
    "cutpoints": ["cutpoint"],
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

#: Group holding the kept draws of ``store="moments"`` fits.
PREDICTION_GROUP = "prediction_draws"
#: Group holding the running moments of ``store="moments"`` fits.
MOMENTS_GROUP = "posterior_moments"
_MOMENTS_NOTE = (
    "Per-chain running mean and population variance (divisor n_sweeps) of w and v over every "
    "post-warmup sweep. v is identified only up to rotation and sign: its moments describe the "
    "chain, they estimate nothing identifiable; predictions use the prediction_draws group."
)

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
        ll = np.asarray(_log_lik_jit(eta, y, problem.likelihood, tau, weight, draws.cutpoints))
        total += ll.sum(axis=1)
        if full is not None:
            full[:, sl] = ll
    return full, total


def to_datatree(
    result: EngineResult,
    problem: FitProblem,
    *,
    log_likelihood: bool | str = "auto",
    log_likelihood_budget: int = LOG_LIKELIHOOD_BUDGET,
    n_ref: int = N_REF,
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
        ``rows x draws`` float32 fits in ``log_likelihood_budget`` bytes and the draws of
        ``w`` and ``v`` were kept (not with ``store="moments"``, where ``True`` raises).
    log_likelihood_budget : int
    n_ref : int
        Number of training rows whose predictions ``eta_ref`` are tracked for diagnostics.
    attrs : dict, optional
        Extra attributes (the estimator's settings).

    Returns
    -------
    xarray.DataTree
        Groups posterior, sample_stats, log_likelihood (if stored), observed_data,
        constant_data, for SVI ``elbo``, and for ``store="moments"`` fits
        ``posterior_moments`` and ``prediction_draws``.
    """
    if log_likelihood not in (True, False, "auto"):
        raise ValueError(f"log_likelihood must be True, False or 'auto', got {log_likelihood!r}")
    d = problem.design
    samples = dict(result.samples)
    n_chains, n_draws = samples["w0"].shape[:2]
    ref = reference_rows(d.n_rows, n_ref)
    ref_idx, ref_val = d.indices[ref], d.values[ref]
    moments = result.posterior_moments is not None
    if moments:
        if log_likelihood is True:
            raise ValueError(
                "log_likelihood=True needs every draw of w and v, but store='moments' keeps "
                "running moments only; use log_likelihood='auto' or False, or store='draws'"
            )
        if samples.get("eta_ref", np.empty((0, 0, 0))).shape[-1] != len(ref):
            raise ValueError(f"a store='moments' result must carry eta_ref on {len(ref)} rows "
                             "(bayesfm.engines.reference_rows)")
        draws = None
    else:
        draws = FMDraws(
            jnp.asarray(_flat(samples["w0"])),
            jnp.asarray(_flat(samples["w"])),
            jnp.asarray(_flat(samples["v"])),
            jnp.asarray(_flat(samples["tau"])) if "tau" in samples else None,
            jnp.asarray(_flat(samples["cutpoints"])) if "cutpoints" in samples else None,
            jnp.asarray(_flat(samples["v3"])) if "v3" in samples else None,
            jnp.asarray(d.group_of_feature) if samples["v"].ndim == 5 else None,
        )
        eta_ref = next(eta_chunks(draws, ref_idx, ref_val, len(ref)))[1]
        samples["eta_ref"] = np.asarray(eta_ref).reshape(n_chains, n_draws, -1)

    n_total = n_chains * n_draws
    keep = draws is not None and (log_likelihood is True or (
        log_likelihood == "auto" and d.n_rows * n_total * 4 <= log_likelihood_budget
    ))
    stats = dict(result.sample_stats)
    ll = None
    # Engines that track the total log likelihood (Gibbs, from its cached residuals) spare
    # the O(k * nnz) pass over every draw unless the pointwise values are to be kept.
    if keep or "log_likelihood" not in stats:
        if draws is None:
            raise ValueError("a store='moments' result must carry the per-draw log likelihood")
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
    if "cutpoints" in samples:
        coords["cutpoint"] = np.arange(samples["cutpoints"].shape[-1])
    all_attrs = {
        "engine": result.engine,
        "bayesfm_version": __version__,
        "likelihood": problem.likelihood,
        "rank": problem.rank,
        **({"n_classes": int(problem.n_classes or 0)} if problem.likelihood == "ordinal" else {}),
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
    if moments:
        dt[MOMENTS_GROUP] = xr.DataTree(_moments_dataset(result, coords))
        dt[PREDICTION_GROUP] = xr.DataTree(_kept_dataset(result, coords))
    dt.attrs.update(all_attrs)
    return dt


def _moments_dataset(result: EngineResult, coords: dict[str, Any]) -> xr.Dataset:
    m = dict(result.posterior_moments or {})
    n_chains = np.asarray(m["n_sweeps"]).shape[0]
    dims = {"n_sweeps": ["chain"], "w_mean": ["chain", "feature"],
            "w_var": ["chain", "feature"], "v_mean": ["chain", "feature", "factor"],
            "v_var": ["chain", "feature", "factor"]}
    return xr.Dataset(
        {k: (dims[k], np.asarray(m[k])) for k in dims},
        coords={"chain": np.arange(n_chains), "feature": coords["feature"],
                "factor": coords["factor"]},
        attrs={"description": _MOMENTS_NOTE},
    )


def _kept_dataset(result: EngineResult, coords: dict[str, Any]) -> xr.Dataset:
    kept = dict(result.prediction_draws or {})
    sweep = np.asarray(kept.pop("draw"))
    n_chains = np.asarray(kept["w0"]).shape[0]
    dims = {"w0": [], "w": ["feature"], "v": ["feature", "factor"], "tau": []}
    return xr.Dataset(
        {k: (["chain", "draw", *dims[k]], np.asarray(a)) for k, a in kept.items()},
        coords={"chain": np.arange(n_chains), "draw": sweep, "feature": coords["feature"],
                "factor": coords["factor"]},
        attrs={"description": "Draws kept for predictions; draw = post-warmup sweep number."},
    )


def prediction_group(dt: xr.DataTree) -> str:
    """Name of the group whose draws make predictions: ``prediction_draws`` or ``posterior``."""
    return PREDICTION_GROUP if PREDICTION_GROUP in dt.children else "posterior"


def draws_from_datatree(dt: xr.DataTree, dtype: Any = None) -> FMDraws:
    """Flatten ``(chain, draw)`` of the draws that predict into :class:`FMDraws`.

    The posterior group, or for ``store="moments"`` fits the ``prediction_draws`` group.
    """
    post = dt[prediction_group(dt)]

    def get(name: str) -> jax.Array:
        a = np.asarray(post[name].values)
        a = _flat(a)
        return jnp.asarray(a, dtype=dtype) if dtype is not None else jnp.asarray(a)

    tau = get("tau") if "tau" in post.data_vars else None
    cut = get("cutpoints") if "cutpoints" in post.data_vars else None
    v3 = get("v3") if "v3" in post.data_vars else None
    gof = None
    if post["v"].ndim == 5:  # field-aware: (chain, draw, feature, other_group, factor)
        gof = jnp.asarray(np.asarray(dt["constant_data"]["group_of_feature"].values))
    return FMDraws(get("w0"), get("w"), get("v"), tau, cut, v3, gof)


def posterior_moments(dt: xr.DataTree) -> xr.Dataset:
    """Posterior mean and variance of ``w`` and ``v``, pooled over chains, in either store.

    From the running moments of a ``store="moments"`` fit (every post-warmup sweep), else
    from the stored draws. Variances are population variances (divisor: the number of
    draws). ``v``'s moments are descriptive only: ``v`` is identified up to rotation and sign,
    so its mean shrinks towards 0 when chains or draws differ by a rotation.

    Returns
    -------
    xarray.Dataset
        ``w_mean, w_var`` (feature) and ``v_mean, v_var`` (feature, factor), float64.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> from bayesfm.results import posterior_moments
    >>> rng = np.random.default_rng(0)
    >>> dt = az.from_dict({"posterior": {"w": rng.normal(size=(2, 50, 3)),
    ...                                  "v": rng.normal(size=(2, 50, 3, 2))}},
    ...                   dims={"w": ["feature"], "v": ["feature", "factor"]})
    >>> posterior_moments(dt)["v_var"].shape
    (3, 2)
    """
    if MOMENTS_GROUP not in dt.children:
        post = dt["posterior"].to_dataset()
        out = {}
        for name in ("w", "v"):
            a = post[name].astype(np.float64)
            out[f"{name}_mean"] = a.mean(("chain", "draw"))
            out[f"{name}_var"] = a.var(("chain", "draw"))
        return xr.Dataset(out)
    m = dt[MOMENTS_GROUP].to_dataset()
    n = m["n_sweeps"].astype(np.float64)
    total = n.sum("chain")
    out = {}
    for name in ("w", "v"):
        mean_c = m[f"{name}_mean"].astype(np.float64)
        var_c = m[f"{name}_var"].astype(np.float64)
        mean = (n * mean_c).sum("chain") / total
        # Law of total variance over chains: within-chain plus between-chain spread.
        out[f"{name}_mean"] = mean
        out[f"{name}_var"] = (n * (var_c + (mean_c - mean) ** 2)).sum("chain") / total
    return xr.Dataset(out)


def _identifiable_dataset(dt: xr.DataTree) -> xr.Dataset:
    post = dt["posterior"].to_dataset()
    names = [n for n in IDENTIFIABLE if n in post.data_vars]
    ds = post[names]
    if "cutpoints" in names:
        # cutpoints[0] = 0 is fixed (bayesfm.cutpoints): only the free ones are checked.
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
