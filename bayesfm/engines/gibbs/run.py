"""Run the Gibbs kernel: ``run_gibbs`` on arrays, ``fit_gibbs`` behind the engine interface."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from numpyro.infer import MCMC

from bayesfm.engines.drive import sample_chains
from bayesfm.engines.gibbs.kernel import FMGibbs
from bayesfm.engines.problem import EngineResult, FitProblem, reference_rows
from bayesfm.model.interactions import Interaction
from bayesfm.model.likelihoods import Likelihood
from bayesfm.model.priors import FMPriors

__all__ = ["fit_gibbs", "run_gibbs"]


def run_gibbs(
    indices: Any, values: Any, group_of_feature: Any, y: Any, *, n_groups: int, rank: int,
    likelihood: str | Likelihood = "gaussian", interaction: str | Interaction = "fm",
    degree: int = 2, n_classes: int | None = None, sample_weight: Any = None,
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    num_warmup: int = 100, num_samples: int = 200, num_chains: int = 1, thinning: int = 1,
    rng_key: jax.Array, progress_bar: bool = True, chain_method: str = "vectorized",
    init_scale: float = 0.1, store: str = "draws", max_kept: int = 100, ref_rows: Any = None,
    init_params: dict[str, Any] | None = None, pointwise_log_likelihood: bool = False,
    moves: Any = "none", devices: Any = None, process_rows: bool = False,
    resume: Any = None, return_state: bool = False, bucket_rows: bool = False,
    relations: Any = None,
) -> dict[str, Any]:
    """Draw from the FM posterior with the exact blocked Gibbs sampler.

    The model, memory, ``moves``, ``devices``, ``process_rows``, ``bucket_rows`` and
    ``relations`` arguments are those of
    :class:`~.kernel.FMGibbs`
    (``indices, values, group_of_feature`` its ``data``); ``num_warmup``, ``num_samples``,
    ``num_chains``, ``thinning``, ``chain_method`` and ``progress_bar`` those of
    :class:`numpyro.infer.MCMC` (``num_samples`` post-warmup sweeps per chain, every
    ``thinning``-th kept), which runs the chains unless they are ``"vectorized"`` (then
    :func:`~bayesfm.engines.drive.sample_chains` makes the same draws faster);
    ``rng_key`` seeds every chain (the draws do not depend on ``store``); ``init_params``
    starts the chains from given site values (batched over chains); ``resume`` continues
    the chains of an earlier run's last state (``return_state=True`` puts it in the result
    as ``"last_state"``), vectorized chains only.

    Returns
    -------
    dict
        Draws of every site, the total ``log_likelihood`` and the latent part's statistics
        (``acceptance_rate`` for ordinal), each ``(chain, draw, ...)``. With
        ``store="moments"``: no ``w`` or factor matrices but ``eta_ref``, plus the dicts
        ``"posterior_moments"`` and ``"prediction_draws"`` (:func:`.store.collect`).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import run_gibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> draws = run_gibbs(idx, val, [0, 0, 1, 1], [1.0, 2.0, 3.0], n_groups=2, rank=2,
    ...                   num_warmup=5, num_samples=10, num_chains=2,
    ...                   rng_key=jax.random.key(0), progress_bar=False)  # doctest: +SKIP
    >>> draws["v"].shape, draws["tau"].shape  # doctest: +SKIP
    ((2, 10, 4, 2), (2, 10))
    >>> out = run_gibbs(idx, val, [0, 0, 1, 1], [1.0, 2.0, 3.0], n_groups=2, rank=2,
    ...                 num_warmup=5, num_samples=10, num_chains=2, store="moments",
    ...                 max_kept=4, rng_key=jax.random.key(0),
    ...                 progress_bar=False)  # doctest: +SKIP
    >>> (out["posterior_moments"]["v_mean"].shape,  # doctest: +SKIP
    ...  out["prediction_draws"]["v"].shape)
    ((2, 4, 2), (2, 4, 4, 2))
    """
    kernel = FMGibbs((indices, values, group_of_feature), y, rank=rank, n_groups=n_groups,
                     likelihood=likelihood, interaction=interaction, degree=degree,
                     n_classes=n_classes, priors=priors, sample_weight=sample_weight,
                     init_scale=init_scale, store=store, num_samples=num_samples,
                     thinning=thinning, max_kept=max_kept, ref_rows=ref_rows,
                     pointwise_log_likelihood=pointwise_log_likelihood, moves=moves,
                     devices=devices, process_rows=process_rows, bucket_rows=bucket_rows,
                     relations=relations)
    settings = dict(num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                    thinning=thinning, progress_bar=progress_bar)
    if chain_method == "vectorized":  # the same draws as MCMC's, with less around the sweep
        out, last = sample_chains(kernel, rng_key, init_params=init_params, resume=resume,
                                  **settings)
    else:
        if resume is not None:
            raise ValueError("resume= needs chain_method='vectorized'")
        mcmc = MCMC(kernel, chain_method=chain_method, **settings)
        mcmc.run(rng_key, init_params=init_params)
        out = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
        last = mcmc.last_state
    if "log_likelihood_pointwise" in out:  # without the padding rows of the device layout
        out["log_likelihood_pointwise"] = out["log_likelihood_pointwise"][..., :kernel.n_rows]
    if store == "moments":
        out["posterior_moments"], out["prediction_draws"] = kernel.collect_moments(
            last.moments, num_chains)
    if return_state:
        out["last_state"] = last
    return out


def fit_gibbs(
    problem: FitProblem, *, rng_key: jax.Array, num_warmup: int = 500, num_samples: int = 500,
    num_chains: int = 2, thinning: int = 1, progress_bar: bool = True, store: str = "draws",
    max_kept: int = 100, pointwise_log_likelihood: bool = False, moves: Any = "none",
    devices: Any = None, resume: Any = None, init_params: dict[str, Any] | None = None,
    bucket_rows: bool = True,
) -> EngineResult:
    """Draw from the posterior of ``problem`` with the exact blocked Gibbs sampler.

    Any likelihood with a Gibbs latent part and any interaction term with a Gibbs term part
    (:func:`bayesfm.engines.check_supported` names them); the settings are those of
    :func:`run_gibbs`. The sampler tracks ``eta_ref`` on
    :func:`~bayesfm.engines.reference_rows`, read from its caches (so the diagnostics need
    no pass over the draws and no compiled program of their own);
    ``pointwise_log_likelihood`` collects every row's log likelihood in the sampler
    (``EngineResult.log_likelihood``). ``bucket_rows`` pads a small design's rows to their
    shape bucket, so that a fit of a nearby row count reuses the compiled sweep
    (:func:`~bayesfm.engines.gibbs.mesh.row_bucket`); on by default here (padding rows
    have zero weight, so the posterior is unchanged; only the random stream differs from an
    unpadded run of :func:`run_gibbs`).

    Examples
    --------
    >>> import jax
    >>> from bayesfm.data import from_sparse, simulate_fm
    >>> from bayesfm.engines import FitProblem, fit_gibbs
    >>> from bayesfm.model import get_interaction, get_likelihood
    >>> sim = simulate_fm(n_rows=60, group_sizes=(5, 4), rank=2, seed=0)
    >>> design = from_sparse(sim.X, groups=sim.groups)
    >>> problem = FitProblem(design, sim.y, get_likelihood("gaussian"), get_interaction("fm"), 2)
    >>> res = fit_gibbs(problem, rng_key=jax.random.key(0), num_warmup=5, num_samples=20,
    ...                 store="moments", max_kept=4, progress_bar=False)
    >>> res.prediction_draws["v"].shape, "v" in res.samples
    ((2, 4, 9, 2), False)
    """
    d = problem.design
    lik, term = problem.likelihood, problem.interaction
    samples = dict(run_gibbs(
        d.indices, d.values, d.group_of_feature, problem.y, n_groups=d.n_groups,
        rank=problem.rank, likelihood=lik, interaction=term,
        sample_weight=problem.sample_weight, priors=problem.priors, num_warmup=num_warmup,
        num_samples=num_samples, num_chains=num_chains, thinning=thinning, rng_key=rng_key,
        progress_bar=progress_bar, store=store, max_kept=max_kept,
        ref_rows=reference_rows(d.n_rows),
        pointwise_log_likelihood=pointwise_log_likelihood, moves=moves, devices=devices,
        resume=resume, return_state=True, init_params=init_params, bucket_rows=bucket_rows,
        relations=problem.relations or None,
    ))
    stats = {k: samples.pop(k) for k in ("log_likelihood", "acceptance_rate") if k in samples}
    moments = samples.pop("posterior_moments", None)
    kept = samples.pop("prediction_draws", None)
    pointwise = samples.pop("log_likelihood_pointwise", None)
    last = samples.pop("last_state")
    return EngineResult(samples, stats, "gibbs", {}, moments, kept, pointwise, last)
