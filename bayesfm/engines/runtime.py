"""Process-level settings of a fit: progress bars, JAX's compilation cache, compiled programs."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import jax

__all__ = ["auto_progress_bar", "enable_compilation_cache", "release_compiled_programs"]


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

    Fits of new shapes or settings compile new programs (the Gibbs sweep loop is reused for
    equal ones), and JAX keeps every compiled program for the life of the process. On the
    CPU compiled programs hold memory mappings (measured: about 30 for the 7 programs of a
    small regressor's fit, more for larger samplers), and Linux allows a process
    ``vm.max_map_count`` of them (65,530 by default): after enough fits in one process (a
    cross-validation loop, a long notebook, a test suite) the next compilation fails to map
    memory and the process dies with a segmentation fault. Called after every fit, this
    clears JAX's caches (:func:`jax.clear_caches`) once the mappings pass ``fraction`` of
    the limit, which unmaps the programs no live function needs. The price is a
    recompilation of functions used again afterwards, a load from the persistent cache
    (:func:`enable_compilation_cache`) for bayesfm's own.

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
