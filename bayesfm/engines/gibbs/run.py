"""The Gibbs engine behind the common engine interface (FitProblem -> EngineResult)."""

from __future__ import annotations

import jax

from bayesfm.engines._common import EngineResult, FitProblem, reference_rows
from bayesfm.engines.gibbs_deg3 import run_gibbs_deg3
from bayesfm.engines.gibbs_ffm import run_gibbs_ffm
from bayesfm.engines.gibbs_kernel import run_gibbs
from bayesfm.engines.gibbs_ordinal import run_gibbs_ordinal

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
    store: str = "draws",
    max_kept: int = 100,
) -> EngineResult:
    """Draw from the FM posterior with the exact blocked Gibbs sampler (DESIGN section 3).

    Parameters
    ----------
    problem : FitProblem
        ``likelihood`` must be ``"gaussian"``, ``"probit"`` (the conjugate ones) or
        ``"ordinal"`` (latent augmentation plus Metropolis cutpoints,
        :mod:`bayesfm.engines.gibbs_ordinal`). ``model="ffm"`` runs
        :mod:`bayesfm.engines.gibbs_ffm` and ``degree=3`` :mod:`bayesfm.engines.gibbs_deg3`
        (both ``store="draws"`` only).
    rng_key : jax.Array
    num_warmup, num_samples, num_chains, thinning : int
    progress_bar : bool
    store : {"draws", "moments"}
        ``"moments"``: draws of the low-dimensional sites and of ``eta_ref`` (on
        :func:`~bayesfm.engines.reference_rows`), running moments of ``w`` and ``v`` and at
        most ``max_kept`` draws per chain for predictions (see
        :class:`~bayesfm.engines.gibbs_kernel.FMGibbs`).
    max_kept : int

    Returns
    -------
    EngineResult

    Examples
    --------
    >>> import jax
    >>> from bayesfm.data import from_sparse, simulate_fm
    >>> from bayesfm.engines import FitProblem, fit_gibbs
    >>> from bayesfm.model import FMPriors
    >>> sim = simulate_fm(n_rows=60, group_sizes=(5, 4), rank=2, seed=0)
    >>> design = from_sparse(sim.X, groups=sim.groups)
    >>> problem = FitProblem(design, sim.y, "gaussian", 2, FMPriors(), None)
    >>> res = fit_gibbs(problem, rng_key=jax.random.key(0), num_warmup=5, num_samples=20,
    ...                 store="moments", max_kept=4, progress_bar=False)
    >>> res.prediction_draws["v"].shape, "v" in res.samples
    ((2, 4, 9, 2), False)
    """
    if problem.likelihood == "ordinal":
        if (problem.model, problem.degree) != ("fm", 2):
            raise ValueError(
                "the ordinal Gibbs sampler runs the plain degree-2 FM only, got "
                f"model={problem.model!r}, degree={problem.degree}"
            )
        if store != "draws":
            raise ValueError(
                f"store={store!r} is not available for the ordinal likelihood yet; use "
                "store='draws' (with thinning to save memory)"
            )
        return _fit_ordinal(problem, rng_key=rng_key, num_warmup=num_warmup,
                            num_samples=num_samples, num_chains=num_chains, thinning=thinning,
                            progress_bar=progress_bar)
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
    d = problem.design
    common = dict(
        n_groups=d.n_groups, rank=problem.rank, likelihood=problem.likelihood,
        sample_weight=problem.sample_weight, priors=problem.priors,
        num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
        thinning=thinning, rng_key=rng_key, progress_bar=progress_bar,
    )
    if problem.model == "ffm" or problem.degree == 3:
        name = "model='ffm'" if problem.model == "ffm" else "degree=3"
        if store != "draws":
            raise ValueError(
                f"store={store!r} is not available for {name} yet; use store='draws' "
                "(with thinning to save memory)"
            )
        run = run_gibbs_ffm if problem.model == "ffm" else run_gibbs_deg3
        samples = run(d.indices, d.values, d.group_of_feature, problem.y, **common)
    else:
        samples = run_gibbs(
            d.indices, d.values, d.group_of_feature, problem.y, **common, store=store,
            max_kept=max_kept,
            ref_rows=reference_rows(d.n_rows) if store == "moments" else None,
        )
    samples = dict(samples)
    stats = {"log_likelihood": samples.pop("log_likelihood")}
    moments = samples.pop("posterior_moments", None)
    kept = samples.pop("prediction_draws", None)
    return EngineResult(samples, stats, "gibbs", {}, moments, kept)


def _fit_ordinal(
    problem: FitProblem,
    *,
    rng_key: jax.Array,
    num_warmup: int,
    num_samples: int,
    num_chains: int,
    thinning: int,
    progress_bar: bool,
) -> EngineResult:
    if problem.sample_weight is not None:
        raise ValueError(
            "sample_weight with the ordinal likelihood is not supported by method='gibbs' "
            "(weighted rows have no exact latent augmentation); use method='nuts' or 'svi'"
        )
    d = problem.design
    samples = dict(run_gibbs_ordinal(
        d.indices, d.values, d.group_of_feature, problem.y,
        n_groups=d.n_groups, rank=problem.rank, n_classes=int(problem.n_classes or 0),
        priors=problem.priors, num_warmup=num_warmup, num_samples=num_samples,
        num_chains=num_chains, thinning=thinning, rng_key=rng_key, progress_bar=progress_bar,
    ))
    stats = {k: samples.pop(k) for k in ("log_likelihood", "acceptance_rate")}
    return EngineResult(samples, stats, "gibbs", {})
