"""Exact moves along the slow directions of the FM posterior: the scales of groups and scores.

On frappe (probit; docs/user_guide/mixing.md) the chains of the plain sweep were still
travelling after thousands of sweeps, along two kinds of direction:

- a group's scale: the weights of a group with many rarely seen features and their
  precision ``lambda_w[g]`` (likewise ``v[:, f]`` of a group and ``lambda_v[g, f]``) pin each
  other in the centred parameterisation. :func:`group_scales` draws ``t`` along ``(w_g,
  mu_w[g], lambda_w[g]) -> (e^t w_g, e^t mu_w[g], e^-2t lambda_w[g])``, which keeps the
  standardised weights fixed: the non-centred draw of the scale, interwoven with the centred
  Gibbs draws (ASIS, Yu and Meng 2011; a group move, Liu and Sabatti 2000). Given the
  working response and the rows' precisions its likelihood is a polynomial in ``r = e^t``
  (the score moves by ``(r - 1) A + (r^2 - 1) B``), so ``t`` is slice-sampled from five sums.
- a group's factor means against the intercept: :func:`factor_means` (a shear that keeps
  every score, :func:`~.shifts.shear_factor_means`).
- the scale of every score: :func:`score_scale` multiplies every score by ``s``
  (:func:`bayesfm.model.scaling.scale_scores`) and draws ``log s`` with the latent
  integrated out (parameter expansion, Liu and Wu 1999; the ordinal latent has its own).

:func:`group_scales` needs only the residual and the rows' precisions, :func:`score_scale`
only the latent's log likelihood at given scores: both serve every latent part alike.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from bayesfm.engines.gibbs.blocks import GibbsData
from bayesfm.engines.gibbs.mesh import ROWS, data_specs, on_rows_of_each_device, row_mesh
from bayesfm.engines.gibbs.terms import GibbsTerm, PlainTerm, entries
from bayesfm.engines.slice import slice_step
from bayesfm.model.priors import FMPriors
from bayesfm.model.scaling import group_line_log_prior, scale_log_prior, scale_scores

__all__ = ["MOVES", "GibbsMoves", "factor_means", "group_scales", "mixing_moves", "score_scale"]

Params = dict[str, jax.Array]


class GibbsMoves(NamedTuple):
    """Which mixing moves a sweep runs after its blocks (a static argument of the sweep).

    ``group_scales``: :func:`group_scales`; ``score_scale``: :func:`score_scale` (skipped for
    a latent with its own scale move); ``factor_means``: :func:`factor_means`.
    """

    group_scales: bool = False
    score_scale: bool = False
    factor_means: bool = False


#: The named move sets: ``"none"`` is the sweep of bayesfm 0.x before issue 14.
MOVES = {"none": GibbsMoves(), "groups": GibbsMoves(True, False),
         "scale": GibbsMoves(False, True), "means": GibbsMoves(False, False, True),
         "all": GibbsMoves(True, True, True)}


def mixing_moves(moves: str | GibbsMoves) -> GibbsMoves:
    """Return the :class:`GibbsMoves` named ``moves`` (or ``moves`` itself)."""
    if isinstance(moves, GibbsMoves):
        return moves
    if moves not in MOVES:
        raise ValueError(f"unknown moves {moves!r}; valid: {', '.join(MOVES)}")
    return MOVES[moves]


def _line_log_target(t: jax.Array, stats: jax.Array, lam: jax.Array, mu: jax.Array,
                     priors: FMPriors) -> jax.Array:
    """Log density of ``t`` on a group's scale line given the working response.

    ``stats = (sum pAA, sum pAB, sum pBB, sum peA, sum peB)`` of the score change
    ``(r - 1) A + (r^2 - 1) B``, ``r = e^t``, ``p`` the rows' precisions, ``e`` the residual.
    """
    d1, d2 = jnp.expm1(t), jnp.expm1(2.0 * t)
    saa, sab, sbb, sea, seb = stats
    ll = -0.5 * (d1 * d1 * saa + 2.0 * d1 * d2 * sab + d2 * d2 * sbb) + d1 * sea + d2 * seb
    out = ll + group_line_log_prior(t, lam, mu, priors)
    return jnp.where(jnp.isnan(out), -jnp.inf, out)


def _group_rows(column: jax.Array, data: GibbsData, n_groups: int) -> jax.Array:
    """``sum_{i in g} (x_ni column[i])^m`` for ``m = 1, 2``, every group and row: (2, G, N)."""
    out = jnp.zeros((2, n_groups, data.y.shape[0]), column.dtype)
    for bs in data.blocks:
        vals = entries(column[:, None], bs)[..., 0]
        vals = jnp.stack([vals, vals * vals])
        if bs.rows is None:  # a dense set: whole rows per block, summed over blocks by group
            out = out + jax.vmap(lambda v: jax.ops.segment_sum(v, bs.group, n_groups))(vals)
        else:
            grp = jnp.broadcast_to(bs.group[:, None], bs.slot.shape)
            out = out.at[:, grp, bs.rows].add(vals)
    return out


def group_scales(
    key: jax.Array, params: Params, e: jax.Array, q: jax.Array, data: GibbsData,
    term: GibbsTerm, prec: jax.Array, priors: FMPriors, mesh: Mesh | None = None,
) -> tuple[Params, jax.Array, jax.Array]:
    """Draw the scale of every group's ``w`` and of every factor of its ``v`` (module doc).

    ``e`` is the residual, ``prec`` the rows' precisions (a scalar or shape (N,)); returns
    the moved ``params``, residual and cache. Column ``c`` of ``theta = [w | v]`` moves the
    score by ``(r - 1) A`` with ``A`` the group's part of the score (``w``: ``a = sum_i x_ni
    w_i``; ``v``: ``A = a (q_f - a)``, ``B = (a^2 - sum_i x_ni^2 v_if^2) / 2``). The factor
    columns need the plain FM's cache (:class:`~.terms.PlainTerm` and its degree-3 subclass,
    whose ``v`` they move); other terms get the weight scales only. ``mesh``: the mesh the
    rows are split over (default: one device).
    """
    n_groups, gof = term.n_groups, data.group_of_feature
    prec = prec if data.weight is None else prec * data.weight
    plain = isinstance(term, PlainTerm)
    theta, lam, mu = (jnp.concatenate([params[a][:, None], *([params[b]] if plain else [])], 1)
                      for a, b in (("w", "v"), ("lambda_w", "lambda_v"), ("mu_w", "mu_v")))

    group_rows = on_rows_of_each_device(
        partial(_group_rows, n_groups=n_groups), row_mesh(1) if mesh is None else mesh,
        (P(), data_specs(data)), P(None, None, ROWS))

    def column(c: jax.Array, carry: tuple) -> tuple:
        theta, lam, mu, e, q = carry
        part, sq = group_rows(theta[:, c], data)  # (G, N) each
        f = jnp.maximum(c - 1, 0)

        def group(g: jax.Array, carry: tuple) -> tuple:
            theta, lam, mu, e, q_f = carry  # part and sq of other groups do not move
            a = part[g]
            big_a = jnp.where(c == 0, a, a * (q_f - a))
            big_b = jnp.where(c == 0, 0.0, 0.5 * (a * a - sq[g]))
            pa, pb = prec * big_a, prec * big_b
            stats = jnp.stack([jnp.sum(pa * big_a), jnp.sum(pa * big_b), jnp.sum(pb * big_b),
                               jnp.sum(pa * e), jnp.sum(pb * e)])
            t = slice_step(jax.random.fold_in(key, c * n_groups + g),
                           lambda x: _line_log_target(x, stats, lam[g, c], mu[g, c], priors),
                           jnp.zeros((), e.dtype))
            r = jnp.exp(t)
            theta = theta.at[:, c].set(jnp.where(gof == g, theta[:, c] * r, theta[:, c]))
            return (theta, lam.at[g, c].multiply(jnp.exp(-2.0 * t)), mu.at[g, c].multiply(r),
                    e - (r - 1.0) * big_a - (r * r - 1.0) * big_b, q_f + (r - 1.0) * a)

        start = (theta, lam, mu, e, q[f])
        theta, lam, mu, e, q_f = lax.fori_loop(0, n_groups, group, start)
        return theta, lam, mu, e, jnp.where(c == 0, q, q.at[f].set(q_f))

    theta, lam, mu, e, q = lax.fori_loop(0, theta.shape[1], column, (theta, lam, mu, e, q))
    out = {**params, "w": theta[:, 0], "lambda_w": lam[:, 0], "mu_w": mu[:, 0]}
    if plain:
        out.update(v=theta[:, 1:], lambda_v=lam[:, 1:], mu_v=mu[:, 1:])
    return out, e, q


def factor_means(key: jax.Array, params: Params, q: jax.Array, data: GibbsData,
                 term: GibbsTerm, priors: FMPriors) -> tuple[Params, jax.Array]:
    """Move every complete one-hot group's factor means against the intercept and weights.

    The term's :meth:`~.terms.GibbsTerm.mean_shear` (the plain FM's and the degree-3 term's
    :func:`~.shifts.shear_factor_means` on ``v``; none for other terms). The likelihood is
    flat along each line, so the residual stays; returns the moved ``params`` and cache.
    """
    noise = jax.random.normal(key, (term.n_groups, term.rank), q.dtype)
    return term.mean_shear(params, q, data, noise, priors)


def score_scale(key: jax.Array, state: Any, data: GibbsData, latent: Any, term: GibbsTerm,
                priors: FMPriors) -> Any:
    """Draw the scale of every score with the latent integrated out; see the module doc.

    The latent's log likelihood is read at the scaled scores by moving the residual (the
    working response stays, the scores move); the sweep redraws the latent next, from its
    conditional given the new scores, so the pair of steps is exact.
    """
    yhat = latent.yhat(state, data)

    def log_target(t: jax.Array) -> jax.Array:
        moved = state._replace(e=state.e - jnp.expm1(t) * yhat)
        out = (latent.log_likelihood(moved, data)
               + scale_log_prior(state.params, term.interaction, t, priors))
        return jnp.where(jnp.isnan(out), -jnp.inf, out)

    t = slice_step(key, log_target, jnp.zeros((), yhat.dtype))
    s = jnp.exp(t)
    params = {**state.params, **scale_scores(state.params, term.interaction, s)}
    return state._replace(params=params, e=state.e - (s - 1.0) * yhat,
                          q=term.scale_cache(state.q, s))
