"""The exact blocked Gibbs sweep of every FM: one pure functional core (DESIGN section 3).

Every parameter ``theta`` enters the score linearly, ``yhat_n = g_n + theta * h_n``, so its full
conditional is Normal. The sweep caches the residual ``e = y - yhat`` (``z - yhat`` on a
latent scale) and the term's row sums ``q``, and draws in order: the likelihood's latent step
(:mod:`.latents`); ``w0``, then column after column of ``theta = [w | factor matrices]``, each
block of a column in one vectorised exact draw (a block's features never share a row), ``h``
and the cache updates from the term's part (:mod:`.terms`); the features of any relation
blocks, each ``(w_j, v_j)`` jointly from the sub-rows' sums (:mod:`.relations`); the
Normal-Gamma hyperparameters and ``tau`` in one batched Gamma draw; the ridge moves
(:mod:`.shifts`). ``init`` and ``step``
are pure and jit-compiled with the parts as static arguments; the data enter as an argument,
never as closed-over constants, so one compiled sweep serves every draw of the same shapes.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from bayesfm.engines.gibbs.blocks import BlockSet, GibbsData
from bayesfm.engines.gibbs.latents import GibbsLatent
from bayesfm.engines.gibbs.mesh import (
    ROWS,
    data_specs,
    on_rows_of_each_device,
    row_mesh,
    sum_over_devices,
)
from bayesfm.engines.gibbs.mixing import GibbsMoves, factor_means, group_scales, score_scale
from bayesfm.engines.gibbs.relations import add_relations, relation_columns, relation_noise_size
from bayesfm.engines.gibbs.shifts import shift_bias
from bayesfm.engines.gibbs.terms import GibbsTerm, add_rows, on_rows
from bayesfm.engines.variates import gamma, noise
from bayesfm.model.priors import FMPriors

__all__ = ["GibbsState", "column_draws", "conditional_draw", "init", "normal_gamma_moments",
           "step"]


class GibbsState(NamedTuple):
    """State of one chain of the blocked Gibbs sampler.

    ``params`` holds the model's sites, named and shaped as in :func:`bayesfm.model.fm_model`;
    ``e`` the cached residual ``y - yhat`` (``z - yhat`` on a latent scale), shape (N,); ``q``
    the term's cached row sums, shape (C, N), each row contiguous; ``latent`` the likelihood's
    latent state (``z``; the ordinal sampler's proposal scales).
    """

    params: dict[str, jax.Array]
    e: jax.Array
    q: jax.Array
    latent: dict[str, jax.Array]
    rng_key: jax.Array


_NOT_SITES = ("log_likelihood", "acceptance_rate", "eta_ref")  # the kernel's derived draws


@partial(jax.jit, static_argnames=("latent", "term", "priors", "mesh"))
def init(
    rng_key: jax.Array, data: GibbsData, *, latent: GibbsLatent, term: GibbsTerm,
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    init_scale: float | jax.Array = 0.1, num_warmup: int | jax.Array = 0,
    params: dict[str, jax.Array] | None = None, mesh: Mesh | None = None,
) -> GibbsState:
    """Start a chain at ``w0 = w = 0`` and zero factors of prior precision ``1/init_scale^2``.

    The first sweep then draws every factor at scale about ``init_scale`` (the first block
    straight from ``Normal(0, init_scale^2)``), which is libFM's and myFM's start, but the
    caches are trivial (``q = 0``), so this function compiles to almost nothing. The
    hyperparameters are redrawn from their conditionals at the end of the first sweep.

    ``latent`` and ``term`` are the likelihood's and the interaction term's parts
    (:func:`~bayesfm.engines.gibbs.latent_for`, :func:`~bayesfm.engines.gibbs.term_for`);
    ``data`` comes from :func:`~bayesfm.engines.gibbs.prepare_data`; ``rng_key`` drives every
    later sweep; ``init_scale`` is the factors' scale after the first sweep (libFM and myFM
    start at 0.1); ``num_warmup`` ends the adaptation of latent parts that tune proposals;
    ``params`` (model sites, e.g. the last draw of an earlier run) replaces the start, and
    the caches are then computed from it; ``mesh`` is the device mesh the data's rows are
    split over (:func:`~bayesfm.engines.gibbs.prepare_data`'s; default: one device).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import init, latent_for, prepare_data, step, term_for
    >>> from bayesfm.model import get_interaction, get_likelihood
    >>> d = prepare_data(np.array([[0, 2], [1, 3]]), np.ones((2, 2)), [0, 0, 1, 1],
    ...                  [1.0, -1.0], n_groups=2)
    >>> parts = dict(latent=latent_for(get_likelihood("gaussian")),
    ...              term=term_for(get_interaction("fm"), n_groups=2, rank=3))
    >>> s = init(jax.random.key(0), d, **parts)
    >>> for _ in range(3):
    ...     s = step(s, d, **parts)
    >>> s.params["v"].shape, s.q.shape, s.params["mu_v"].shape, bool(s.params["tau"] > 0)
    ((4, 3), (3, 2), (2, 3), True)
    """
    dtype = data.y.dtype
    p, n_rows = data.group_of_feature.shape[0], data.y.shape[0]
    n_groups = term.n_groups
    start: dict[str, jax.Array] = {
        "w0": jnp.zeros((), dtype), "w": jnp.zeros(p, dtype),
        "mu_w": jnp.zeros(n_groups, dtype), "lambda_w": jnp.ones(n_groups, dtype),
        **term.start_params(p, dtype, init_scale),
        **latent.start_params(data),
    }  # fmt: skip
    given = {k: a for k, a in (params or {}).items() if k not in _NOT_SITES}
    unknown = set(given) - set(start)
    if unknown:
        raise ValueError(f"unknown sites in params: {sorted(unknown)}; valid: {list(start)}")
    start.update({k: jnp.asarray(a, dtype).reshape(start[k].shape) for k, a in given.items()})
    if set(given) - set(latent.sites):
        on_devices = on_rows_of_each_device(term.predict_cache, _mesh(mesh),
                                            (P(), data_specs(data)), (P(ROWS), P(None, ROWS)))
        yhat, q = on_devices(start, data)
        if data.relations:
            theta = jnp.concatenate([start["w"][:, None], term.columns(start)], axis=1)
            yhat, q = add_relations(theta, data.relations, yhat, q)
    else:
        yhat = jnp.broadcast_to(start["w0"], (n_rows,)).astype(dtype)
        q = jnp.zeros((term.n_cache(), n_rows), dtype)
    e, lat = latent.start(data, yhat, jnp.asarray(num_warmup, jnp.int32))
    return GibbsState(start, e.astype(dtype), q, lat, rng_key)


def _mesh(mesh: Mesh | None) -> Mesh:
    return row_mesh(1) if mesh is None else mesh


def conditional_draw(noise: jax.Array, old: jax.Array, sh2: jax.Array, she: jax.Array,
                     lam: jax.Array, mu: jax.Array, tau: jax.Array) -> jax.Array:
    """Draw ``theta ~ Normal(mu*, 1/P)``, ``P = lam + tau sh2`` (DESIGN section 3).

    ``mu* P = lam mu + tau (she + old sh2)``, with ``sh2 = sum s h^2`` and ``she = sum s h e``
    (``e`` the residual at the old value); ``noise`` is standard normal.
    """
    prec = lam + tau * sh2
    mean = (lam * mu + tau * (she + old * sh2)) / prec
    return mean + noise * lax.rsqrt(prec)


def normal_gamma_moments(
    x: jax.Array, group: jax.Array, size: jax.Array, priors: FMPriors
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Posterior ``(mean, n_eff, shape, rate)`` of a group's Normal-Gamma given members ``x``.

    ``lambda ~ Gamma(shape, rate)``, then ``mu | lambda ~ Normal(mean, 1/(n_eff lambda))``.
    """
    a0, b0, gamma0, mu0, _ = priors
    n = size if x.ndim == 1 else size[:, None]
    n_groups = size.shape[0]
    mean = (gamma0 * mu0 + jax.ops.segment_sum(x, group, n_groups)) / (gamma0 + n)
    ss = jax.ops.segment_sum((x - mean[group]) ** 2, group, n_groups)
    rate = b0 + 0.5 * (ss + gamma0 * (mean - mu0) ** 2)
    shape = jnp.broadcast_to(a0 + 0.5 * n, rate.shape).astype(x.dtype)
    return mean, jnp.broadcast_to(gamma0 + n, rate.shape).astype(x.dtype), shape, rate


def _columns(
    theta: jax.Array, e: jax.Array, q: jax.Array, data: GibbsData, prior_lam: jax.Array,
    prior_mu: jax.Array, tau: jax.Array, nz_sets: list[jax.Array], *, term: GibbsTerm,
    latent: GibbsLatent,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Draw every column of ``theta = [w | factors]``, block after block, in order.

    Runs on one device's rows (local row numbers); the per-feature sums of every block are
    summed over the devices, so every device draws the same values from the same noise.
    """
    n_cols = theta.shape[1]
    data = latent.weigh_entries(data)

    def block(b: jax.Array, carry: tuple, c: jax.Array, bs: BlockSet, nz: jax.Array) -> tuple:
        theta, e, cache = carry
        rows = None if bs.rows is None else bs.rows[b]
        slot, x, feats, g = bs.slot[b], bs.values[b], bs.features[b], bs.group[b]
        sx = x if bs.wvalues is None else bs.wvalues[b]
        old = theta.at[feats, c].get(mode="fill", fill_value=0)
        a = old[slot] * x  # the feature's own term in the row sums
        rest = term.rest(c, g, cache, rows, a)
        h = x * rest
        sh = sx * rest
        stats = sum_over_devices(jax.ops.segment_sum(
            jnp.stack([sh * h, sh * on_rows(e, rows)], -1), slot, feats.shape[0]))
        new = conditional_draw(nz[c, b], old, stats[:, 0], stats[:, 1], prior_lam[g, c],
                               prior_mu[g, c], tau)
        delta = (new - old)[slot]
        new_a = new[slot] * x
        e = add_rows(e, rows, -term.residual_change(delta, h, rest, a, new_a))
        cache = term.update(c, g, cache, rows, x, delta, a, new_a)
        return theta.at[feats, c].set(new, mode="drop"), e, cache

    def column(c: jax.Array, carry: tuple) -> tuple:
        theta, e, q = carry
        cache = term.open_column(c, q)
        for bs, nz in zip(data.blocks, nz_sets, strict=True):
            nz = nz.reshape(n_cols, *bs.features.shape)
            body = partial(block, c=c, bs=bs, nz=nz)
            theta, e, cache = lax.fori_loop(0, bs.features.shape[0], body, (theta, e, cache))
        return theta, e, term.close_column(c, q, cache)

    return lax.fori_loop(0, n_cols, column, (theta, e, q))


def column_draws(data: GibbsData, term: GibbsTerm, latent: GibbsLatent, mesh: Mesh) -> Any:
    """Return the block draws of every column on ``mesh`` (``data``'s rows split over it).

    Returns ``f(theta, e, q, data, prior_lam, prior_mu, tau, noise) -> (theta, e, q)``,
    ``noise`` one standard normal array per block set; ``data`` fixes only the layout.
    """
    return on_rows_of_each_device(
        partial(_columns, term=term, latent=latent), mesh,
        (P(), P(ROWS), P(None, ROWS), data_specs(data), P(), P(), P(), P()),
        (P(), P(ROWS), P(None, ROWS)))


def _sweep(
    state: GibbsState, data: GibbsData, latent: GibbsLatent, term: GibbsTerm, priors: FMPriors,
    moves: GibbsMoves, mesh: Mesh,
) -> GibbsState:
    """One full Gibbs sweep (the untraced body of :func:`step`)."""
    if moves.score_scale and not latent.scales_itself:  # before the latent is redrawn
        key, k_scale = jax.random.split(state.rng_key)
        state = score_scale(k_scale, state._replace(rng_key=key), data, latent, term, priors)
    state = latent.begin(state, data, term, priors)
    params, lat = dict(state.params), state.latent
    n_rows = data.y.shape[0]
    n_groups = term.n_groups
    dtype = state.e.dtype
    factors = term.columns(params)
    n_cols = 1 + factors.shape[1]
    n_hyper = n_groups * n_cols + 1
    set_sizes = [n_cols * bs.features.size for bs in data.blocks]
    sizes = (1, term.n_shift(), n_hyper, *set_sizes)
    key, k_noise, k_gamma, *k_move = jax.random.split(state.rng_key,
                                                      4 if moves.group_scales else 3)
    normal, uniform = noise(k_noise, sum(sizes), n_hyper + latent.n_uniform(n_rows), dtype)
    nz_w0, nz_shift, nz_mu, *nz_sets = jnp.split(normal, list(itertools.accumulate(sizes))[:-1])
    u_boost, u_latent = uniform[:n_hyper], uniform[n_hyper:]
    e, lat = latent.augment(u_latent, state.e, lat, data)
    data = latent.reweight(data, lat)  # per-row precisions: frequency weights, or omega
    weight, tau = data.weight, latent.precision(params, lat)

    # w0: h_n = 1.
    s_sum = jnp.asarray(n_rows, dtype) if weight is None else weight.sum()
    se_sum = e.sum() if weight is None else (weight * e).sum()
    w0 = conditional_draw(nz_w0[0], params["w0"], s_sum, se_sum, priors.reg0, 0.0, tau)
    e = e - (w0 - params["w0"])

    # Column 0 of theta is w (h_n = x_ni), then the factor matrices' columns; one loop body
    # for all keeps the compiled program small.
    theta = jnp.concatenate([params["w"][:, None], factors], axis=1)
    prior_lam = jnp.concatenate([params["lambda_w"][:, None], term.columns(params, "lambda_")],
                                axis=1)
    prior_mu = jnp.concatenate([params["mu_w"][:, None], term.columns(params, "mu_")], axis=1)
    columns = column_draws(data, term, latent, mesh)
    theta, e, q = columns(theta, e, state.q, data, prior_lam, prior_mu, tau, nz_sets)
    if data.relations:  # their own key: the row blocks' streams stay as without relations
        nz_rel = jax.random.normal(jax.random.fold_in(k_noise, 1),
                                   (relation_noise_size(data.relations, n_cols),), dtype)
        theta, e, q = relation_columns(theta, e, q, weight, data.relations,
                                       data.group_of_feature, prior_lam, prior_mu, tau, nz_rel)
    w, cols = theta[:, 0], theta[:, 1:]

    # Hyperparameters and tau are independent given (w, factors, e): one batched Gamma draw.
    gof, size = data.group_of_feature, data.group_size
    m_w, n_w, a_w, r_w = normal_gamma_moments(w, gof, size, priors)
    m_v, n_v, a_v, r_v = normal_gamma_moments(cols, gof, size, priors)
    sse = jnp.sum(e * e) if weight is None else jnp.sum(weight * e * e)
    # Frequency weights (as in bayesfm.model.fm_model): s_n in both sums.
    a_tau = (priors.a0 + 0.5 * s_sum).astype(dtype)[None]
    shapes = jnp.concatenate([a_w, a_v.ravel(), a_tau])
    rates = jnp.concatenate([r_w, r_v.ravel(), (priors.b0 + 0.5 * sse)[None]])
    lam = gamma(k_gamma, shapes, u_boost) / rates
    mu = jnp.concatenate([m_w, m_v.ravel(), jnp.zeros(1, dtype)])
    mu = mu + nz_mu * lax.rsqrt(jnp.concatenate([n_w, n_v.ravel(), jnp.ones(1, dtype)]) * lam)
    params.update(w0=w0, w=w, lambda_w=lam[:n_groups], mu_w=mu[:n_groups])
    params.update(term.from_columns(cols))
    params.update(term.from_columns(lam[n_groups:-1].reshape(n_groups, -1), "lambda_"))
    params.update(term.from_columns(mu[n_groups:-1].reshape(n_groups, -1), "mu_"))
    params = latent.conjugate(params, lam[-1])

    params = shift_bias(params, data, nz_shift[:n_groups], priors)
    params, q = term.moves(params, q, data, nz_shift[n_groups:], priors)
    if moves.factor_means:  # its own key, so the other moves' streams stay as they were
        params, q = factor_means(jax.random.fold_in(k_gamma, 1), params, q, data, term, priors)
    if moves.group_scales:
        params, e, q = group_scales(k_move[0], params, e, q, data, term,
                                    latent.precision(params, lat), priors, mesh)
    return GibbsState(params, e, q, lat, key)


@partial(jax.jit, static_argnames=("latent", "term", "priors", "moves", "mesh"))
def step(
    state: GibbsState, data: GibbsData, *, latent: GibbsLatent, term: GibbsTerm,
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    moves: GibbsMoves = GibbsMoves(),  # noqa: B008
    mesh: Mesh | None = None,
) -> GibbsState:
    """One exact blocked Gibbs sweep over every parameter (jit-compiled once per shape).

    ``data`` is an argument, so the compiled sweep does not embed the data; the parts,
    ``priors``, the mixing ``moves`` (:mod:`.mixing`) and the ``mesh`` are static, as in
    :func:`init` (whose example runs a few steps).
    """
    latent.check(data)
    return _sweep(state, data, latent, term, priors, moves, _mesh(mesh))
