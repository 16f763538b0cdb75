"""The exact blocked Gibbs engine: one sweep for every likelihood and interaction term.

:mod:`.sweep` is the pure core (:func:`init`, :func:`step`), composed of a likelihood's part
(:mod:`.latents`) and a term's part (:mod:`.terms`), with the ridge moves of :mod:`.shifts`
and the scale moves of :mod:`.mixing`; :mod:`bayesfm.engines.store` keeps draws or moments;
:mod:`.kernel` is the ``numpyro.infer.MCMC`` kernel (:class:`FMGibbs`), :mod:`.run` runs it
(:func:`run_gibbs`, :func:`fit_gibbs`).
"""

from bayesfm.engines.drive import each_chain
from bayesfm.engines.gibbs.blocks import BlockSet, GibbsData, color_blocks, prepare_data
from bayesfm.engines.gibbs.kernel import FMGibbs, FMGibbsState
from bayesfm.engines.gibbs.latents import LATENTS, GibbsLatent, latent_for
from bayesfm.engines.gibbs.mixing import MOVES, GibbsMoves, mixing_moves
from bayesfm.engines.gibbs.run import fit_gibbs, run_gibbs
from bayesfm.engines.gibbs.sweep import GibbsState, init, step
from bayesfm.engines.gibbs.terms import TERMS, GibbsTerm, term_for
from bayesfm.engines.store import STORES, KeepPlan, Moments, keep_plan

__all__ = [
    "LATENTS",
    "MOVES",
    "STORES",
    "TERMS",
    "BlockSet",
    "FMGibbs",
    "FMGibbsState",
    "GibbsData",
    "GibbsLatent",
    "GibbsMoves",
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
    "mixing_moves",
    "prepare_data",
    "run_gibbs",
    "step",
    "term_for",
]
