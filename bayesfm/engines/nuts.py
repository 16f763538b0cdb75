"""NUTS through ``numpyro.infer.MCMC`` on :func:`bayesfm.model.fm_model`, for every model."""

from __future__ import annotations

import jax
import numpy as np
from numpyro.infer import MCMC, NUTS, init_to_uniform

from bayesfm.engines.problem import EngineResult, FitProblem
from bayesfm.model import fm_model

__all__ = ["run_nuts"]

_EXTRA_FIELDS = ("diverging", "num_steps", "accept_prob", "potential_energy", "energy",
                 "adapt_state.step_size")
_STAT_NAMES = {"diverging": "diverging", "num_steps": "n_steps", "accept_prob": "acceptance_rate",
               "energy": "energy", "adapt_state.step_size": "step_size"}


def run_nuts(
    problem: FitProblem,
    *,
    rng_key: jax.Array,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    thinning: int = 1,
    parameterization: str = "centered",
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    dense_mass: bool = False,
    init_radius: float = 0.1,
    chain_method: str = "sequential",
    progress_bar: bool = True,
) -> EngineResult:
    """Draw from the FM posterior with the No-U-Turn sampler.

    Chains start near the prior's centre (``init_radius`` in unconstrained space, like
    libFM's ``init_stdev=0.1``): a random start of scale 2 puts the pairwise term far out
    and costs most of warm-up.

    Parameters
    ----------
    problem : FitProblem
    rng_key : jax.Array
    num_warmup, num_samples, num_chains, thinning : int
    parameterization : {"centered", "noncentered"}
    target_accept_prob : float
    max_tree_depth : int
    dense_mass : bool
        Adapt a dense mass matrix (worth it when ``w0`` and the group means trade off
        strongly, at ``O(d^2)`` per step).
    init_radius : float
    chain_method : {"sequential", "vectorized", "parallel"}
    progress_bar : bool

    Returns
    -------
    EngineResult
    """
    d = problem.design
    kernel = NUTS(
        fm_model,
        target_accept_prob=target_accept_prob,
        max_tree_depth=max_tree_depth,
        dense_mass=dense_mass,
        init_strategy=init_to_uniform(radius=init_radius),
    )
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        thinning=thinning,
        chain_method=chain_method,
        progress_bar=progress_bar,
    )
    mcmc.run(
        rng_key,
        jax.device_put(d.indices),
        jax.device_put(d.values),
        jax.device_put(d.group_of_feature),
        jax.device_put(np.asarray(problem.y, dtype=d.values.dtype)),
        extra_fields=_EXTRA_FIELDS,
        parameterization=parameterization,
        **problem.model_kwargs(),
    )
    draws = mcmc.get_samples(group_by_chain=True)
    sites = problem.sites()
    samples = {k: np.asarray(v) for k, v in draws.items() if k in sites}
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = {_STAT_NAMES[k]: np.asarray(v) for k, v in extra.items() if k in _STAT_NAMES}
    stats["lp"] = -np.asarray(extra["potential_energy"])
    stats["tree_depth"] = np.floor(np.log2(np.maximum(stats["n_steps"], 1))).astype(np.int64)
    return EngineResult(samples, stats, "nuts", {})
