"""Exact slice sampling of one scalar (Neal 2003), jit-able: the engines' move of last resort.

For a scalar whose conditional has no standard form (a group's log scale, the scores' log
scale), a slice-sampling update is exact for any fixed width and costs a few evaluations of
the log density: stepping out finds an interval around the slice, shrinkage draws from it.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["slice_step"]


def slice_step(key: jax.Array, log_density: Callable[[jax.Array], jax.Array], t0: jax.Array,
               width: float = 1.0, max_steps: int = 12) -> jax.Array:
    """One slice-sampling update of the scalar ``t0`` under ``log_density`` (unnormalised).

    Stepping out is limited to ``max_steps`` widths, split at random between the two sides
    (Neal's rule, which keeps the update reversible); shrinkage stops after 64 tries (each
    halves the interval on average, so never in practice). ``log_density`` must return
    ``-inf``, not NaN, outside its support.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from bayesfm.engines.slice import slice_step
    >>> log_density = lambda x: -0.5 * (x - 3.0) ** 2
    >>> update = jax.jit(lambda key, t: slice_step(key, log_density, t))  # compiled once
    >>> t = jnp.zeros(())
    >>> for i in range(200):
    ...     t = update(jax.random.key(i), t)
    >>> bool(0.0 < t < 6.0)
    True
    """
    dtype = t0.dtype
    u = jax.random.uniform(key, (67,), dtype, minval=jnp.finfo(dtype).tiny)
    level = log_density(t0) + jnp.log(u[0])
    lo0 = t0 - width * u[1]
    n_left = jnp.floor(max_steps * u[2])

    def step_out(x: jax.Array, sign: float, limit: jax.Array) -> jax.Array:
        def inside(c: tuple) -> jax.Array:
            return (c[1] < limit) & (log_density(c[0]) > level)

        start = (x, jnp.zeros((), dtype))
        return lax.while_loop(inside, lambda c: (c[0] + sign * width, c[1] + 1), start)[0]

    lo = step_out(lo0, -1.0, n_left)
    hi = step_out(lo0 + width, 1.0, max_steps - 1 - n_left)

    def shrink(c: tuple) -> tuple:
        lo, hi, x, _, i = c
        x_new = lo + (hi - lo) * u[3 + i]
        ok = log_density(x_new) > level
        return (jnp.where(ok | (x_new >= t0), lo, x_new),
                jnp.where(ok | (x_new < t0), hi, x_new), jnp.where(ok, x_new, x), ok, i + 1)

    start = (lo, hi, t0, jnp.zeros((), bool), jnp.zeros((), jnp.int32))
    return lax.while_loop(lambda c: ~c[3] & (c[4] < 64), shrink, start)[2]
