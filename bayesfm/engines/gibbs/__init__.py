"""The exact blocked Gibbs engine: one sweep for every likelihood and interaction term.

- :mod:`.blocks`: host-side exact blocks of a design (:func:`prepare_data`);
- :mod:`.sweep`: the pure functional core, :func:`init` and :func:`step` over
  :class:`GibbsState`;
- :mod:`.latents`: the likelihood's part (Gaussian, probit, ordinal), :func:`latent_for`;
- :mod:`.terms`: the interaction term's part (plain, field-aware, degree 3), :func:`term_for`;
- :mod:`.shifts`: exact ridge moves; :mod:`.random`: the sweep's random draws;
- :mod:`.store`: what a run keeps (every draw, or running moments);
- :mod:`.kernel`: :class:`FMGibbs`, the ``numpyro.infer.MCMC`` kernel;
- :mod:`.run`: :func:`run_gibbs` and :func:`fit_gibbs`.
"""

from bayesfm.engines.gibbs.blocks import BlockSet, GibbsData, color_blocks, prepare_data
from bayesfm.engines.gibbs.kernel import FMGibbs, FMGibbsState, each_chain
from bayesfm.engines.gibbs.latents import LATENTS, GibbsLatent, latent_for
from bayesfm.engines.gibbs.run import fit_gibbs, run_gibbs
from bayesfm.engines.gibbs.store import STORES, KeepPlan, Moments, keep_plan
from bayesfm.engines.gibbs.sweep import GibbsState, init, step
from bayesfm.engines.gibbs.terms import TERMS, GibbsTerm, term_for

__all__ = [
    "LATENTS",
    "STORES",
    "TERMS",
    "BlockSet",
    "FMGibbs",
    "FMGibbsState",
    "GibbsData",
    "GibbsLatent",
    "GibbsState",
    "GibbsTerm",
    "KeepPlan",
    "Moments",
    "color_blocks",
    "each_chain",
    "fit_gibbs",
    "init",
    "keep_plan",
    "latent_for",
    "prepare_data",
    "run_gibbs",
    "step",
    "term_for",
]
