"""Inference engines. Each takes a :class:`FitProblem` and returns an :class:`EngineResult`."""

from bayesfm.engines._common import (
    MODEL_SITES,
    N_REF,
    STORES,
    EngineResult,
    FitProblem,
    auto_progress_bar,
    enable_compilation_cache,
    reference_rows,
    release_compiled_programs,
)
from bayesfm.engines.gibbs_fit import fit_gibbs
from bayesfm.engines.nuts import run_nuts
from bayesfm.engines.svi import GUIDES, run_svi

#: Engines accepted by the estimators' ``method`` argument.
METHODS = ("gibbs", "nuts", "svi")

__all__ = [
    "GUIDES",
    "METHODS",
    "MODEL_SITES",
    "N_REF",
    "STORES",
    "EngineResult",
    "FitProblem",
    "auto_progress_bar",
    "enable_compilation_cache",
    "fit_gibbs",
    "reference_rows",
    "release_compiled_programs",
    "run_nuts",
    "run_svi",
]
