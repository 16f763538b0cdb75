"""What every engine takes and returns, so that results never depend on the engine."""

from __future__ import annotations

import gc
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
    "FitProblem", "EngineResult", "MODEL_SITES", "N_REF", "STORES", "auto_progress_bar",
    "enable_compilation_cache", "reference_rows", "release_compiled_programs",
]

#: Sites every engine returns, in the model's own names.
MODEL_SITES = ("w0", "w", "v", "mu_w", "lambda_w", "mu_v", "lambda_v", "tau", "cutpoints",
               "v3", "mu_v3", "lambda_v3")
#: Memory modes: keep every (thinned) draw, or running moments plus a few draws (Gibbs).
STORES = ("draws", "moments")
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
    n_classes : int or None
        Number of ordered classes (``likelihood="ordinal"`` only; ``y`` then holds the
        class codes ``0 .. n_classes-1``).
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
    n_classes: int | None = None
    model: str = "fm"
    degree: int = 2

    @property
    def numpyro_model(self) -> Callable[..., None]:
        """The NumPyro model function of this problem's variant."""
        return fm_model if (self.model, self.degree) == ("fm", 2) else fm_variant_model

    def model_kwargs(self) -> dict[str, object]:
        """Keyword arguments of :func:`bayesfm.model.fm_model` for this problem."""
        extra = {"n_classes": self.n_classes} if self.likelihood == "ordinal" else {}
        return extra | {
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
    posterior_moments : dict of str to ndarray, optional
        ``store="moments"``: per-chain running moments (``n_sweeps`` of shape ``(chain,)``,
        ``w_mean, w_var`` ``(chain, p)``, ``v_mean, v_var`` ``(chain, p, k)``); ``samples``
        then holds no ``w`` or ``v`` but ``eta_ref``.
    prediction_draws : dict of str to ndarray, optional
        ``store="moments"``: the kept ``w0, w, v`` (and ``tau``) draws, ``(chain, kept, ...)``,
        and ``draw``, their post-warmup sweep numbers.
    """

    samples: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray]
    engine: str
    extras: dict[str, np.ndarray]
    posterior_moments: dict[str, np.ndarray] | None = None
    prediction_draws: dict[str, np.ndarray] | None = None


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


def _memory_maps() -> tuple[int, int] | None:
    """Memory mappings of this process and the kernel's limit on them (Linux), else None."""
    try:
        with open("/proc/sys/vm/max_map_count", encoding="ascii") as f:
            limit = int(f.read())
        with open("/proc/self/maps", "rb") as f:
            count = f.read().count(b"\n")
    except (OSError, ValueError):
        return None
    return count, limit


def release_compiled_programs(fraction: float = 0.5) -> bool:
    """Drop JAX's compiled programs when the process nears its limit on memory mappings.

    Every fit traces its sampler anew (a new kernel is a new function to JAX), and JAX keeps
    every compiled program for the life of the process. On the CPU each program holds a few
    hundred memory mappings (measured: about 740 for the ordinal Gibbs sampler), and Linux
    allows a process ``vm.max_map_count`` of them (65,530 by default): after about a hundred
    fits in one process (a cross-validation loop, a long notebook, a test suite) the next
    compilation fails to map memory and the process dies with a segmentation fault. Called
    after every fit, this clears JAX's caches (:func:`jax.clear_caches`) once the mappings
    pass ``fraction`` of the limit, which unmaps the programs no live function needs. The
    price is a recompilation of functions used again afterwards, a load from the persistent
    cache (:func:`enable_compilation_cache`) for bayesfm's own.

    Parameters
    ----------
    fraction : float, default 0.5
        Share of ``vm.max_map_count`` above which the caches are cleared.

    Returns
    -------
    bool
        Whether the caches were cleared (always False where ``/proc`` is not readable).

    Examples
    --------
    >>> release_compiled_programs(fraction=1.0)   # far from the limit: nothing to do
    False
    """
    maps = _memory_maps()
    if maps is None or maps[0] < fraction * maps[1]:
        return False
    jax.clear_caches()
    gc.collect()
    return True
