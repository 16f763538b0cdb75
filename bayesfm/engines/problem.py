"""What every engine takes and returns, so that results never depend on the engine."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from bayesfm.data.design import Design
from bayesfm.model import FMPriors, Interaction, Likelihood

__all__ = ["EngineResult", "FitProblem", "N_REF", "reference_rows"]

#: Number of training rows whose predictions ``eta_ref`` are tracked for diagnostics.
N_REF = 20


def reference_rows(n_rows: int, n_ref: int = N_REF) -> np.ndarray:
    """Return the fixed training rows whose scores ``eta_ref`` every fit tracks (sorted).

    A fixed seed: the same rows whatever the engine or its seed.

    Examples
    --------
    >>> reference_rows(5, 3).tolist() == sorted(reference_rows(5, 3).tolist())
    True
    """
    rng = np.random.default_rng(20240229)
    return np.sort(rng.choice(n_rows, size=min(n_ref, n_rows), replace=False))


class FitProblem(NamedTuple):
    """The data and the model handed to an engine.

    Attributes
    ----------
    design : Design
        Training rows.
    y : ndarray of shape (n_rows,)
        Observations (0/1 for binary likelihoods, class codes ``0 .. C-1`` for ordinal).
    likelihood : Likelihood
        The observation model (:func:`bayesfm.model.get_likelihood`).
    interaction : Interaction
        The interaction term (:func:`bayesfm.model.get_interaction`).
    rank : int
        Factor rank ``k``.
    priors : FMPriors
    sample_weight : ndarray of shape (n_rows,) or None
    relations : tuple of Relation
        Relation blocks (:mod:`bayesfm.data.relations`) whose features follow the design's
        own columns; ``design`` then names every feature but holds the rows' own entries
        only. The Gibbs engine samples them as such; NUTS and SVI take a materialised design
        instead (empty here).
    """

    design: Design
    y: np.ndarray
    likelihood: Likelihood
    interaction: Interaction
    rank: int
    priors: FMPriors = FMPriors()
    sample_weight: np.ndarray | None = None
    relations: tuple = ()

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`bayesfm.model.fm_model` for this problem."""
        return {
            "n_groups": self.design.n_groups,
            "rank": self.rank,
            "likelihood": self.likelihood,
            "interaction": self.interaction,
            "sample_weight": self.sample_weight,
            "priors": self.priors,
        }

    def sites(self) -> tuple[str, ...]:
        """Return the model's sites that every engine returns draws of, in the model's own names."""
        term = [f"{p}{n}" for n in self.interaction.factor_names for p in ("", "mu_", "lambda_")]
        net = self.interaction.network
        if net:
            term += [f"lambda_{net}", *self.interaction.network_names(
                self.design.n_groups, self.rank)]
        return ("w0", "w", "mu_w", "lambda_w", *term, *self.likelihood.sites)


class EngineResult(NamedTuple):
    """Draws from an engine, every array with leading ``(chain, draw)`` dimensions.

    Attributes
    ----------
    samples : dict of str to ndarray
        Draws of the model sites (:meth:`FitProblem.sites`).
    sample_stats : dict of str to ndarray
        Per-draw sampler statistics in ArviZ names (``diverging``, ``n_steps``, ...).
    engine : str
        Name of the engine that made the draws.
    extras : dict of str to ndarray
        Engine-specific traces, e.g. ``{"elbo": losses}`` for SVI.
    posterior_moments : dict of str to ndarray, optional
        ``store="moments"``: per-chain running moments (``n_sweeps`` of shape ``(chain,)``,
        ``<name>_mean, <name>_var`` of ``w`` and the factor matrices); ``samples`` then holds
        no ``w`` or factor matrices but ``eta_ref``.
    prediction_draws : dict of str to ndarray, optional
        ``store="moments"``: the kept draws of what a prediction needs, ``(chain, kept, ...)``,
        and ``draw``, their post-warmup sweep numbers.
    log_likelihood : ndarray of shape (chain, draw, N), optional
        Every training row's log likelihood at every draw, when the engine tracked it.
    last_state : optional
        Gibbs: the sampler's state after the last sweep (chains, caches, keys), from which
        :func:`~bayesfm.engines.fit_gibbs` continues the same chains (``resume=``).
    """

    samples: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray]
    engine: str
    extras: dict[str, np.ndarray]
    posterior_moments: dict[str, np.ndarray] | None = None
    prediction_draws: dict[str, np.ndarray] | None = None
    log_likelihood: np.ndarray | None = None
    last_state: Any = None
