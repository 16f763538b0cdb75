"""Exact translation and shear moves along the flat ridges of complete one-hot groups.

In a complete one-hot group (one feature of value 1 in every row), a constant moves between
the bias, the group's weights and its mean without changing any prediction; a group's factor
can shift against the other groups' weights the same way. Single-site updates cross these
ridges only slowly (the bias and the group means trade off, which left ``w0`` with R-hat far
above 1.01), so the sweep draws the position along each ridge from its exact conditional: a
valid Gibbs move (Liu and Sabatti 2000). Each function takes the state's ``params`` and
standard normal ``noise`` and returns the moved ``params`` (and the shift of the cached row
sums).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from bayesfm.engines.gibbs.blocks import GibbsData
from bayesfm.model.priors import FMPriors

__all__ = ["shear_factor_means", "shift_bias", "shift_factors", "shift_field_factors"]

Params = dict[str, jax.Array]


def shift_bias(params: Params, data: GibbsData, noise: jax.Array, priors: FMPriors) -> Params:
    """Exact draw along ``(w0 + c, w_i - c for i in g, mu_w[g] - c)`` for each shiftable group.

    The move leaves every prediction, and every ``w_i - mu_w[g]``, unchanged: only the priors
    of ``w0`` and ``mu_w[g]`` see ``c``, so its conditional is Normal with precision
    ``reg0 + gamma0 lambda_w[g]``.
    """
    gamma0, mu0, reg0 = priors.gamma0, priors.mu0, priors.reg0
    gof, lambda_w = data.group_of_feature, params["lambda_w"]

    def one_group(g: jax.Array, carry: tuple) -> tuple:
        w0, w, mu_w = carry
        prec = reg0 + gamma0 * lambda_w[g]
        mean = (gamma0 * lambda_w[g] * (mu_w[g] - mu0) - reg0 * w0) / prec
        c = jnp.where(data.shiftable[g], mean + noise[g] * lax.rsqrt(prec), 0.0)
        return w0 + c, jnp.where(gof == g, w - c, w), mu_w.at[g].add(-c)

    start = (params["w0"], params["w"], params["mu_w"])
    w0, w, mu_w = lax.fori_loop(0, lambda_w.shape[0], one_group, start)
    return {**params, "w0": w0, "w": w, "mu_w": mu_w}


def shift_factors(
    params: Params, data: GibbsData, noise: jax.Array, priors: FMPriors
) -> tuple[Params, jax.Array]:
    """Exact draw along ``(v_if + c for i in g, mu_v[g, f] + c, w_j - c v_jf for j not in g)``.

    For a complete one-hot group ``g`` every row has exactly one feature ``i`` of ``g`` with
    value 1, so shifting all ``v_if`` of the group by ``c`` adds ``c sum_j v_jf x_j`` (over the
    row's other features) to the score, which the ``w_j - c v_jf`` shear takes away again: the
    likelihood is flat along this line, and only the priors of ``mu_v[g, f]`` and of the other
    groups' ``w_j`` see ``c``. The map is a shear (Jacobian 1) forming a group in ``c``, so
    drawing ``c`` from its Normal conditional is exact. ``noise`` has shape ``(G, k)``; also
    returns the shift of every factor sum ``q[f, n]`` (the same for every row).
    """
    return _factor_shears(params, data, noise, priors, centred=False)


def shift_field_factors(
    params: Params, data: GibbsData, noise: jax.Array, priors: FMPriors
) -> tuple[Params, jax.Array]:
    """Exact draw along ``(v[i, h, f] + c for i in g, mu_v[g, h, f] + c, w_j - c v[j, g, f])``.

    The field-aware form of :func:`shift_factors`, for a complete one-hot group ``g``,
    another group ``h != g`` and factor ``f``, with ``j`` over the features of ``h``: every
    row has one feature ``i`` of ``g`` with value 1, which meets the row's features of ``h``
    through ``v[i, h] . v[j, g]``; shifting ``v[i, h, f]`` adds ``c sum_j x_j v[j, g, f]`` to
    the score and the shear of ``w_j`` takes it away, so only the priors of ``mu_v[g, h, f]``
    and of ``w_j`` see ``c`` and its conditional is Normal. Also returns the shift of every
    field-sum row of ``q``.
    """
    gamma0, mu0 = priors.gamma0, priors.mu0
    gof, lambda_v, v = data.group_of_feature, params["lambda_v"], params["v"]
    _, n_groups, rank = v.shape
    lam_j = params["lambda_w"][gof]
    dev_j = params["w"] - params["mu_w"][gof]

    def one(t: jax.Array, carry: tuple) -> tuple:
        v, mu_v, dev_j, q_shift = carry
        g, h, f = t // (n_groups * rank), (t // rank) % n_groups, t % rank
        partner = jnp.where(gof == h, v[:, g, f], 0.0)
        lam = gamma0 * lambda_v[g, h, f]
        prec = lam + jnp.sum(lam_j * partner * partner)
        mean = (lam * (mu0 - mu_v[g, h, f]) + jnp.sum(lam_j * partner * dev_j)) / prec
        c = jnp.where(data.shiftable[g] & (h != g), mean + noise[t] * lax.rsqrt(prec), 0.0)
        v = v.at[:, h, f].add(jnp.where(gof == g, c, 0.0))
        return v, mu_v.at[g, h, f].add(c), dev_j - c * partner, q_shift.at[t].add(c)

    start = (v, params["mu_v"], dev_j, jnp.zeros(lambda_v.size, v.dtype))
    v, mu_v, dev_j, q_shift = lax.fori_loop(0, lambda_v.size, one, start)
    return {**params, "w": dev_j + params["mu_w"][gof], "v": v, "mu_v": mu_v}, q_shift


def shear_factor_means(
    params: Params, data: GibbsData, noise: jax.Array, priors: FMPriors
) -> tuple[Params, jax.Array]:
    """Exact draw along the centred shear of group ``g``'s factor ``f`` (a mixing move).

    The line is ``v_if + c`` for ``i in g``, ``mu_v[g, f] + c``, ``w_j - c u_jf`` for every
    feature ``j`` of another group ``h``, and ``w0 - c m``, with ``u_jf = v_jf - mu_v[h, f]``
    when ``h`` is a complete one-hot group (else ``u_jf = v_jf``) and ``m`` the sum of
    ``mu_v[h, f]`` over the complete one-hot groups ``h != g``. For a complete one-hot ``g``
    the shift adds ``c sum_j x_nj v_jf`` to row ``n``'s score; the complete groups' part of
    it, ``c mu_v[h, f]`` per row, is the same for every row and ``w0`` takes it, the rest the
    weights: the likelihood is flat along the line. :func:`shift_factors` is the shear with
    ``u = v``: when the groups' factor means dominate the factors, its ``c`` is pinned by the
    thousands of weights that carry ``c v_jf``, while here they carry only the deviations
    ``c u_jf`` and the constant goes to the one intercept, so the groups' factor means can
    move against the intercept and the weights (the slow direction on frappe, docs
    user_guide/mixing.md). The map is a shear (Jacobian 1) forming a group in ``c`` (the
    shifts of ``w`` and ``w0`` depend only on the other groups' factors), and only the priors
    of ``mu_v[g, f]``, of the other groups' ``w_j`` and of ``w0`` see ``c``: its conditional
    is Normal and the draw exact (Liu and Sabatti 2000). ``noise`` has shape ``(G, k)``;
    also returns the shift of every factor sum ``q[f, n]`` (the same for every row).
    """
    return _factor_shears(params, data, noise, priors, centred=True)


def _factor_shears(
    params: Params, data: GibbsData, noise: jax.Array, priors: FMPriors, *, centred: bool
) -> tuple[Params, jax.Array]:
    """Draw the shears of every group and factor in turn.

    ``centred=False``: :func:`shift_factors` (``u = v``, ``w0`` stays); ``centred=True``:
    :func:`shear_factor_means`.
    """
    gamma0, mu0, reg0 = priors.gamma0, priors.mu0, priors.reg0
    gof, lambda_v, v = data.group_of_feature, params["lambda_v"], params["v"]
    n_groups, rank = lambda_v.shape
    lam_j = params["lambda_w"][gof]
    complete_j = data.shiftable[gof]
    dev_j = params["w"] - params["mu_w"][gof]

    def one(t: jax.Array, carry: tuple) -> tuple:
        v, mu_v, dev_j, w0, q_shift = carry
        g, f = t // rank, t % rank
        other = gof != g
        lam = gamma0 * lambda_v[g, f]
        if centred:
            u_f = jnp.where(other, v[:, f] - jnp.where(complete_j, mu_v[gof, f], 0.0), 0.0)
            m = jnp.sum(jnp.where((jnp.arange(n_groups) != g) & data.shiftable, mu_v[:, f], 0.0))
            prec = lam + jnp.sum(lam_j * u_f * u_f) + reg0 * m * m
            mean = lam * (mu0 - mu_v[g, f]) + jnp.sum(lam_j * u_f * dev_j) + reg0 * m * w0
        else:
            u_f = jnp.where(other, v[:, f], 0.0)
            prec = lam + jnp.sum(lam_j * u_f * u_f)
            mean = lam * (mu0 - mu_v[g, f]) + jnp.sum(lam_j * u_f * dev_j)
        c = jnp.where(data.shiftable[g], mean / prec + noise[g, f] * lax.rsqrt(prec), 0.0)
        v = v.at[:, f].add(jnp.where(other, 0.0, c))
        if centred:
            w0 = w0 - c * m
        return v, mu_v.at[g, f].add(c), dev_j - c * u_f, w0, q_shift.at[f].add(c)

    start = (v, params["mu_v"], dev_j, params["w0"], jnp.zeros(rank, v.dtype))
    v, mu_v, dev_j, w0, q_shift = lax.fori_loop(0, lambda_v.size, one, start)
    out = {**params, "w0": w0, "w": dev_j + params["mu_w"][gof], "v": v, "mu_v": mu_v}
    return out, q_shift
