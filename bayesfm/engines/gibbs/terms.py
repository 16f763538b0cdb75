"""Exact blocked Gibbs sampling of the field-aware FM (DESIGN section 3 with the FFM's ``h``).

The field-aware score is linear in every parameter. For ``v[i, h, f]`` (feature ``i`` of group
``g``, other group ``h``, factor ``f``)::

    h_n = x_ni * (S[h, g, f]_n - [h == g] v[i, h, f] x_ni),
    S[g, h, f]_n = sum_{j in row n, g(j) = g} x_nj v[j, h, f]

so the sweep caches the residual ``e`` and the field sums ``S`` (as ``q``, shape
``(G * G * k, N)``, row ``(g * G + h) * k + f``), and draws the parameters in the blocks of
:mod:`bayesfm.engines.gibbs_blocks` (features of a block never share a row, so their
conditionals are independent). A sweep draws ``w0``, then column ``c`` of
``theta = [w | v.reshape(p, G k)]`` block after block for ``c = 0 .. G k``, then the
Normal-Gamma hyperparameters per (group, other group, factor) and ``tau``, and the exact
translation and shear moves along the flat ridges of complete one-hot groups
(:func:`bayesfm.engines.gibbs._shift_bias` and :func:`_shift_field_factors`).

The chain state is a :class:`bayesfm.engines.gibbs.GibbsState` whose ``v``, ``mu_v``,
``lambda_v`` and ``q`` have the field-aware shapes, so the plain FM's kernel adapter and its
tracked log likelihood serve unchanged.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.infer import MCMC
from numpyro.util import is_prng_key

from bayesfm.engines.gibbs import (
    BlockSet,
    GibbsData,
    GibbsState,
    _add_rows,
    _check_likelihood,
    _conditional_draw,
    _gamma,
    _noise,
    _normal_gamma_moments,
    _on_rows,
    _shift_bias,
    _truncnorm_residual,
)
from bayesfm.engines.gibbs_kernel import FMGibbs, FMGibbsState, each_chain
from bayesfm.model import FMPriors

__all__ = ["FFMGibbs", "ffm_init", "ffm_predict_cache", "ffm_step", "run_gibbs_ffm"]


def _entries(table: jax.Array, bs: BlockSet) -> jax.Array:
    """``table[i] * x`` at every entry of a block set: ``(B, R, C)`` for a ``(p, C)`` table."""
    local = table.at[bs.features].get(mode="fill", fill_value=0)  # (B, F, C)
    return jnp.take_along_axis(local, bs.slot[..., None], axis=1) * bs.values[..., None]


def ffm_predict_cache(
    w0: jax.Array, w: jax.Array, v: jax.Array, data: GibbsData
) -> tuple[jax.Array, jax.Array]:
    """Scores ``yhat`` (N,) and field sums ``q`` (G * G * k, N) of a field-aware FM.

    Parameters
    ----------
    w0, w : arrays of shape () and (p,)
    v : array of shape (p, G, k)
    data : GibbsData

    Returns
    -------
    yhat : array of shape (N,)
    q : array of shape (G * G * k, N)
        ``q[(g * G + h) * k + f, n] = sum_{i in row n, g(i) = g} x_ni v[i, h, f]``.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from bayesfm.engines.gibbs import prepare_data
    >>> from bayesfm.engines.gibbs_ffm import ffm_predict_cache
    >>> d = prepare_data(np.array([[0, 1]]), np.ones((1, 2)), [0, 1], [0.0], n_groups=2)
    >>> v = jnp.arange(8.0).reshape(2, 2, 2)
    >>> yhat, q = ffm_predict_cache(0.5, jnp.zeros(2), v, d)
    >>> float(yhat[0]), q.shape  # 0.5 + <v[0, 1], v[1, 0]> = 0.5 + 2*4 + 3*5
    (23.5, (8, 1))

    """
    n_rows = data.y.shape[0]
    p, n_groups, rank = v.shape
    table = v.reshape(p, n_groups * rank)
    q = jnp.zeros((n_groups, n_groups * rank, n_rows), v.dtype)
    self_term = jnp.zeros(n_rows, v.dtype)
    linear = jnp.zeros(n_rows, v.dtype)
    for bs in data.blocks:
        vals = _entries(table, bs)  # (B, R, G k)
        rows = bs.rows
        if rows is None:  # a dense set: entry n is row n
            rows = jnp.broadcast_to(jnp.arange(bs.slot.shape[1]), bs.slot.shape)
        grp = jnp.broadcast_to(bs.group[:, None], bs.slot.shape)
        q = q.at[grp, :, rows].add(vals)
        own = vals.reshape(*vals.shape[:2], n_groups, rank)
        own = jnp.take_along_axis(own, grp[..., None, None], axis=2)[..., 0, :]
        self_term = self_term.at[rows].add(jnp.sum(own * own, axis=-1))
        linear = linear.at[rows].add(_entries(w[:, None], bs)[..., 0])
    q4 = q.reshape(n_groups, n_groups, rank, n_rows)
    both = jnp.einsum("ghfn,hgfn->n", q4, q4)
    yhat = w0 + linear + 0.5 * (both - self_term)
    return yhat, q.reshape(n_groups * n_groups * rank, n_rows)


@partial(jax.jit, static_argnames=("rank", "n_groups", "likelihood", "priors"))
def ffm_init(
    rng_key: jax.Array,
    data: GibbsData,
    *,
    rank: int,
    n_groups: int,
    likelihood: str = "gaussian",
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    init_scale: float | jax.Array = 0.1,
    params: dict[str, jax.Array] | None = None,
) -> GibbsState:
    """Start a field-aware chain at zero factors of prior scale ``init_scale`` (as ``init``).

    Arguments as :func:`bayesfm.engines.gibbs.init`; ``params`` may hold ``v`` of shape
    ``(p, G, k)`` and ``mu_v``, ``lambda_v`` of shape ``(G, G, k)``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import prepare_data
    >>> from bayesfm.engines.gibbs_ffm import ffm_init
    >>> d = prepare_data(np.array([[0, 2], [1, 3]]), np.ones((2, 2)), [0, 0, 1, 1],
    ...                  [1.0, -1.0], n_groups=2)
    >>> s = ffm_init(jax.random.key(0), d, rank=3, n_groups=2)
    >>> s.v.shape, s.q.shape, s.mu_v.shape
    ((4, 2, 3), (12, 2), (2, 2, 3))

    """
    _check_likelihood(likelihood)
    dtype = data.y.dtype
    p, n_rows = data.group_of_feature.shape[0], data.y.shape[0]
    start = dict(
        w0=jnp.zeros((), dtype), w=jnp.zeros(p, dtype), v=jnp.zeros((p, n_groups, rank), dtype),
        mu_w=jnp.zeros(n_groups, dtype), lambda_w=jnp.ones(n_groups, dtype),
        mu_v=jnp.zeros((n_groups, n_groups, rank), dtype),
        lambda_v=jnp.full((n_groups, n_groups, rank), 1.0 / init_scale**2, dtype),
        tau=jnp.ones((), dtype),
    )  # fmt: skip
    yhat = jnp.zeros(n_rows, dtype)
    q = jnp.zeros((n_groups * n_groups * rank, n_rows), dtype)
    if params is not None:
        params = {k: a for k, a in params.items() if k != "log_likelihood"}
        unknown = set(params) - set(start)
        if unknown:
            raise ValueError(f"unknown sites in params: {sorted(unknown)}; valid: {list(start)}")
        start.update({k: jnp.asarray(a, dtype).reshape(start[k].shape) for k, a in params.items()})
        yhat, q = ffm_predict_cache(start["w0"], start["w"], start["v"], data)
    z = None
    if likelihood == "probit":
        z = yhat
        start["tau"] = jnp.ones((), dtype)
    e = data.y - yhat if z is None else z - yhat
    return GibbsState(**start, e=e.astype(dtype), q=q, rng_key=rng_key, z=z)


def _ffm_sweep(
    state: GibbsState, data: GibbsData, likelihood: str, priors: FMPriors
) -> GibbsState:
    """One full sweep of the field-aware sampler (the untraced body of :func:`ffm_step`)."""
    n_rows = data.y.shape[0]
    p, n_groups, rank = state.v.shape
    n_cols = 1 + n_groups * rank
    dtype = state.e.dtype
    weight, e, z, tau = data.weight, state.e, state.z, state.tau
    n_hyper = n_groups * n_cols + 1
    set_sizes = [n_cols * bs.features.size for bs in data.blocks]
    n_shift = n_groups + n_groups * n_groups * rank
    sizes = (1, n_shift, n_hyper, *set_sizes)
    key, k_noise, k_gamma = jax.random.split(state.rng_key, 3)
    n_uniform = n_hyper + (n_rows if likelihood == "probit" else 0)
    normal, uniform = _noise(k_noise, sum(sizes), n_uniform, dtype)
    nz_w0, nz_shift, nz_mu, *nz_sets = jnp.split(normal, list(itertools.accumulate(sizes))[:-1])
    u_boost, u_z = uniform[:n_hyper], uniform[n_hyper:]

    if likelihood == "probit":
        assert z is not None  # the probit state carries its latent utilities
        yhat = z - e
        e = _truncnorm_residual(u_z, yhat, data.y)
        z = yhat + e

    s_sum = jnp.asarray(n_rows, dtype) if weight is None else weight.sum()
    se_sum = e.sum() if weight is None else (weight * e).sum()
    w0 = _conditional_draw(nz_w0[0], state.w0, s_sum, se_sum, jnp.asarray(priors.reg0, dtype),
                           jnp.zeros((), dtype), tau)
    e = e - (w0 - state.w0)

    # Column 0 of theta is w (h_n = x_ni); column 1 + h k + f is v[:, h, f].
    theta = jnp.concatenate([state.w[:, None], state.v.reshape(p, -1)], axis=1)
    prior_lam = jnp.concatenate([state.lambda_w[:, None], state.lambda_v.reshape(n_groups, -1)],
                                axis=1)
    prior_mu = jnp.concatenate([state.mu_w[:, None], state.mu_v.reshape(n_groups, -1)], axis=1)

    def block(b: jax.Array, carry: tuple, c: jax.Array, bs: BlockSet, nz: jax.Array) -> tuple:
        theta, e, q = carry
        is_w = c == 0
        col = jnp.maximum(c - 1, 0)
        other, f = col // rank, col % rank
        g = bs.group[b]
        rows = None if bs.rows is None else bs.rows[b]
        slot, x, feats = bs.slot[b], bs.values[b], bs.features[b]
        sx = x if bs.wvalues is None else bs.wvalues[b]
        old = theta.at[feats, c].get(mode="fill", fill_value=0)
        # The partner sum S[other, g, f] pairs with v[i, other, f]; it holds feature i's own
        # term only when other == g (a same-group pair), which h must leave out.
        partner = lax.dynamic_index_in_dim(q, (other * n_groups + g) * rank + f, 0, False)
        own_term = jnp.where(other == g, old[slot] * x, 0.0)
        rest = jnp.where(is_w, 1.0, _on_rows(partner, rows) - own_term)
        h = x * rest
        sh = sx * rest
        stats = jax.ops.segment_sum(jnp.stack([sh * h, sh * _on_rows(e, rows)], -1), slot,
                                    feats.shape[0])
        new = _conditional_draw(nz[c, b], old, stats[:, 0], stats[:, 1], prior_lam[g, c],
                                prior_mu[g, c], tau)
        delta = (new - old)[slot]
        e = _add_rows(e, rows, -delta * h)
        mine = (g * n_groups + other) * rank + f
        row = lax.dynamic_index_in_dim(q, mine, 0, False)
        row = _add_rows(row, rows, jnp.where(is_w, 0.0, delta * x))
        q = lax.dynamic_update_index_in_dim(q, row, mine, 0)
        return theta.at[feats, c].set(new, mode="drop"), e, q

    def column(c: jax.Array, carry: tuple) -> tuple:
        for bs, nz in zip(data.blocks, nz_sets, strict=True):
            nz = nz.reshape(n_cols, *bs.features.shape)
            body = partial(block, c=c, bs=bs, nz=nz)
            carry = lax.fori_loop(0, bs.features.shape[0], body, carry)
        return carry

    theta, e, q = lax.fori_loop(0, n_cols, column, (theta, e, state.q))
    w, v_flat = theta[:, 0], theta[:, 1:]

    gof, size = data.group_of_feature, data.group_size
    m_w, n_w, a_w, r_w = _normal_gamma_moments(w, gof, size, priors)
    m_v, n_v, a_v, r_v = _normal_gamma_moments(v_flat, gof, size, priors)
    sse = jnp.sum(e * e) if weight is None else jnp.sum(weight * e * e)
    a_tau = (priors.a0 + 0.5 * s_sum).astype(dtype)[None]
    shapes = jnp.concatenate([a_w, a_v.ravel(), a_tau])
    rates = jnp.concatenate([r_w, r_v.ravel(), (priors.b0 + 0.5 * sse)[None]])
    lam = _gamma(k_gamma, shapes, u_boost) / rates
    mu = jnp.concatenate([m_w, m_v.ravel(), jnp.zeros(1, dtype)])
    mu = mu + nz_mu * lax.rsqrt(jnp.concatenate([n_w, n_v.ravel(), jnp.ones(1, dtype)]) * lam)
    lambda_w, mu_w = lam[:n_groups], mu[:n_groups]
    lambda_v = lam[n_groups:-1].reshape(n_groups, n_groups, rank)
    mu_v = mu[n_groups:-1].reshape(n_groups, n_groups, rank)
    if likelihood == "gaussian":
        tau = lam[-1]
    w0, w, mu_w = _shift_bias(w0, w, mu_w, lambda_w, data, nz_shift[:n_groups], priors)
    w, v, mu_v, q_shift = _shift_field_factors(w, v_flat.reshape(p, n_groups, rank), mu_w,
                                               lambda_w, mu_v, lambda_v, data,
                                               nz_shift[n_groups:], priors)
    # Every row holds exactly one feature of a shifted group: its field sums move by c.
    q = q + q_shift[:, None]
    return GibbsState(w0, w, v, mu_w, lambda_w, mu_v, lambda_v, tau, e, q, key, z)


def _shift_field_factors(
    w: jax.Array,
    v: jax.Array,
    mu_w: jax.Array,
    lambda_w: jax.Array,
    mu_v: jax.Array,
    lambda_v: jax.Array,
    data: GibbsData,
    noise: jax.Array,
    priors: FMPriors,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Exact draw along ``(v[i, h, f] + c for i in g, mu_v[g, h, f] + c, w_j - c v[j, g, f])``.

    The field-aware form of :func:`bayesfm.engines.gibbs._shift_factors`, for a complete
    one-hot group ``g``, another group ``h != g`` and factor ``f``, with ``j`` over the
    features of ``h``: every row has one feature ``i`` of ``g`` with value 1, which meets the
    row's features of ``h`` through ``v[i, h] . v[j, g]``; shifting ``v[i, h, f]`` adds
    ``c sum_j x_j v[j, g, f]`` to the score and the shear of ``w_j`` takes it away, so only the
    priors of ``mu_v[g, h, f]`` and of ``w_j`` see ``c`` and its conditional is Normal. Returns
    the new ``w, v, mu_v`` and the shift of every field-sum row of ``q``.
    """
    gamma0, mu0 = priors.gamma0, priors.mu0
    gof = data.group_of_feature
    _, n_groups, rank = v.shape
    lam_j = lambda_w[gof]
    dev_j = w - mu_w[gof]

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

    start = (v, mu_v, dev_j, jnp.zeros(mu_v.size, v.dtype))
    v, mu_v, dev_j, q_shift = lax.fori_loop(0, mu_v.size, one, start)
    return dev_j + mu_w[gof], v, mu_v, q_shift


