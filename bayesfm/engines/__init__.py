"""Inference engines. Each takes a :class:`FitProblem` and returns an :class:`EngineResult`."""

from bayesfm.engines.gibbs import STORES, fit_gibbs
from bayesfm.engines.nuts import run_nuts
from bayesfm.engines.problem import N_REF, EngineResult, FitProblem, reference_rows
from bayesfm.engines.runtime import (
    auto_progress_bar,
    enable_compilation_cache,
    release_compiled_programs,
)
from bayesfm.engines.support import METHODS, check_supported, support_table
from bayesfm.engines.svi import GUIDES, run_svi

__all__ = [
    "GUIDES",
    "METHODS",
    "N_REF",
    "STORES",
    "EngineResult",
    "FitProblem",
    "auto_progress_bar",
    "check_supported",
    "enable_compilation_cache",
    "fit_gibbs",
    "reference_rows",
    "release_compiled_programs",
    "run_nuts",
    "run_svi",
    "support_table",
]
