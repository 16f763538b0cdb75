"""Exact blocked Gibbs sampler for the Bayesian FM: a pure functional core (DESIGN section 3).

Every parameter ``theta`` enters the score linearly, ``yhat_n = g_n + theta * h_n``, so its full
conditional is Normal. The sweep caches the residual ``e = y - yhat`` (``z - yhat`` for probit)
and the factor sums ``q[f, n] = sum_i v_if x_ni`` and draws, in order: the latent ``z``
(probit), ``w0``, each block of ``w``, then each block of ``v[:, f]`` for ``f = 0..k-1``
(one loop over ``(k + 1) * B`` exact block draws), the Normal-Gamma
hyperparameters of every group, and ``tau`` (Gaussian). A block's features never share a row
(see :mod:`bayesfm.engines.gibbs_blocks`), so each block is one vectorised exact draw.

``init`` and ``step`` are pure and jit-compiled; the data enter as a :class:`GibbsData`
argument, never as closed-over constants, so one compiled sweep serves every draw and every
design of the same shapes.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import log_ndtr, ndtri

from bayesfm.engines.gibbs_blocks import BlockSet, GibbsData, color_blocks, prepare_data
from bayesfm.model import FMPriors

__all__ = [
    "GIBBS_LIKELIHOODS",
    "BlockSet",
    "GibbsData",
    "GibbsState",
    "color_blocks",
    "init",
    "predict_cache",
    "prepare_data",
    "step",
]

GIBBS_LIKELIHOODS = ("gaussian", "probit")


class GibbsState(NamedTuple):
    """State of one chain of the blocked Gibbs sampler.

    Attributes
    ----------
    w0 : array of shape ()
        Global bias.
    w : array of shape (p,)
        Linear weights.
    v : array of shape (p, k)
        Factors.
    mu_w, lambda_w : arrays of shape (G,)
        Mean and precision of the linear weights of every group.
    mu_v, lambda_v : arrays of shape (G, k)
        Mean and precision of the factors of every group and factor.
    tau : array of shape ()
        Noise precision (fixed at 1 for probit).
    e : array of shape (N,)
        Cached residual ``y - yhat`` (``z - yhat`` for probit).
    q : array of shape (k, N)
        Cached factor sums ``q[f, n] = sum_i v_if x_ni``; one factor's row is contiguous.
    rng_key : PRNG key
    z : array of shape (N,) or None
        Probit latent utilities; ``None`` for the Gaussian likelihood.

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
    z: jax.Array | None = None


def _check_likelihood(likelihood: str) -> None:
    if likelihood == "logit":
        raise ValueError(
            "the Gibbs engine has no conjugate update for likelihood='logit'; use "
            "likelihood='probit' with Gibbs, or NUTS/SVI for logit"
        )
    if likelihood not in GIBBS_LIKELIHOODS:
        raise ValueError(
            f"unknown likelihood {likelihood!r}; valid for Gibbs: {', '.join(GIBBS_LIKELIHOODS)}"
        )


def _on_rows(a: jax.Array, rows: jax.Array | None) -> jax.Array:
    """Values of a row-indexed array at a block's entries."""
    return a if rows is None else a[rows]


def _add_rows(a: jax.Array, rows: jax.Array | None, upd: jax.Array) -> jax.Array:
    """Add per-entry updates back to a row-indexed array (padding entries add exactly 0)."""
    return a + upd if rows is None else a.at[rows].add(upd)