@partial(jax.jit, static_argnames=("likelihood", "priors"))
def ffm_step(
    state: GibbsState,
    data: GibbsData,
    likelihood: str = "gaussian",
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
) -> GibbsState:
    """One exact blocked Gibbs sweep of the field-aware FM (jit-compiled once per shape).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import prepare_data
    >>> from bayesfm.engines.gibbs_ffm import ffm_init, ffm_step
    >>> d = prepare_data(np.array([[0, 2], [1, 3]]), np.ones((2, 2)), [0, 0, 1, 1],
    ...                  [1.0, -1.0], n_groups=2)
    >>> s = ffm_step(ffm_init(jax.random.key(0), d, rank=2, n_groups=2), d)
    >>> s.v.shape, bool(s.tau > 0)
    ((4, 2, 2), True)

    """
    _check_likelihood(likelihood)
    if likelihood == "probit" and data.weight is not None:
        raise ValueError("sample_weight is not supported by the probit Gibbs sampler")
    return _ffm_sweep(state, data, likelihood, priors)


class FFMGibbs(FMGibbs):
    """Exact blocked Gibbs sampling of the field-aware FM as a NumPyro MCMC kernel.

    Arguments as :class:`bayesfm.engines.gibbs_kernel.FMGibbs`; draws ``v`` of shape
    ``(p, G, k)`` and ``mu_v``, ``lambda_v`` of shape ``(G, G, k)``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import MCMC
    >>> from bayesfm.engines.gibbs_ffm import FFMGibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> kernel = FFMGibbs((idx, val, np.array([0, 0, 1, 1])), np.array([1.0, 2.0, 3.0]), rank=2)
    >>> mcmc = MCMC(kernel, num_warmup=5, num_samples=10, progress_bar=False)
    >>> mcmc.run(jax.random.key(0))
    >>> mcmc.get_samples()["v"].shape
    (10, 4, 2, 2)

    """

    def init(
        self, rng_key: jax.Array, num_warmup: int, init_params: Any, model_args: Any,
        model_kwargs: Any,
    ) -> FMGibbsState:
        """Start one chain, or a batch of chains when ``rng_key`` is a batch of keys."""
        def start(key: jax.Array, params: dict | None) -> GibbsState:
            return ffm_init(key, self.data, rank=self.rank, n_groups=self.n_groups,
                            likelihood=self.likelihood, priors=self.priors,
                            init_scale=self.init_scale, params=params)

        self._vectorized = not is_prng_key(rng_key)
        if self._vectorized:
            chain = jax.vmap(start)(rng_key, init_params)
        else:
            chain = start(rng_key, init_params)
        return FMGibbsState(chain, self.data, chain.rng_key)

    def sample(self, state: FMGibbsState, model_args: Any, model_kwargs: Any) -> FMGibbsState:
        """Run one sweep of every chain."""
        def sweep(chain: GibbsState, data: GibbsData) -> GibbsState:
            return ffm_step(chain, data, likelihood=self.likelihood, priors=self.priors)

        chain = state.chain._replace(rng_key=state.rng_key)
        if self._vectorized:
            chain = each_chain(sweep, chain, state.data)
        else:
            chain = sweep(chain, state.data)
        return FMGibbsState(chain, state.data, chain.rng_key)


