"""Engine draws -> one labelled ArviZ DataTree, and back to the draws that predict.

Dims come from the model's own objects: the interaction term names the dims of its factor
matrices (``v``: ``feature, factor``; the field-aware ``v``: ``feature, other_group,
factor``), the likelihood its sites; the attributes record the likelihood, the model and the
degree, so nothing is ever guessed from the shapes of arrays.

With the Gibbs engine's ``store="moments"`` the posterior group holds draws of the
low-dimensional quantities only (no ``w`` or factor matrices); two more groups hold the rest:
``posterior_moments`` (per-chain running mean and variance of ``w`` and the factor matrices
over every post-warmup sweep) and ``prediction_draws`` (at most ``max_kept`` draws per chain
of what a prediction needs, which every prediction then uses).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import arviz as az
import jax
import numpy as np
import xarray as xr

from bayesfm._version import __version__
from bayesfm.engines.problem import N_REF, EngineResult, FitProblem, reference_rows
from bayesfm.model import Interaction, Likelihood, get_interaction, get_likelihood
from bayesfm.results.log_likelihood import OBS_INDICES, OBS_VALUES, log_likelihood_draws
from bayesfm.results.predict import PosteriorDraws, eta_chunks

__all__ = [
    "DIMS",
    "MOMENTS_GROUP",
    "PREDICTION_GROUP",
    "draws_from_datatree",
    "interaction_of",
    "keeps_pointwise",
    "likelihood_of",
    "posterior_moments",
    "prediction_group",
    "to_datatree",
]

#: Dimension names of the variables every model has (after the sample dims chain, draw).
DIMS: dict[str, list[str]] = {
    "w0": [],
    "w": ["feature"],
    "mu_w": ["group"],
    "lambda_w": ["group"],
    "tau": [],
    "cutpoints": ["cutpoint"],
    "eta_ref": ["ref_obs"],
    "y": ["obs"],
    "group_of_feature": ["feature"],
    "sample_weight": ["obs"],
    "ref_rows": ["ref_obs"],
    "ref_indices": ["ref_obs", "slot"],
    "ref_values": ["ref_obs", "slot"],
    OBS_INDICES: ["obs", "slot"],
    OBS_VALUES: ["obs", "slot"],
}

#: Group holding the kept draws of ``store="moments"`` fits.
PREDICTION_GROUP = "prediction_draws"
#: Group holding the running moments of ``store="moments"`` fits.
MOMENTS_GROUP = "posterior_moments"
_MOMENTS_NOTE = (
    "Per-chain running mean and population variance (divisor n_sweeps) of w and the factor "
    "matrices over every post-warmup sweep. The factors are identified only up to rotation "
    "and sign: their moments describe the chain, they estimate nothing identifiable; "
    "predictions use the prediction_draws group."
)

#: Default memory allowed for the pointwise log likelihood (rows x draws, float32).
LOG_LIKELIHOOD_BUDGET = 512 * 2**20


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape((-1, *a.shape[2:]))


def keeps_pointwise(
    setting: bool | str, n_rows: int, n_draws: int, *, moments: bool = False,
    budget_bytes: int = LOG_LIKELIHOOD_BUDGET,
) -> bool:
    """Whether a fit keeps the pointwise log likelihood (``log_likelihood=`` ``setting``).

    ``"auto"`` keeps it when ``n_rows x n_draws`` float32 fit in ``budget_bytes`` and every
    draw is kept (not with ``store="moments"``).

    Examples
    --------
    >>> from bayesfm.results import keeps_pointwise
    >>> keeps_pointwise("auto", 100_000, 1_000), keeps_pointwise("auto", 1_000_000, 1_000)
    (True, False)
    """
    if moments:
        return False
    return setting is True or (setting == "auto" and n_rows * n_draws * 4 <= budget_bytes)


def _dims(interaction: Interaction, n_groups: int, rank: int) -> dict[str, list[str]]:
    return {**DIMS, **interaction.site_dims(n_groups, rank)}


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
        The training data and the model.
    log_likelihood : bool or "auto"
        Store the pointwise log likelihood (needed by LOO). ``"auto"`` stores it when
        ``rows x draws`` float32 fits in ``log_likelihood_budget`` bytes and every draw was
        kept (not with ``store="moments"``, where ``True`` raises).
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
    lik, term = problem.likelihood, problem.interaction
    samples = dict(result.samples)
    n_chains, n_draws = samples["w0"].shape[:2]
    ref = reference_rows(d.n_rows, n_ref)
    ref_idx, ref_val = d.indices[ref], d.values[ref]
    moments = result.posterior_moments is not None
    # The Gibbs engine tracks eta_ref itself (from its caches); NUTS and SVI do not.
    tracked = samples.get("eta_ref", np.empty((0, 0, 0))).shape[-1] == len(ref)
    draws = None
    if moments:
        if log_likelihood is True:
            raise ValueError(
                "log_likelihood=True needs every draw of w and v, but store='moments' keeps "
                "running moments only; use log_likelihood='auto' or False, or store='draws'"
            )
        if not tracked:
            raise ValueError(f"a store='moments' result must carry eta_ref on {len(ref)} rows "
                             "(bayesfm.engines.reference_rows)")
    else:
        names = ("w0", "w", *term.score_sites(d.n_groups, problem.rank),
                 *lik.prediction_sites)
        draws = PosteriorDraws({k: jax.device_put(_flat(samples[k])) for k in names}, lik,
                               term, jax.device_put(d.group_of_feature))
        if not tracked:  # computed from the draws
            eta_ref = next(eta_chunks(draws, ref_idx, ref_val, len(ref)))[1]
            samples["eta_ref"] = np.asarray(eta_ref).reshape(n_chains, n_draws, -1)

    keep = draws is not None and keeps_pointwise(log_likelihood, d.n_rows, n_chains * n_draws,
                                                 budget_bytes=log_likelihood_budget)
    stats = dict(result.sample_stats)
    ll = None
    if keep and result.log_likelihood is not None:
        # Tracked by the engine (Gibbs reads it from its caches): nothing to recompute.
        ll = np.asarray(result.log_likelihood, dtype=np.float32).reshape(n_chains * n_draws, -1)
    # Engines that track the total log likelihood (Gibbs, from its cached residuals) spare
    # the O(k * nnz) pass over every draw unless the pointwise values are to be kept.
    elif keep or "log_likelihood" not in stats:
        if draws is None:
            raise ValueError("a store='moments' result must carry the per-draw log likelihood")
        ll, ll_total = log_likelihood_draws(draws, d.indices, d.values, problem.y,
                                            problem.sample_weight, keep=keep)
        stats.setdefault("log_likelihood", ll_total.reshape(n_chains, n_draws))

    constant: dict[str, np.ndarray] = {
        "group_of_feature": d.group_of_feature,
        "ref_rows": ref,
        "ref_indices": ref_idx,
        "ref_values": ref_val,
    }
    if problem.sample_weight is not None:
        constant["sample_weight"] = np.asarray(problem.sample_weight)
    if ll is not None:  # what recompute_log_likelihood needs besides the draws and y
        constant[OBS_INDICES], constant[OBS_VALUES] = d.indices, d.values
    groups: dict[str, dict[str, np.ndarray]] = {
        "posterior": samples,
        "sample_stats": stats,
        "observed_data": {"y": np.asarray(problem.y)},
        "constant_data": constant,
    }
    if ll is not None:
        groups["log_likelihood"] = {"y": ll.reshape(n_chains, n_draws, -1)}
    dims = _dims(term, d.n_groups, problem.rank)
    used = {dim for name in dims for dim in dims[name]}
    # Arrays, not lists: ArviZ deep-copies the coordinates for every variable, element by
    # element for a list (48,000 copies a fit with 2,625 features), at once for an array.
    coords = {
        "feature": np.asarray(list(d.feature_names)),
        "group": np.asarray(list(d.group_names)),
        "factor": np.arange(problem.rank),
        **({"other_group": np.asarray(list(d.group_names))} if "other_group" in used else {}),
        **({"out_group": np.asarray(list(d.group_names))} if "out_group" in used else {}),
        "obs": np.arange(d.n_rows),
        "ref_obs": ref,
    }
    if "cutpoints" in samples:
        coords["cutpoint"] = np.arange(samples["cutpoints"].shape[-1])
    n_classes = getattr(lik, "n_classes", None)
    all_attrs = {
        "engine": result.engine,
        "bayesfm_version": __version__,
        "likelihood": lik.name,
        "rank": problem.rank,
        **({"n_classes": int(n_classes)} if n_classes is not None else {}),
        "model": term.model,
        "degree": term.degree,
        **({"model_options": json.dumps(term.options(), sort_keys=True)}
           if term.options() else {}),
        **{f"prior_{k}": float(v) for k, v in problem.priors._asdict().items()},
        **(attrs or {}),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        dt = az.from_dict(groups, dims=dims, coords=coords, attrs=all_attrs)
    for name, trace in result.extras.items():
        if np.ndim(trace) == 1:
            dt[name] = xr.DataTree(xr.Dataset({"loss": ("step", np.asarray(trace))}))
    if moments:
        dt[MOMENTS_GROUP] = xr.DataTree(_moments_dataset(result, coords, dims))
        dt[PREDICTION_GROUP] = xr.DataTree(_kept_dataset(result, coords, dims))
    dt.attrs.update(all_attrs)
    return dt


def _moments_dataset(result: EngineResult, coords: dict[str, Any],
                     dims: dict[str, list[str]]) -> xr.Dataset:
    m = dict(result.posterior_moments or {})
    n_sweeps = np.asarray(m.pop("n_sweeps"))
    n_chains = n_sweeps.shape[0]
    data = {"n_sweeps": (["chain"], n_sweeps)}
    for key, a in m.items():
        site = key.rsplit("_", 1)[0]
        data[key] = (["chain", *dims[site]], np.asarray(a))
    used = {dim for _, (ds, _) in data.items() for dim in ds}
    return xr.Dataset(
        data, coords={"chain": np.arange(n_chains),
                      **{k: v for k, v in coords.items() if k in used}},
        attrs={"description": _MOMENTS_NOTE},
    )


def _kept_dataset(result: EngineResult, coords: dict[str, Any],
                  dims: dict[str, list[str]]) -> xr.Dataset:
    kept = dict(result.prediction_draws or {})
    sweep = np.asarray(kept.pop("draw"))
    n_chains = np.asarray(kept["w0"]).shape[0]
    data = {k: (["chain", "draw", *dims[k]], np.asarray(a)) for k, a in kept.items()}
    used = {dim for _, (ds, _) in data.items() for dim in ds}
    extra = {}
    if "cutpoints" in kept:
        extra["cutpoint"] = np.arange(np.asarray(kept["cutpoints"]).shape[-1])
    return xr.Dataset(
        data,
        coords={"chain": np.arange(n_chains), "draw": sweep,
                **{k: v for k, v in coords.items() if k in used}, **extra},
        attrs={"description": "Draws kept for predictions; draw = post-warmup sweep number."},
    )


def prediction_group(dt: xr.DataTree) -> str:
    """Name of the group whose draws make predictions: ``prediction_draws`` or ``posterior``."""
    return PREDICTION_GROUP if PREDICTION_GROUP in dt.children else "posterior"


def likelihood_of(dt: xr.DataTree) -> Likelihood:
    """Return the likelihood a DataTree was fitted with, from its attributes."""
    n_classes = dt.attrs.get("n_classes")
    return get_likelihood(str(dt.attrs["likelihood"]),
                          n_classes=None if n_classes is None else int(n_classes))


def interaction_of(dt: xr.DataTree) -> Interaction:
    """Return the interaction term a DataTree was fitted with, from its attributes.

    A term's options are the JSON attribute ``model_options`` (absent for terms without).
    """
    options = dt.attrs.get("model_options")
    return get_interaction(str(dt.attrs.get("model", "fm")), int(dt.attrs.get("degree", 2)),
                           None if options is None else json.loads(str(options)))


def draws_from_datatree(
    dt: xr.DataTree, dtype: Any = None, likelihood: Likelihood | None = None
) -> PosteriorDraws:
    """Flatten ``(chain, draw)`` of the draws that predict into :class:`PosteriorDraws`.

    The posterior group, or for ``store="moments"`` fits the ``prediction_draws`` group.
    ``likelihood`` overrides the one the attributes name (an estimator passes its own, e.g.
    the ordinal likelihood with its class values).
    """
    post = dt[prediction_group(dt)]
    lik = likelihood or likelihood_of(dt)
    term = interaction_of(dt)

    def get(name: str) -> jax.Array:
        a = _flat(np.asarray(post[name].values))
        return jax.device_put(a if dtype is None else np.asarray(a, dtype=dtype))

    gof_np = np.asarray(dt["constant_data"]["group_of_feature"].values)
    n_groups = max(int(np.max(gof_np, initial=-1)) + 1, 1)
    names = ("w0", "w", *term.score_sites(n_groups, int(dt.attrs.get("rank", 1))),
             *lik.prediction_sites)
    gof = jax.device_put(gof_np)
    return PosteriorDraws({n: get(n) for n in names}, lik, term, gof)


def posterior_moments(dt: xr.DataTree) -> xr.Dataset:
    """Posterior mean and variance of ``w`` and the factor matrices, pooled over chains.

    From the running moments of a ``store="moments"`` fit (every post-warmup sweep), else
    from the stored draws. Variances are population variances (divisor: the number of
    draws). The factors' moments are descriptive only: ``v`` is identified up to rotation
    and sign, so its mean shrinks towards 0 when chains or draws differ by a rotation.

    Returns
    -------
    xarray.Dataset
        ``w_mean, w_var`` (feature) and ``<factor>_mean, <factor>_var``, float64.

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
    names = ("w", *interaction_of(dt).factor_names)
    if MOMENTS_GROUP not in dt.children:
        post = dt["posterior"].to_dataset()
        out = {}
        for name in names:
            a = post[name].astype(np.float64)
            out[f"{name}_mean"] = a.mean(("chain", "draw"))
            out[f"{name}_var"] = a.var(("chain", "draw"))
        return xr.Dataset(out)
    m = dt[MOMENTS_GROUP].to_dataset()
    n = m["n_sweeps"].astype(np.float64)
    total = n.sum("chain")
    out = {}
    for name in names:
        mean_c = m[f"{name}_mean"].astype(np.float64)
        var_c = m[f"{name}_var"].astype(np.float64)
        mean = (n * mean_c).sum("chain") / total
        # Law of total variance over chains: within-chain plus between-chain spread.
        out[f"{name}_mean"] = mean
        out[f"{name}_var"] = (n * (var_c + (mean_c - mean) ** 2)).sum("chain") / total
    return xr.Dataset(out)
