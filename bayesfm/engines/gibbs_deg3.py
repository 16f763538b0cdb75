"""Exact blocked Gibbs sampling of the degree-3 FM (DESIGN section 3 with the order-3 ``h``).

The degree-3 score (:mod:`bayesfm.model_variants`) is the plain FM plus the order-3 ANOVA
kernel over its own factor matrix ``v3``; it is linear in every parameter. ``w0``, ``w`` and
``v`` keep the plain FM's ``h`` (``v3`` is a separate matrix). For ``v3[i, f]``::

    h_n = x_ni * A2_n,   A2_n = ((S_fn - x_ni v3_if)^2 - (Q_fn - x_ni^2 v3_if^2)) / 2,
    S_fn = sum_j x_nj v3_jf,   Q_fn = sum_j x_nj^2 v3_jf^2

(``A2`` is the order-2 kernel of factor ``f`` over the row's other features). The sweep caches
the residual ``e`` and, per row, the factor sums ``q[f]`` of ``v`` and ``S_f``, ``Q_f`` of
``v3`` (one ``(3k, N)`` array), and updates them after every block draw. A sweep draws ``w0``,
then column ``c`` of ``theta = [w | v | v3]`` block after block for ``c = 0 .. 2k`` (features
of a block never share a row, so their conditionals are independent:
:mod:`bayesfm.engines.gibbs_blocks`), then the Normal-Gamma hyperparameters of ``w``, ``v``
and ``v3`` per (group, factor) and ``tau``, and the exact translation and shear moves of the
plain sampler along the flat ridges of complete one-hot groups that remain flat here.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from numpyro.infer import MCMC
from numpyro.util import is_prng_key

from bayesfm.engines.gibbs import (
    BlockSet,
    GibbsData,
    _add_rows,
    _check_likelihood,
    _conditional_draw,
    _gamma,
    _noise,
    _normal_gamma_moments,
    _on_rows,
    _shift_bias,
    _shift_factors,
    _truncnorm_residual,
)
from bayesfm.engines.gibbs_ffm import _entries
from bayesfm.engines.gibbs_kernel import FMGibbs, FMGibbsState, each_chain
from bayesfm.model import FMPriors

__all__ = [
    "Deg3Gibbs",
    "Deg3State",
    "deg3_init",
    "deg3_predict_cache",
    "deg3_step",
    "run_gibbs_deg3",
]


class Deg3State(NamedTuple):
    """State of one chain of the degree-3 sampler.

    Attributes
    ----------
    w0, w, v, mu_w, lambda_w, mu_v, lambda_v, tau, e, rng_key, z
        As in :class:`bayesfm.engines.gibbs.GibbsState`.
    q : array of shape (3k, N)
        Cached row sums: ``q[f] = sum_i x_ni v_if``, ``q[k + f] = S_f = sum_i x_ni v3_if``
        and ``q[2k + f] = Q_f = sum_i x_ni^2 v3_if^2``.
    v3 : array of shape (p, k)
        Factors of the order-3 term.
    mu_v3, lambda_v3 : arrays of shape (G, k)
        Their mean and precision per group and factor.

    """

    w0: jax.Array
    w: jax.Array
    v: jax.Array
    mu_w: jax.Array
    lambda_w: jax.Array
    mu_v: jax.Array
    lambda_v: jax.Array
    tau: jax.Array
    e: jax.Array
    q: jax.Array
    rng_key: jax.Array
    z: jax.Array | None
    v3: jax.Array
    mu_v3: jax.Array
    lambda_v3: jax.Array

    #: Sites beyond the plain FM's that the kernel reports (read by ``FMGibbsState.sites``).
    extra_sites = ("v3", "mu_v3", "lambda_v3")


def _row_power_sums(table: jax.Array, data: GibbsData, powers: tuple[int, ...]) -> list:
    """``sum_i (x_ni table[i, c])^m`` for every row ``n``, column ``c`` and ``m`` in ``powers``."""
    n_rows = data.y.shape[0]
    out = [jnp.zeros((n_rows, table.shape[1]), table.dtype) for _ in powers]
    for bs in data.blocks:
        vals = _entries(table, bs)  # (B, R, C)
        rows = bs.rows
        if rows is None:  # a dense set: entry n is row n
            rows = jnp.broadcast_to(jnp.arange(bs.slot.shape[1]), bs.slot.shape)
        out = [acc.at[rows].add(vals**m) for acc, m in zip(out, powers, strict=True)]
    return out


def deg3_predict_cache(
    w0: jax.Array, w: jax.Array, v: jax.Array, v3: jax.Array, data: GibbsData
) -> tuple[jax.Array, jax.Array]:
    """Scores ``yhat`` (N,) and the row sums ``q`` (3k, N) of a degree-3 FM.

    Parameters
    ----------
    w0, w : arrays of shape () and (p,)
    v, v3 : arrays of shape (p, k)
    data : GibbsData

    Returns
    -------
    yhat : array of shape (N,)
    q : array of shape (3k, N)
        Rows ``f``: factor sums of ``v``; ``k + f``: ``S_f``; ``2k + f``: ``Q_f`` (see
        :class:`Deg3State`).

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from bayesfm.engines.gibbs import prepare_data
    >>> from bayesfm.engines.gibbs_deg3 import deg3_predict_cache
    >>> d = prepare_data(np.array([[0, 1, 2]]), np.ones((1, 3)), [0, 1, 2], [0.0], n_groups=3)
    >>> v3 = jnp.array([[1.0], [2.0], [3.0]])
    >>> yhat, q = deg3_predict_cache(0.5, jnp.zeros(3), jnp.zeros((3, 1)), v3, d)
    >>> float(yhat[0]), q.shape  # 0.5 + 1 * 2 * 3
    (6.5, (3, 1))

    """
    s1, s2 = _row_power_sums(jnp.concatenate([w[:, None], v], axis=1), data, (1, 2))
    p1, p2, p3 = _row_power_sums(v3, data, (1, 2, 3))
    linear, q = s1[:, 0], s1[:, 1:]
    pairwise = 0.5 * jnp.sum(q * q - s2[:, 1:], axis=1)
    # e3 of the a_if = x_ni v3_if by Newton's identities (as model_variants.anova3).
    cubic = jnp.sum(p1 * p1 * p1 - 3.0 * p1 * p2 + 2.0 * p3, axis=1) / 6.0
    yhat = w0 + linear + pairwise + cubic
    return yhat, jnp.concatenate([q.T, p1.T, p2.T], axis=0)


@partial(jax.jit, static_argnames=("rank", "n_groups", "likelihood", "priors"))
def deg3_init(
    rng_key: jax.Array,
    data: GibbsData,
    *,
    rank: int,
    n_groups: int,
    likelihood: str = "gaussian",
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    init_scale: float | jax.Array = 0.1,
    params: dict[str, jax.Array] | None = None,
) -> Deg3State:
    """Start a degree-3 chain at zero factors of prior scale ``init_scale`` (as ``init``).

    Arguments as :func:`bayesfm.engines.gibbs.init`; ``params`` may also hold ``v3`` of shape
    ``(p, k)`` and ``mu_v3``, ``lambda_v3`` of shape ``(G, k)``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import prepare_data
    >>> from bayesfm.engines.gibbs_deg3 import deg3_init
    >>> d = prepare_data(np.array([[0, 2], [1, 3]]), np.ones((2, 2)), [0, 0, 1, 1],
    ...                  [1.0, -1.0], n_groups=2)
    >>> s = deg3_init(jax.random.key(0), d, rank=3, n_groups=2)
    >>> s.v3.shape, s.q.shape, s.mu_v3.shape
    ((4, 3), (9, 2), (2, 3))

    """
    _check_likelihood(likelihood)
    dtype = data.y.dtype
    p, n_rows = data.group_of_feature.shape[0], data.y.shape[0]
    start = dict(
        w0=jnp.zeros((), dtype), w=jnp.zeros(p, dtype), v=jnp.zeros((p, rank), dtype),
        mu_w=jnp.zeros(n_groups, dtype), lambda_w=jnp.ones(n_groups, dtype),
        mu_v=jnp.zeros((n_groups, rank), dtype),
        lambda_v=jnp.full((n_groups, rank), 1.0 / init_scale**2, dtype),
        tau=jnp.ones((), dtype), v3=jnp.zeros((p, rank), dtype),
        mu_v3=jnp.zeros((n_groups, rank), dtype),
        lambda_v3=jnp.full((n_groups, rank), 1.0 / init_scale**2, dtype),
    )  # fmt: skip
    yhat, q = jnp.zeros(n_rows, dtype), jnp.zeros((3 * rank, n_rows), dtype)
    if params is not None:
        params = {k: a for k, a in params.items() if k != "log_likelihood"}
        unknown = set(params) - set(start)
        if unknown:
            raise ValueError(f"unknown sites in params: {sorted(unknown)}; valid: {list(start)}")
        start.update({k: jnp.asarray(a, dtype).reshape(start[k].shape) for k, a in params.items()})
        yhat, q = deg3_predict_cache(start["w0"], start["w"], start["v"], start["v3"], data)
    z = None
    if likelihood == "probit":
        z = yhat  # any start is valid: the first sweep redraws z given yhat
        start["tau"] = jnp.ones((), dtype)
    e = data.y - yhat if z is None else z - yhat
    return Deg3State(**start, e=e.astype(dtype), q=q, rng_key=rng_key, z=z)


def _deg3_sweep(state: Deg3State, data: GibbsData, likelihood: str, priors: FMPriors) -> Deg3State:
    """One full sweep of the degree-3 sampler (the untraced body of :func:`deg3_step`)."""
    n_rows = data.y.shape[0]
    n_groups, rank = state.mu_v.shape
    n_cols = 1 + 2 * rank
    dtype = state.e.dtype
    weight, e, z, tau = data.weight, state.e, state.z, state.tau
    n_hyper = n_groups * n_cols + 1
    set_sizes = [n_cols * bs.features.size for bs in data.blocks]
    sizes = (1, n_groups * (rank + 1), n_hyper, *set_sizes)
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

    theta = jnp.concatenate([state.w[:, None], state.v, state.v3], axis=1)
    prior_lam = jnp.concatenate([state.lambda_w[:, None], state.lambda_v, state.lambda_v3], 1)
    prior_mu = jnp.concatenate([state.mu_w[:, None], state.mu_v, state.mu_v3], axis=1)
    theta, e, q = _draw_columns(theta, e, state.q, data, prior_lam, prior_mu, tau,
                                nz_sets, jnp.arange(n_cols))
    w, v, v3 = theta[:, 0], theta[:, 1 : 1 + rank], theta[:, 1 + rank :]

    gof, size = data.group_of_feature, data.group_size
    m_w, n_w, a_w, r_w = _normal_gamma_moments(w, gof, size, priors)
    m_v, n_v, a_v, r_v = _normal_gamma_moments(theta[:, 1:], gof, size, priors)  # v and v3
    sse = jnp.sum(e * e) if weight is None else jnp.sum(weight * e * e)
    a_tau = (priors.a0 + 0.5 * s_sum).astype(dtype)[None]
    shapes = jnp.concatenate([a_w, a_v.ravel(), a_tau])
    rates = jnp.concatenate([r_w, r_v.ravel(), (priors.b0 + 0.5 * sse)[None]])
    lam = _gamma(k_gamma, shapes, u_boost) / rates
    mu = jnp.concatenate([m_w, m_v.ravel(), jnp.zeros(1, dtype)])
    mu = mu + nz_mu * lax.rsqrt(jnp.concatenate([n_w, n_v.ravel(), jnp.ones(1, dtype)]) * lam)
    lambda_w, mu_w = lam[:n_groups], mu[:n_groups]
    lam_f = lam[n_groups:-1].reshape(n_groups, 2 * rank)
    mu_f = mu[n_groups:-1].reshape(n_groups, 2 * rank)
    lambda_v, lambda_v3 = lam_f[:, :rank], lam_f[:, rank:]
    mu_v, mu_v3 = mu_f[:, :rank], mu_f[:, rank:]
    if likelihood == "gaussian":
        tau = lam[-1]
    # Ridge moves of complete one-hot groups (Liu and Sabatti 2000). The translation
    # (w0 + c, w_g - c) and the shear (v_gf + c, w_j - c v_jf) touch neither v3 nor the order-3
    # term, and their score changes cancel as in the plain FM, so they stay exact. The analogue
    # for v3 (v3_gf + c) would add c * (order-2 kernel of factor f over the row's other
    # features, with the v3 factors) to every score; no shear of w or v takes that away
    # (it is a pairwise term in v3's factors, not a function of v's rank-k inner products), so
    # its line is not flat and the move would not be an exact Gibbs step: it is left out.
    w0, w, mu_w = _shift_bias(w0, w, mu_w, lambda_w, data, nz_shift[:n_groups], priors)
    w, v, mu_v, q_shift = _shift_factors(w, v, mu_w, lambda_w, mu_v, lambda_v, data,
                                         nz_shift[n_groups:].reshape(n_groups, rank), priors)
    # Every row holds one feature of each shifted group, so each q[f, n] moves by the same sum.
    q = q.at[:rank].add(q_shift[:, None])
    return Deg3State(w0, w, v, mu_w, lambda_w, mu_v, lambda_v, tau, e, q, key, z, v3, mu_v3,
                     lambda_v3)


def _draw_columns(
    theta: jax.Array,
    e: jax.Array,
    q: jax.Array,
    data: GibbsData,
    prior_lam: jax.Array,
    prior_mu: jax.Array,
    tau: jax.Array,
    noise: list[jax.Array],
    cols: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Draw the columns ``cols`` of ``theta = [w | v | v3]``, block after block, in order.

    Every draw is exact given the others and the caches ``e`` and ``q`` (see
    :class:`Deg3State`) are updated after it. ``noise`` holds one standard normal array of
    shape ``(1 + 2k) * F * B`` per block set (entry ``[c, b, slot]`` drives column ``c`` of
    block ``b``): zero noise gives the conditional means, which the tests compare with a
    brute-force conditional of the dense model.
    """
    rank = (theta.shape[1] - 1) // 2

    def block(b: jax.Array, carry: tuple, c: jax.Array, bs: BlockSet, nz: jax.Array) -> tuple:
        theta, e, r1, r2 = carry
        is_w, is_v3 = c == 0, c > rank
        rows = None if bs.rows is None else bs.rows[b]
        slot, x, feats, g = bs.slot[b], bs.values[b], bs.features[b], bs.group[b]
        sx = x if bs.wvalues is None else bs.wvalues[b]
        old = theta.at[feats, c].get(mode="fill", fill_value=0)
        a = old[slot] * x  # this feature's own term in the row sums
        s_rest = _on_rows(r1, rows) - a  # q_f (v) or S_f (v3) without feature i
        a2 = 0.5 * (s_rest * s_rest - (_on_rows(r2, rows) - a * a))
        rest = jnp.where(is_w, 1.0, jnp.where(is_v3, a2, s_rest))
        h = x * rest
        sh = sx * rest
        stats = jax.ops.segment_sum(jnp.stack([sh * h, sh * _on_rows(e, rows)], -1), slot,
                                    feats.shape[0])
        new = _conditional_draw(nz[c, b], old, stats[:, 0], stats[:, 1], prior_lam[g, c],
                                prior_mu[g, c], tau)
        new_x = new[slot] * x
        e = _add_rows(e, rows, -(new_x - a) * rest)
        r1 = _add_rows(r1, rows, jnp.where(is_w, 0.0, new_x - a))
        r2 = _add_rows(r2, rows, jnp.where(is_v3, new_x * new_x - a * a, 0.0))
        return theta.at[feats, c].set(new, mode="drop"), e, r1, r2

    def column(t: jax.Array, carry: tuple) -> tuple:
        theta, e, q = carry
        c = cols[t]
        f3 = jnp.clip(c - 1 - rank, 0, rank - 1)
        # Row of the linear sum (q_f for v, S_f for v3) and of Q_f (read for v3 only; the
        # w and v columns write their rows back unchanged).
        i1 = jnp.where(c > rank, rank + f3, jnp.maximum(c - 1, 0))
        i2 = 2 * rank + f3
        r1 = lax.dynamic_index_in_dim(q, i1, 0, keepdims=False)
        r2 = lax.dynamic_index_in_dim(q, i2, 0, keepdims=False)
        for bs, nz in zip(data.blocks, noise, strict=True):
            nz = nz.reshape(1 + 2 * rank, *bs.features.shape)
            body = partial(block, c=c, bs=bs, nz=nz)
            theta, e, r1, r2 = lax.fori_loop(0, bs.features.shape[0], body, (theta, e, r1, r2))
        q = lax.dynamic_update_index_in_dim(q, r1, i1, 0)
        return theta, e, lax.dynamic_update_index_in_dim(q, r2, i2, 0)

    return lax.fori_loop(0, cols.shape[0], column, (theta, e, q))