def predict_cache(
    w0: jax.Array, w: jax.Array, v: jax.Array, data: GibbsData
) -> tuple[jax.Array, jax.Array]:
    """Scores ``yhat`` (N,) and factor sums ``q`` (k, N) from the block arrays.

    Examples
    --------
    >>> import jax.numpy as jnp, numpy as np
    >>> from bayesfm.engines.gibbs import predict_cache, prepare_data
    >>> d = prepare_data(np.array([[0, 1]]), np.ones((1, 2)), [0, 1], [0.0], n_groups=2)
    >>> yhat, q = predict_cache(0.5, jnp.zeros(2), jnp.array([[1.0], [3.0]]), d)
    >>> float(yhat[0]), q.shape
    (3.5, (1, 1))

    """
    n_rows = data.y.shape[0]

    def to_rows(contrib: jax.Array, rows: jax.Array | None) -> jax.Array:  # (B, R) -> (N,)
        if rows is None:
            return contrib.sum(0)
        return jnp.zeros(n_rows, contrib.dtype).at[rows.ravel()].add(contrib.ravel())

    def entry_values(table: jax.Array, blocks: BlockSet) -> jax.Array:  # (B, R): table[i] x
        local = table.at[blocks.features].get(mode="fill", fill_value=0)
        return jnp.take_along_axis(local, blocks.slot, axis=1) * blocks.values

    def one_factor(vf: jax.Array) -> tuple[jax.Array, jax.Array]:
        vx = [(entry_values(vf, bs), bs.rows) for bs in data.blocks]
        return sum(to_rows(a, r) for a, r in vx), sum(to_rows(a * a, r) for a, r in vx)

    q, sq = lax.map(one_factor, v.T)
    linear = sum(to_rows(entry_values(w, bs), bs.rows) for bs in data.blocks)
    yhat = w0 + linear + 0.5 * jnp.sum(q * q - sq, axis=0)
    return yhat, q


def _noise(key: jax.Array, n_normal: int, n_uniform: int, dtype: Any) -> tuple:
    """``n_normal`` standard normals and ``n_uniform`` uniforms on (0, 1) from one call.

    Compile time on a CPU grows with the number of random-number call sites (each inlines a
    Threefry hash and XLA may clone the inverse-erf into every consumer), so a sweep draws
    all its noise here, materialised once behind an optimisation barrier.
    """
    lo = jnp.nextafter(jnp.asarray(-1.0, dtype), jnp.asarray(1.0, dtype))
    u = jax.random.uniform(key, (n_normal + n_uniform,), dtype, minval=lo, maxval=1.0)
    normal = jnp.sqrt(jnp.asarray(2.0, dtype)) * lax.erf_inv(u[:n_normal])
    return lax.optimization_barrier((normal, 0.5 * (u[n_normal:] + 1.0)))


def _truncnorm_residual(uniform: jax.Array, yhat: jax.Array, y: jax.Array) -> jax.Array:
    """``z - yhat`` for ``z ~ Normal(yhat, 1)`` truncated to ``z > 0`` (y=1) or ``z <= 0`` (y=0).

    Inverse CDF in log space through ``log_ndtr`` of the bound, which stays accurate where the
    usual ``erf`` form underflows; the clamp acts only where even that underflows.
    """
    sgn = 2.0 * y - 1.0
    tiny = jnp.finfo(yhat.dtype).tiny
    cdf = jnp.exp(jnp.log(uniform) + log_ndtr(sgn * yhat))
    dist_from_bound = -ndtri(jnp.maximum(cdf, tiny))
    return sgn * jnp.maximum(dist_from_bound, -sgn * yhat)


def _gamma(key: jax.Array, shape: jax.Array, boost_uniform: jax.Array) -> jax.Array:
    """Exact ``Gamma(shape, 1)`` draws by Marsaglia-Tsang rejection in one batched while loop.

    ``jax.random.gamma`` costs seconds to compile on a CPU. A proposal is accepted with
    probability above 0.95, so the loop is short. Shapes below 1 use the boost
    ``Gamma(a) = Gamma(a + 1) U^(1/a)``.
    """
    boost = shape < 1
    d = jnp.where(boost, shape + 1, shape) - 1.0 / 3.0
    c = lax.rsqrt(9.0 * d)
    size = shape.shape[0]

    def propose(carry: tuple[jax.Array, jax.Array, jax.Array]) -> tuple:
        i, x, done = carry
        n, u = _noise(jax.random.fold_in(key, i), size, size, shape.dtype)
        t = c * n * (3.0 + c * n * (3.0 + c * n))  # (1 + c n)^3 - 1, without cancellation
        ok = (t > -1.0) & (jnp.log(u) < 0.5 * n * n + d * (jnp.log1p(t) - t))
        return i + 1, jnp.where(done, x, d * (1.0 + t)), done | ok

    start = (jnp.zeros((), jnp.uint32), jnp.ones_like(shape), jnp.zeros(shape.shape, bool))
    _, x, _ = lax.while_loop(lambda carry: ~jnp.all(carry[2]), propose, start)
    return jnp.where(boost, x * jnp.exp(jnp.log(boost_uniform) / shape), x)


