"""The exact top-N by an upper posterior quantile, without an order statistic for every pair.

The ``r``-th largest of a pair's ``S`` draws is at least ``t`` exactly when at least ``r``
draws are at least ``t``: a count, which needs no sort. So, for a chunk of contexts:

1. rank every candidate by a cheap proxy (mean + 1.28 sd, from running sums over the draws)
   and take the exact order statistic of the best ``m`` only; ``t`` is the ``n``-th largest
   of those (a lower bound of the ``n``-th largest over all candidates);
2. count, for every candidate, the draws at or above ``t`` (minus a rounding slack): the
   candidates with at least ``r`` such draws hold the true top ``n``;
3. take the exact order statistic of those (at most ``m2``; a chunk with more falls back to
   the order statistic of every pair) and their top ``n``.

Measured on ML-100K (943 users x 1,682 items, 200 draws): 18 s for the order statistic of
every pair (XLA's CPU top-k), about 3 s this way; the result is the same (tests compare both).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["ucb_top_n"]

#: Rounding slack of the count step, relative to ``1 + |t|`` (float32 scores: ~1e-7).
SLACK = 1e-4


def _eta(w0: jax.Array, a_c: jax.Array, q_c: jax.Array, a_i: jax.Array, q_i: jax.Array,
         s: jax.Array) -> jax.Array:
    return w0[s] + a_c[s][:, None] + a_i[s][None, :] + q_c[s] @ q_i[s].T


def _exact(w0: jax.Array, a_c: jax.Array, q_c: jax.Array, a_i: jax.Array, q_i: jax.Array,
           cand: jax.Array, order: int) -> jax.Array:
    """Return the ``order``-th largest draw of the pairs (row, ``cand[row, j]``)."""
    eta = (w0[:, None, None] + a_c[:, :, None] + a_i[:, cand]
           + jnp.einsum("sck,scmk->scm", q_c, q_i[:, cand]))
    return jax.lax.top_k(jnp.moveaxis(eta, 0, -1), order)[0][..., -1]


@partial(jax.jit, static_argnames=("order", "n", "m", "m2"))
def _screened(w0: jax.Array, a_c: jax.Array, q_c: jax.Array, a_i: jax.Array, q_i: jax.Array,
              allowed: jax.Array, *, order: int, n: int, m: int, m2: int
              ) -> tuple[jax.Array, jax.Array, jax.Array]:
    n_draws = w0.shape[0]
    draws = jnp.arange(n_draws)

    def moments(c: tuple[jax.Array, jax.Array], s: jax.Array) -> tuple[Any, None]:
        eta = _eta(w0, a_c, q_c, a_i, q_i, s)
        return (c[0] + eta, c[1] + eta * eta), None

    zero = jnp.zeros(allowed.shape, q_c.dtype)
    (s1, s2), _ = jax.lax.scan(moments, (zero, zero), draws)
    mean = s1 / n_draws
    proxy = jnp.where(allowed, mean + 1.28 * jnp.sqrt(jnp.maximum(s2 / n_draws - mean**2, 0.0)),
                      -jnp.inf)
    _, cand = jax.lax.top_k(proxy, m)
    first = jnp.where(jnp.take_along_axis(allowed, cand, 1),
                      _exact(w0, a_c, q_c, a_i, q_i, cand, order), -jnp.inf)
    t = jax.lax.top_k(first, n)[0][:, -1]
    t = t - SLACK * (1.0 + jnp.abs(t))

    def count(c: jax.Array, s: jax.Array) -> tuple[jax.Array, None]:
        return c + (_eta(w0, a_c, q_c, a_i, q_i, s) >= t[:, None]), None

    counts, _ = jax.lax.scan(count, jnp.zeros(allowed.shape, jnp.int32), draws)
    contention = allowed & (counts >= order)
    _, cand2 = jax.lax.top_k(jnp.where(contention, proxy, -jnp.inf), m2)
    second = jnp.where(jnp.take_along_axis(contention, cand2, 1),
                       _exact(w0, a_c, q_c, a_i, q_i, cand2, order), -jnp.inf)
    crit, pos = jax.lax.top_k(second, n)
    return crit, jnp.take_along_axis(cand2, pos, 1), jnp.sum(contention, axis=1)


def ucb_top_n(w0: jax.Array, a_c: jax.Array, q_c: jax.Array, a_i: jax.Array, q_i: jax.Array,
              allowed: jax.Array, *, order: int, n: int, full: Any
              ) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n`` per context row by the ``order``-th largest draw of the score (eta scale).

    ``full()`` computes the same from every pair's order statistic: the fallback for a chunk
    where more than ``m2`` candidates stay in contention (ties, or rows with fewer than ``n``
    allowed candidates).
    """
    n_cand = allowed.shape[1]
    m, m2 = min(n_cand, max(2 * n, 32)), min(n_cand, max(4 * n, 64))
    crit, top, in_contention = _screened(w0, a_c, q_c, a_i, q_i, allowed, order=order, n=n,
                                         m=m, m2=m2)
    if int(jnp.max(in_contention)) > m2:
        return full()
    return np.asarray(crit), np.asarray(top)
