"""What every engine takes and returns, so that results never depend on the engine."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from bayesfm.data.design import Design
from bayesfm.model import FMPriors, fm_model
from bayesfm.model_variants import fm_variant_model

__all__ = [
    "FitProblem", "EngineResult", "MODEL_SITES", "auto_progress_bar", "enable_compilation_cache"
]

#: Sites every engine returns, in the model's own names.
MODEL_SITES = ("w0", "w", "v", "mu_w", "lambda_w", "mu_v", "lambda_v", "tau",
               "v3", "mu_v3", "lambda_v3")


class FitProblem(NamedTuple):
    """The data and model settings handed to an engine.

    Attributes
    ----------
    design : Design
        Training rows.
    y : ndarray of shape (n_rows,)
        Observations (0/1 for binary likelihoods).
    likelihood : str
        ``"gaussian"``, ``"probit"`` or ``"logit"``.
    rank : int
        Factor rank ``k``.
    priors : FMPriors
    sample_weight : ndarray of shape (n_rows,) or None
    model : {"fm", "ffm"}
        Plain or field-aware FM (:mod:`bayesfm.model_variants`).
    degree : {2, 3}
        Highest interaction order.
    """

    design: Design
    y: np.ndarray
    likelihood: str
    rank: int
    priors: FMPriors
    sample_weight: np.ndarray | None
    model: str = "fm"
    degree: int = 2

    @property
    def numpyro_model(self) -> Callable[..., None]:
        """The NumPyro model function of this problem's variant."""
        return fm_model if (self.model, self.degree) == ("fm", 2) else fm_variant_model

    def model_kwargs(self) -> dict[str, object]:
        """Keyword arguments of :func:`bayesfm.model.fm_model` for this problem."""
        return {
            "n_groups": self.design.n_groups,
            "rank": self.rank,
            "likelihood": self.likelihood,
            "sample_weight": self.sample_weight,
            "priors": self.priors,
            **({} if self.numpyro_model is fm_model
               else {"variant": self.model, "degree": self.degree}),
        }


class EngineResult(NamedTuple):
    """Draws from an engine, every array with leading ``(chain, draw)`` dimensions.

    Attributes
    ----------
    samples : dict of str to ndarray
        Draws of the model sites (:data:`MODEL_SITES`, ``tau`` only for Gaussian).
    sample_stats : dict of str to ndarray
        Per-draw sampler statistics in ArviZ names (``diverging``, ``n_steps``, ...).
    engine : str
        Name of the engine that made the draws.
    extras : dict of str to ndarray
        Engine-specific traces, e.g. ``{"elbo": losses}`` for SVI.
    """

    samples: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray]
    engine: str
    extras: dict[str, np.ndarray]


def auto_progress_bar(progress_bar: bool | None) -> bool:
    """Resolve ``None`` to "on in interactive use" (a terminal or a notebook)."""
    if progress_bar is not None:
        return bool(progress_bar)
    if "ipykernel" in sys.modules:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def enable_compilation_cache() -> None:
    """Turn on JAX's persistent compilation cache unless the user configured one.

    Compilation is part of the user's wait: with the cache, a second fit of the same shapes
    (a re-run of a notebook cell, a new seed) skips it. The folder is
    ``$BAYESFM_CACHE_DIR`` or ``~/.cache/bayesfm/jax``; ``BAYESFM_JAX_CACHE=0`` disables it.
    """
    if os.environ.get("BAYESFM_JAX_CACHE", "1") == "0":
        return
    if jax.config.jax_compilation_cache_dir:
        return
    root = os.environ.get("BAYESFM_CACHE_DIR") or str(Path.home() / ".cache" / "bayesfm")
    path = Path(root) / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