def _normal_gamma_moments(
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


@partial(jax.jit, static_argnames=("rank", "n_groups", "likelihood", "priors"))
def init(
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
    """Start a chain at ``w0 = w = v = 0`` with the factors' prior precision ``1/init_scale^2``.

    The first sweep then draws every factor at scale about ``init_scale`` (the first block
    straight from ``Normal(0, init_scale^2)``), which is libFM's and myFM's start, but the
    caches are trivial (``q = 0``, ``e = y``), so this function compiles to almost nothing.
    The hyperparameters are redrawn from their conditionals at the end of the first sweep.

    Parameters
    ----------
    rng_key : PRNG key
        Kept in the state; it drives every later sweep.
    data : GibbsData
        From :func:`prepare_data`.
    rank, n_groups : int
        ``k`` and ``G``.
    likelihood : {"gaussian", "probit"}
        Observation model; ``"logit"`` raises ``ValueError`` (no conjugate update).
    priors : FMPriors
        Constants of the Normal-Gamma hierarchy (not needed for the start; accepted for
        symmetry with :func:`step`).
    init_scale : float, default 0.1
        Scale of the factors after the first sweep (libFM and myFM start at 0.1).
    params : dict of str to array, optional
        Start from these values of the model's sites instead (any of ``w0, w, v, mu_w,
        lambda_w, mu_v, lambda_v, tau``; e.g. the last draw of an earlier run). The caches
        are then computed from them.

    Returns
    -------
    GibbsState

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import init, prepare_data
    >>> d = prepare_data(np.array([[0, 2], [1, 3]]), np.ones((2, 2)), [0, 0, 1, 1],
    ...                  [1.0, -1.0], n_groups=2)
    >>> s = init(jax.random.key(0), d, rank=3, n_groups=2)
    >>> s.v.shape, s.q.shape, s.mu_v.shape
    ((4, 3), (3, 2), (2, 3))

    """
    _check_likelihood(likelihood)
    dtype = data.y.dtype
    p, n_rows = data.group_of_feature.shape[0], data.y.shape[0]
    start = dict(
        w0=jnp.zeros((), dtype), w=jnp.zeros(p, dtype), v=jnp.zeros((p, rank), dtype),
        mu_w=jnp.zeros(n_groups, dtype), lambda_w=jnp.ones(n_groups, dtype),
        mu_v=jnp.zeros((n_groups, rank), dtype),
        lambda_v=jnp.full((n_groups, rank), 1.0 / init_scale**2, dtype),
        tau=jnp.ones((), dtype),
    )  # fmt: skip
    yhat, q = jnp.zeros(n_rows, dtype), jnp.zeros((rank, n_rows), dtype)
    if params is not None:
        # The kernel's draws also carry the derived total log likelihood: not a site.
        params = {k: a for k, a in params.items() if k != "log_likelihood"}
        unknown = set(params) - set(start)
        if unknown:
            raise ValueError(f"unknown sites in params: {sorted(unknown)}; valid: {list(start)}")
        start.update({k: jnp.asarray(a, dtype).reshape(start[k].shape) for k, a in params.items()})
        yhat, q = predict_cache(start["w0"], start["w"], start["v"], data)
    z = None
    if likelihood == "probit":
        # Any start is valid: the first sweep redraws z given yhat before using it.
        z = yhat
        start["tau"] = jnp.ones((), dtype)
    e = data.y - yhat if z is None else z - yhat
    return GibbsState(**start, e=e.astype(dtype), q=q, rng_key=rng_key, z=z)


def _conditional_draw(
    noise: jax.Array,
    old: jax.Array,
    sh2: jax.Array,
    she: jax.Array,
    lam: jax.Array,
    mu: jax.Array,
    tau: jax.Array,
) -> jax.Array:
    """Draw ``theta ~ Normal(mu*, 1/P)``, ``P = lam + tau sh2``.

    ``mu* P = lam mu + tau (she + old sh2)``, with ``sh2 = sum s h^2`` and ``she = sum s h e``
    (``e`` the residual at the old value); ``noise`` is standard normal.
    """
    prec = lam + tau * sh2
    mean = (lam * mu + tau * (she + old * sh2)) / prec
    return mean + noise * lax.rsqrt(prec)


def _sweep(state: GibbsState, data: GibbsData, likelihood: str, priors: FMPriors) -> GibbsState:
    """One full Gibbs sweep (the untraced body of :func:`step`)."""
    n_rows = data.y.shape[0]
    n_groups, rank = state.mu_v.shape
    dtype = state.e.dtype
    weight, e, z, tau = data.weight, state.e, state.z, state.tau
    n_hyper = n_groups * (rank + 1) + 1
    set_sizes = [(rank + 1) * bs.features.size for bs in data.blocks]
    sizes = (1, n_groups * (rank + 1), n_hyper, *set_sizes)
    key, k_noise, k_gamma = jax.random.split(state.rng_key, 3)
    normal, uniform = _noise(k_noise, sum(sizes), n_hyper + (n_rows if likelihood == "probit"
                                                            else 0), dtype)
    nz_w0, nz_shift, nz_mu, *nz_sets = jnp.split(
        normal, list(itertools.accumulate(sizes))[:-1]
    )
    u_boost, u_z = uniform[:n_hyper], uniform[n_hyper:]

    if likelihood == "probit":
        yhat = z - e
        e = _truncnorm_residual(u_z, yhat, data.y)
        z = yhat + e

    # w0: h_n = 1.
    s_sum = jnp.asarray(n_rows, dtype) if weight is None else weight.sum()
    se_sum = e.sum() if weight is None else (weight * e).sum()
    w0 = _conditional_draw(nz_w0[0], state.w0, s_sum, se_sum, priors.reg0, 0.0, tau)
    e = e - (w0 - state.w0)

    # Column 0 of theta is w (h_n = x_ni), column 1 + f is v[:, f]; one loop body for both
    # keeps the compiled program small.
    theta = jnp.concatenate([state.w[:, None], state.v], axis=1)
    prior_lam = jnp.concatenate([state.lambda_w[:, None], state.lambda_v], axis=1)
    prior_mu = jnp.concatenate([state.mu_w[:, None], state.mu_v], axis=1)

    def block(b: jax.Array, carry: tuple, c: jax.Array, bs: BlockSet, nz: jax.Array) -> tuple:
        theta, e, q_f = carry
        is_w = c == 0
        rows = None if bs.rows is None else bs.rows[b]
        slot, x, feats, g = bs.slot[b], bs.values[b], bs.features[b], bs.group[b]
        sx = x if bs.wvalues is None else bs.wvalues[b]
        old = theta.at[feats, c].get(mode="fill", fill_value=0)
        # h_n = x_ni * rest_n: rest is 1 for w, q_nf without feature i's own term for v.
        rest = jnp.where(is_w, 1.0, _on_rows(q_f, rows) - old[slot] * x)
        h = x * rest
        sh = sx * rest
        stats = jax.ops.segment_sum(jnp.stack([sh * h, sh * _on_rows(e, rows)], -1), slot,
                                    feats.shape[0])
        new = _conditional_draw(nz[c, b], old, stats[:, 0], stats[:, 1], prior_lam[g, c],
                                prior_mu[g, c], tau)
        delta = (new - old)[slot]
        e = _add_rows(e, rows, -delta * h)
        q_f = _add_rows(q_f, rows, jnp.where(is_w, 0.0, delta * x))
        return theta.at[feats, c].set(new, mode="drop"), e, q_f

    def column(c: jax.Array, carry: tuple[jax.Array, jax.Array, jax.Array]) -> tuple:
        theta, e, q = carry
        f = jnp.maximum(c - 1, 0)
        q_f = lax.dynamic_index_in_dim(q, f, 0, keepdims=False)
        for bs, nz in zip(data.blocks, nz_sets, strict=True):
            nz = nz.reshape(rank + 1, *bs.features.shape)
            body = partial(block, c=c, bs=bs, nz=nz)
            theta, e, q_f = lax.fori_loop(0, bs.features.shape[0], body, (theta, e, q_f))
        # A dynamic-update-slice writes one row in place; ``q.at[f].set`` would rewrite all k.
        return theta, e, lax.dynamic_update_index_in_dim(q, q_f, f, 0)

    theta, e, q = lax.fori_loop(0, rank + 1, column, (theta, e, state.q))
    w, v = theta[:, 0], theta[:, 1:]

    # Hyperparameters and tau are independent given (w, v, e): one batched Gamma draw.
    gof, size = data.group_of_feature, data.group_size
    m_w, n_w, a_w, r_w = _normal_gamma_moments(w, gof, size, priors)
    m_v, n_v, a_v, r_v = _normal_gamma_moments(v, gof, size, priors)
    sse = jnp.sum(e * e) if weight is None else jnp.sum(weight * e * e)
    # Frequency weights (as in bayesfm.model.fm_model): s_n in both sums.
    a_tau = (priors.a0 + 0.5 * s_sum).astype(dtype)[None]
    shapes = jnp.concatenate([a_w, a_v.ravel(), a_tau])
    rates = jnp.concatenate([r_w, r_v.ravel(), (priors.b0 + 0.5 * sse)[None]])
    lam = _gamma(k_gamma, shapes, u_boost) / rates
    mu = jnp.concatenate([m_w, m_v.ravel(), jnp.zeros(1, dtype)])
    mu = mu + nz_mu * lax.rsqrt(jnp.concatenate([n_w, n_v.ravel(), jnp.ones(1, dtype)]) * lam)
    lambda_w, mu_w = lam[:n_groups], mu[:n_groups]
    lambda_v = lam[n_groups:-1].reshape(n_groups, rank)
    mu_v = mu[n_groups:-1].reshape(n_groups, rank)
    if likelihood == "gaussian":
        tau = lam[-1]
    w0, w, mu_w = _shift_bias(w0, w, mu_w, lambda_w, data, nz_shift[:n_groups], priors)
    w, v, mu_v, q_shift = _shift_factors(w, v, mu_w, lambda_w, mu_v, lambda_v, data,
                                         nz_shift[n_groups:].reshape(n_groups, rank), priors)
    # Every row holds one feature of each shifted group, so each q[f, n] moves by the same sum.
    q = q + q_shift[:, None]
    return GibbsState(w0, w, v, mu_w, lambda_w, mu_v, lambda_v, tau, e, q, key, z)


def _shift_bias(
    w0: jax.Array,
    w: jax.Array,
    mu_w: jax.Array,
    lambda_w: jax.Array,
    data: GibbsData,
    noise: jax.Array,
    priors: FMPriors,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Exact draw along ``(w0 + c, w_i - c for i in g, mu_w[g] - c)`` for each shiftable group.

    In a group whose values sum to 1 in every row (complete one-hot), this move leaves every
    prediction, and every ``w_i - mu_w[g]``, unchanged: only the priors of ``w0`` and
    ``mu_w[g]`` see ``c``, so its conditional is Normal with precision
    ``reg0 + gamma0 lambda_w[g]``. Single-site updates cross this ridge only slowly (the bias
    and the group means trade off), which left ``w0`` with R-hat far above 1.01; a translation
    drawn from its exact conditional is a valid Gibbs move (Liu and Sabatti 2000).
    """
    gamma0, mu0, reg0 = priors.gamma0, priors.mu0, priors.reg0
    gof = data.group_of_feature

    def one_group(g: jax.Array, carry: tuple) -> tuple:
        w0, w, mu_w = carry
        prec = reg0 + gamma0 * lambda_w[g]
        mean = (gamma0 * lambda_w[g] * (mu_w[g] - mu0) - reg0 * w0) / prec
        c = jnp.where(data.shiftable[g], mean + noise[g] * lax.rsqrt(prec), 0.0)
        return w0 + c, jnp.where(gof == g, w - c, w), mu_w.at[g].add(-c)

    return lax.fori_loop(0, mu_w.shape[0], one_group, (w0, w, mu_w))


@partial(jax.jit, static_argnames=("likelihood", "priors"))
def step(
    state: GibbsState,
    data: GibbsData,
    likelihood: str = "gaussian",
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
) -> GibbsState:
    """One exact blocked Gibbs sweep over every parameter (jit-compiled once per shape).

    Parameters
    ----------
    state : GibbsState
        Current state, from :func:`init` or a previous step.
    data : GibbsData
        Passed as an argument, so the compiled sweep does not embed the data.
    likelihood : {"gaussian", "probit"}
        Observation model (as in :func:`init`).
    priors : FMPriors
        Constants of the Normal-Gamma hierarchy.

    Returns
    -------
    GibbsState

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import init, prepare_data, step
    >>> d = prepare_data(np.array([[0, 2], [1, 3]]), np.ones((2, 2)), [0, 0, 1, 1],
    ...                  [1.0, -1.0], n_groups=2)
    >>> s = init(jax.random.key(0), d, rank=2, n_groups=2)
    >>> for _ in range(3):
    ...     s = step(s, d)
    >>> s.w.shape, bool(s.tau > 0)
    ((4,), True)

    """
    _check_likelihood(likelihood)
    if likelihood == "probit" and data.weight is not None:
        raise ValueError("sample_weight is not supported by the probit Gibbs sampler")
    return _sweep(state, data, likelihood, priors)


def _shift_factors(
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
    """Exact draw along ``(v_if + c for i in g, mu_v[g, f] + c, w_j - c v_jf for j not in g)``.

    For a complete one-hot group ``g`` every row has exactly one feature ``i`` of ``g`` with
    value 1, so shifting all ``v_if`` of the group by ``c`` adds ``c sum_j v_jf x_j`` (over the
    row's other features) to the score, which the ``w_j - c v_jf`` shear takes away again: the
    likelihood is flat along this line, and only the priors of ``mu_v[g, f]`` and of the other
    groups' ``w_j`` see ``c``. The map is a shear (Jacobian 1) forming a group in ``c``, so
    drawing ``c`` from its Normal conditional is exact. It moves the weights and factors
    together along a ridge single-site updates cross slowly. Returns the new ``w, v, mu_v``
    and the shift of every factor sum ``q[f, n]`` (the same for every row).
    """
    gamma0, mu0 = priors.gamma0, priors.mu0
    gof = data.group_of_feature
    rank = v.shape[1]
    lam_j = lambda_w[gof]
    dev_j = w - mu_w[gof]

    def one(t: jax.Array, carry: tuple) -> tuple:
        v, mu_v, dev_j, q_shift = carry
        g, f = t // rank, t % rank
        other = gof != g
        v_f = jnp.where(other, v[:, f], 0.0)
        prec = gamma0 * lambda_v[g, f] + jnp.sum(lam_j * v_f * v_f)
        mean = (gamma0 * lambda_v[g, f] * (mu0 - mu_v[g, f]) + jnp.sum(lam_j * v_f * dev_j))
        mean = mean / prec
        c = jnp.where(data.shiftable[g], mean + noise[g, f] * lax.rsqrt(prec), 0.0)
        v = v.at[:, f].add(jnp.where(other, 0.0, c))
        return v, mu_v.at[g, f].add(c), dev_j - c * v_f, q_shift.at[f].add(c)

    start = (v, mu_v, dev_j, jnp.zeros(rank, v.dtype))
    v, mu_v, dev_j, q_shift = lax.fori_loop(0, mu_v.size, one, start)
    return dev_j + mu_w[gof], v, mu_v, q_shift