@partial(jax.jit, static_argnames=("likelihood", "priors"))
def deg3_step(
    state: Deg3State,
    data: GibbsData,
    likelihood: str = "gaussian",
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
) -> Deg3State:
    """One exact blocked Gibbs sweep of the degree-3 FM (jit-compiled once per shape).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import prepare_data
    >>> from bayesfm.engines.gibbs_deg3 import deg3_init, deg3_step
    >>> d = prepare_data(np.array([[0, 2], [1, 3]]), np.ones((2, 2)), [0, 0, 1, 1],
    ...                  [1.0, -1.0], n_groups=2)
    >>> s = deg3_step(deg3_init(jax.random.key(0), d, rank=2, n_groups=2), d)
    >>> s.v3.shape, bool(s.tau > 0)
    ((4, 2), True)

    """
    _check_likelihood(likelihood)
    if likelihood == "probit" and data.weight is not None:
        raise ValueError("sample_weight is not supported by the probit Gibbs sampler")
    return _deg3_sweep(state, data, likelihood, priors)


class Deg3Gibbs(FMGibbs):
    """Exact blocked Gibbs sampling of the degree-3 FM as a NumPyro MCMC kernel.

    Arguments as :class:`bayesfm.engines.gibbs_kernel.FMGibbs` (``store="draws"`` only);
    draws also ``v3`` of shape ``(p, k)`` and ``mu_v3``, ``lambda_v3`` of shape ``(G, k)``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import MCMC
    >>> from bayesfm.engines.gibbs_deg3 import Deg3Gibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> kernel = Deg3Gibbs((idx, val, np.array([0, 0, 1, 1])), np.array([1.0, 2.0, 3.0]), rank=2)
    >>> mcmc = MCMC(kernel, num_warmup=5, num_samples=10, progress_bar=False)
    >>> mcmc.run(jax.random.key(0))
    >>> mcmc.get_samples()["v3"].shape
    (10, 4, 2)

    """

    def __init__(self, data: Any, y: Any, *, rank: int, store: str = "draws", **kwargs: Any):
        if store != "draws":
            raise ValueError(
                f"store={store!r} is not available for the degree-3 FM yet; use "
                "store='draws' (with thinning to save memory)"
            )
        super().__init__(data, y, rank=rank, **kwargs)

    def init(
        self, rng_key: jax.Array, num_warmup: int, init_params: Any, model_args: Any,
        model_kwargs: Any,
    ) -> FMGibbsState:
        """Start one chain, or a batch of chains when ``rng_key`` is a batch of keys."""
        def start(key: jax.Array, params: dict | None) -> Deg3State:
            return deg3_init(key, self.data, rank=self.rank, n_groups=self.n_groups,
                             likelihood=self.likelihood, priors=self.priors,
                             init_scale=self.init_scale, params=params)

        self._vectorized = not is_prng_key(rng_key)
        if self._vectorized:
            chain = jax.vmap(start)(rng_key, init_params)
        else:
            chain = start(rng_key, init_params)
        return FMGibbsState(chain, self.data, chain.rng_key)  # type: ignore[arg-type]

    def sample(self, state: FMGibbsState, model_args: Any, model_kwargs: Any) -> FMGibbsState:
        """Run one sweep of every chain."""
        def sweep(chain: Deg3State, data: GibbsData) -> Deg3State:
            return deg3_step(chain, data, likelihood=self.likelihood, priors=self.priors)

        chain = state.chain._replace(rng_key=state.rng_key)
        if self._vectorized:
            chain = each_chain(sweep, chain, state.data)
        else:
            chain = sweep(chain, state.data)
        return FMGibbsState(chain, state.data, chain.rng_key)


def run_gibbs_deg3(
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
    """Draw from the degree-3 FM posterior with the exact blocked Gibbs sampler.

    Arguments and return value as :func:`bayesfm.engines.gibbs_kernel.run_gibbs`
    (``store="draws"``), with the draws of ``v3``, ``mu_v3`` and ``lambda_v3`` added.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs_deg3 import run_gibbs_deg3
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> draws = run_gibbs_deg3(idx, val, [0, 0, 1, 1], [1.0, 2.0, 3.0], n_groups=2, rank=2,
    ...                        num_warmup=5, num_samples=10, num_chains=2,
    ...                        rng_key=jax.random.key(0), progress_bar=False)
    >>> draws["v3"].shape, draws["mu_v3"].shape
    ((2, 10, 4, 2), (2, 10, 2, 2))

    """
    kernel = Deg3Gibbs((indices, values, group_of_feature), y, rank=rank, n_groups=n_groups,
                       likelihood=likelihood, priors=priors, sample_weight=sample_weight,
                       init_scale=init_scale)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                thinning=thinning, chain_method=chain_method, progress_bar=progress_bar)
    mcmc.run(rng_key)
    return {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