def run_gibbs_ffm(
    indices: Any,
    values: Any,
    group_of_feature: Any,
    y: Any,
    *,
    n_groups: int,
    rank: int,
    likelihood: str = "gaussian",
    sample_weight: Any = None,
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    num_warmup: int = 100,
    num_samples: int = 200,
    num_chains: int = 1,
    thinning: int = 1,
    rng_key: jax.Array,
    progress_bar: bool = True,
    chain_method: str = "vectorized",
    init_scale: float = 0.1,
) -> dict[str, np.ndarray]:
    """Draw from the field-aware FM posterior with the exact blocked Gibbs sampler.

    Arguments and return value as :func:`bayesfm.engines.gibbs_kernel.run_gibbs`, with the
    field-aware shapes of ``v``, ``mu_v`` and ``lambda_v``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs_ffm import run_gibbs_ffm
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> draws = run_gibbs_ffm(idx, val, [0, 0, 1, 1], [1.0, 2.0, 3.0], n_groups=2, rank=2,
    ...                       num_warmup=5, num_samples=10, num_chains=2,
    ...                       rng_key=jax.random.key(0), progress_bar=False)
    >>> draws["v"].shape, draws["mu_v"].shape
    ((2, 10, 4, 2, 2), (2, 10, 2, 2, 2))

    """
    kernel = FFMGibbs((indices, values, group_of_feature), y, rank=rank, n_groups=n_groups,
                      likelihood=likelihood, priors=priors, sample_weight=sample_weight,
                      init_scale=init_scale)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                thinning=thinning, chain_method=chain_method, progress_bar=progress_bar)
    mcmc.run(rng_key)
    return {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
