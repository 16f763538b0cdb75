"""The Gibbs engine behind the common engine interface (FitProblem -> EngineResult)."""

from __future__ import annotations

import jax

from bayesfm.engines._common import EngineResult, FitProblem
from bayesfm.engines.gibbs_ffm import run_gibbs_ffm
from bayesfm.engines.gibbs_kernel import run_gibbs

__all__ = ["fit_gibbs"]


def fit_gibbs(
    problem: FitProblem,
    *,
    rng_key: jax.Array,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 2,
    thinning: int = 1,
    progress_bar: bool = True,
) -> EngineResult:
    """Draw from the FM posterior with the exact blocked Gibbs sampler (DESIGN section 3).

    Parameters
    ----------
    problem : FitProblem
        ``likelihood`` must be ``"gaussian"`` or ``"probit"`` (the conjugate ones).
    rng_key : jax.Array
    num_warmup, num_samples, num_chains, thinning : int
    progress_bar : bool

    Returns
    -------
    EngineResult
    """
    if problem.likelihood not in ("gaussian", "probit"):
        raise ValueError(
            f"method='gibbs' needs a conjugate likelihood (regression or link='probit'), "
            f"got {problem.likelihood!r}; use method='nuts' or 'svi' for link='logit'"
        )
    if problem.likelihood == "probit" and problem.sample_weight is not None:
        raise ValueError(
            "sample_weight with link='probit' is not supported by method='gibbs' (weighted "
            "rows have no exact probit augmentation); use method='nuts' or 'svi'"
        )
    if problem.degree != 2:
        raise ValueError(
            f"method='gibbs' samples degree=2 models only, got degree={problem.degree}; use "
            "method='nuts' or 'svi' for the degree-3 FM"
        )
    d = problem.design
    sampler = run_gibbs_ffm if problem.model == "ffm" else run_gibbs
    samples = sampler(
        d.indices, d.values, d.group_of_feature, problem.y,
        n_groups=d.n_groups, rank=problem.rank, likelihood=problem.likelihood,
        sample_weight=problem.sample_weight, priors=problem.priors,
        num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
        thinning=thinning, rng_key=rng_key, progress_bar=progress_bar,
    )
    samples = dict(samples)
    stats = {"log_likelihood": samples.pop("log_likelihood")}
    return EngineResult(samples, stats, "gibbs", {})
