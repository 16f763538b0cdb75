"""What a chain keeps: every draw, or running moments plus a few kept draws (any kernel).

``"draws"`` keeps every (thinned) draw of every site (``draws x p x k`` floats per chain for
``v`` alone). ``"moments"`` keeps draws of the low-dimensional sites and of the scores
``eta_ref`` of a few training rows, running means and variances of ``w`` and every factor
matrix (Welford's update, in the state), and at most ``max_kept`` evenly spread draws of what
a prediction needs. Nothing here feeds back into the sampler: a seed gives the same chain in
every mode. Engine-level (it knows only site arrays); the Gibbs kernel is its user.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["STORES", "KeepPlan", "Moments", "collect", "keep", "keep_plan", "start", "welford"]

#: Memory modes: keep every (thinned) draw, or running moments plus a few draws.
STORES = ("draws", "moments")


class Moments(NamedTuple):
    """Running moments and the kept prediction draws of one chain (or a batch of chains).

    ``sweep`` counts the sweeps (warm-up included), ``count`` those folded into the moments;
    ``mean`` and ``m2`` are Welford's running mean and sum of squared deviations of ``w`` and
    every factor matrix; ``kept`` has ``K + 1`` slots per prediction site (``w0, w``, the
    factor matrices, the likelihood's prediction sites): ``K`` draws in sweep order and a
    last, scratch slot; ``ref_rows`` are the rows whose scores are recorded (``eta_ref``).
    """

    sweep: jax.Array
    count: jax.Array
    mean: dict[str, jax.Array]
    m2: dict[str, jax.Array]
    kept: dict[str, jax.Array]
    ref_rows: jax.Array


class KeepPlan(NamedTuple):
    """Which post-warmup sweeps are kept: ``first + m * stride``, ``m < n_keep``."""

    stride: int
    first: int
    n_keep: int


def keep_plan(num_samples: int, thinning: int, max_kept: int) -> KeepPlan:
    """Which post-warmup sweeps the ``"moments"`` mode keeps for predictions.

    ``MCMC`` with ``thinning`` t stores the sweeps ``T - 1, T - 1 - t, ...`` (counted from 0
    after warm-up, ``T = num_samples``; ``T // t`` of them). The kept sweeps are every
    ``c``-th of those, counted back from the last, with the smallest ``c`` that keeps at most
    ``max_kept``: ``first + m * stride`` for ``m = 0 .. n_keep - 1``, ``stride = c t``. They
    are evenly spread, end with the last sweep, and are a subset of the stored draws.

    Examples
    --------
    >>> from bayesfm.engines.gibbs import keep_plan
    >>> tuple(keep_plan(1000, 1, 100)), tuple(keep_plan(25, 3, 3)), tuple(keep_plan(50, 1, 100))
    ((10, 9, 100), (9, 6, 3), (1, 0, 50))
    """
    n_thinned = max(num_samples // thinning, 1)
    every = -(-n_thinned // max_kept)
    stride = every * thinning
    n_keep = (n_thinned - 1) // every + 1
    return KeepPlan(stride, num_samples - 1 - (n_keep - 1) * stride, n_keep)


def start(params: dict[str, jax.Array], running: tuple[str, ...], kept: tuple[str, ...],
          n_keep: int, ref_rows: np.ndarray, batch: tuple[int, ...]) -> Moments:
    """Zero accumulators, batched like the chains (``params`` carry the batch axes).

    The kept-draw buffers have ``n_keep + 1`` slots: the last is scratch, written by every
    sweep that is not kept, so that one in-place ``dynamic_update_slice`` per sweep serves
    both cases (a masked scatter, or a select, would rewrite the whole buffer).
    """
    nb = len(batch)
    dtype = params["w"].dtype

    def zeros(name: str, *lead: int) -> jax.Array:
        a = params[name]
        return jnp.zeros((*batch, *lead, *a.shape[nb:]), dtype)

    ref = jnp.broadcast_to(jnp.asarray(ref_rows, jnp.int32), (*batch, len(ref_rows)))
    return Moments(
        jnp.zeros(batch, jnp.int32), jnp.zeros(batch, dtype),
        {n: zeros(n) for n in running}, {n: zeros(n) for n in running},
        {n: zeros(n, n_keep + 1) for n in kept}, ref,
    )


def welford(m: Moments, params: dict[str, jax.Array], num_warmup: int) -> Moments:
    """Fold one chain's new draw into its running moments (post-warmup sweeps only)."""
    active = m.sweep >= num_warmup
    count = m.count + active.astype(m.count.dtype)
    div = jnp.maximum(count, 1.0)
    mean, m2 = {}, {}
    for name in m.mean:
        x = params[name]
        delta = x - m.mean[name]
        new_mean = m.mean[name] + delta / div
        new_m2 = m.m2[name] + delta * (x - new_mean)
        mean[name] = jnp.where(active, new_mean, m.mean[name])
        m2[name] = jnp.where(active, new_m2, m.m2[name])
    return m._replace(sweep=m.sweep + 1, count=count, mean=mean, m2=m2)


def keep(m: Moments, params: dict[str, jax.Array], sweep: jax.Array, axis: int,
         plan: KeepPlan, num_warmup: int) -> Moments:
    """Write the draw into its slot if ``sweep`` is a kept one, else into the scratch slot.

    ``sweep`` is the same for every chain (they advance together), so the slot is one scalar
    and the write one in-place update even for a batch of chains (``axis=1``).
    """
    since = sweep - num_warmup - plan.first
    hit = (since >= 0) & (since % plan.stride == 0)
    # Sweeps past the plan (a finished chain continued) also go to the scratch slot.
    slot = jnp.minimum(jnp.where(hit, since // plan.stride, plan.n_keep), plan.n_keep)

    def put(buf: jax.Array, x: jax.Array) -> jax.Array:
        return lax.dynamic_update_index_in_dim(buf, x.astype(buf.dtype), slot, axis)

    return m._replace(kept={n: put(buf, params[n]) for n, buf in m.kept.items()})


def collect(m: Moments, num_chains: int, plan: KeepPlan) -> tuple[dict, dict]:
    """Return the running moments and the kept draws of a finished run, as NumPy arrays.

    Parameters
    ----------
    m : Moments
        ``MCMC.last_state.moments``.
    num_chains : int
        ``MCMC``'s ``num_chains`` (one chain has no chain axis in the state).
    plan : KeepPlan

    Returns
    -------
    posterior_moments : dict
        ``n_sweeps`` (chain,) and ``<name>_mean, <name>_var`` (chain, ...) of ``w`` and every
        factor matrix; population variances (divisor ``n_sweeps``).
    prediction_draws : dict
        The kept draws ``(chain, kept, ...)`` and ``draw``: their post-warmup sweep numbers.
    """
    def lead(a: Any) -> np.ndarray:
        return np.asarray(a)[None] if num_chains == 1 else np.asarray(a)

    count = lead(m.count)
    stats: dict[str, np.ndarray] = {"n_sweeps": count.astype(np.int64)}
    for name in m.mean:
        m2 = lead(m.m2[name])
        div = np.maximum(count, 1).astype(m2.dtype).reshape(-1, *([1] * (m2.ndim - 1)))
        stats[f"{name}_mean"] = lead(m.mean[name])
        stats[f"{name}_var"] = m2 / div
    kept = {n: lead(buf)[:, : plan.n_keep] for n, buf in m.kept.items()}
    kept["draw"] = plan.first + plan.stride * np.arange(plan.n_keep)
    return stats, kept
