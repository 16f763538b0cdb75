"""Gibbs sampling of the ordered probit FM: latent augmentation plus Metropolis cutpoints.

One sweep (DESIGN section 3, "Ordinal"):

1. Each free cutpoint ``cut[j]`` (``j = 1 .. C-2``; ``cut[0] = 0`` is fixed, see
   :mod:`bayesfm.cutpoints`) gets a random-walk Metropolis step whose target is its
   conditional *with the latent z integrated out*, ``prod_n P(y_n | yhat_n, cut) p(cut)``
   (Cowles 1996). Drawing the cutpoints given ``z`` instead confines each to the narrow gap
   between the neighbouring classes' latents, and the chain then barely moves.
2. A scale move, also with ``z`` integrated out: every quantity on the latent scale is
   multiplied by ``s`` (``w0, w, mu_w, cut``; ``v, mu_v`` by ``sqrt(s)``, so that ``yhat``
   scales by ``s``; ``lambda_w`` by ``s^-2`` and ``lambda_v`` by ``s^-1``), ``log s`` a
   random-walk Metropolis step on the joint density times the Jacobian. Single-site updates
   change the spread of the scores relative to the cutpoints only slowly (measured: cutpoint
   ESS about 6% of the draws without this move); the move is a parameter-expanded
   data-augmentation step (Liu and Wu 1999) in Metropolis form.
3. ``z_n ~ Normal(yhat_n, 1)`` truncated to ``(cut[y_n - 1], cut[y_n]]``. Steps 1-3 together
   are one exact block update given the rest.
4. The exact blocked Gibbs sweep of :mod:`bayesfm.engines.gibbs` on the residual ``z - yhat``
   with unit noise precision, as for probit.

The proposal scale of every cutpoint and of ``log s`` is adapted during warm-up
(Robbins-Monro towards an acceptance rate of 0.44, the optimum for one-dimensional random
walks) and frozen after it, so the kept draws come from a fixed, valid Metropolis kernel.
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import log_ndtr, ndtri
from numpyro.infer import MCMC
from numpyro.infer.mcmc import MCMCKernel
from numpyro.util import is_prng_key

from bayesfm.cutpoints import _log1mexp, cutpoint_log_prior, ordinal_log_prob
from bayesfm.engines.gibbs import GibbsData, GibbsState, _sweep, prepare_data
from bayesfm.engines.gibbs import init as fm_init
from bayesfm.engines.gibbs_kernel import each_chain
from bayesfm.model import FMPriors

__all__ = [
    "OrdinalFMGibbs",
    "OrdinalGibbsState",
    "init",
    "run_gibbs_ordinal",
    "step",
    "truncnorm_between",
]

#: Target acceptance rate of each cutpoint's random-walk proposal during warm-up.
TARGET_ACCEPT = 0.44
_SITES = ("w0", "w", "v", "mu_w", "lambda_w", "mu_v", "lambda_v")


class OrdinalGibbsState(NamedTuple):
    """State of one chain of the ordinal Gibbs sampler.

    Attributes
    ----------
    fm : GibbsState
        FM parameters and caches; ``fm.z`` holds the latent utilities, ``fm.tau`` is 1.
    cutpoints : array of shape (C-1,)
        ``cutpoints[0] == 0``.
    log_step : array of shape (C-1,)
        Log standard deviation of each free cutpoint's random-walk proposal, then that of
        the scale move's ``log s``.
    accept : array of shape ()
        Fraction of the cutpoint proposals accepted in the last sweep (NaN when ``C = 2``:
        no free cutpoint).
    iteration : int array of shape ()
        Sweeps done; adaptation stops when it reaches ``adapt_until``.
    adapt_until : int array of shape ()
        Number of warm-up sweeps.

    """

    fm: GibbsState
    cutpoints: jax.Array
    log_step: jax.Array
    accept: jax.Array
    iteration: jax.Array
    adapt_until: jax.Array


def truncnorm_between(uniform: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
    """``Normal(0, 1)`` truncated to ``[lo, hi]`` by the inverse CDF, ``uniform`` in (0, 1).

    ``lo`` may be ``-inf`` and ``hi`` ``+inf``. An interval in the upper tail is reflected into
    the lower tail, and the CDF is handled in log space, so draws stay inside the bounds and
    accurate far in the tails; the final clamp acts only where even that underflows.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.engines.gibbs_ordinal import truncnorm_between
    >>> x = truncnorm_between(jnp.array([0.5, 0.5]), jnp.array([-jnp.inf, 30.0]),
    ...                       jnp.array([0.0, 31.0]))
    >>> bool(x[0] < 0) and bool(30.0 <= x[1] <= 31.0)
    True
    """
    flip = lo > 0
    a = jnp.where(flip, -hi, lo)
    b = jnp.where(flip, -lo, hi)
    la, lb = log_ndtr(a), log_ndtr(b)
    log_mass = lb + _log1mexp(jnp.minimum(la - lb, 0.0))
    log_p = jnp.logaddexp(la, jnp.log(uniform) + log_mass)
    tiny = jnp.finfo(uniform.dtype).tiny
    x = jnp.clip(ndtri(jnp.maximum(jnp.exp(log_p), tiny)), a, b)
    return jnp.where(flip, -x, x)


def _initial_cutpoints(y: jax.Array, n_classes: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Cutpoints and bias matching the class frequencies (smoothed by one row per class).

    Also the initial log proposal scales: a cutpoint is pinned down by the rows of its two
    neighbouring classes, the common scale by all rows, so their posterior sds shrink like
    one over the square root of those counts (warm-up then tunes them).
    """
    counts = jnp.zeros(n_classes, y.dtype).at[y.astype(jnp.int32)].add(1.0) + 1.0
    quantiles = ndtri(jnp.cumsum(counts)[:-1] / counts.sum())
    step_cut = 2.0 * lax.rsqrt(counts[1:-1] + counts[2:])
    step_scale = 2.0 * lax.rsqrt(counts.sum())[None]
    log_step = jnp.log(jnp.minimum(jnp.concatenate([step_cut, step_scale]), 0.5))
    return quantiles - quantiles[0], -quantiles[0], log_step


@partial(jax.jit, static_argnames=("rank", "n_groups", "n_classes", "priors"))
def init(
    rng_key: jax.Array,
    data: GibbsData,
    *,
    rank: int,
    n_groups: int,
    n_classes: int,
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    init_scale: float | jax.Array = 0.1,
    num_warmup: int | jax.Array = 0,
    params: dict[str, jax.Array] | None = None,
) -> OrdinalGibbsState:
    """Start a chain: the FM as in :func:`bayesfm.engines.gibbs.init`, cutpoints from ``y``.

    Without ``params`` the cutpoints and ``w0`` start where the class frequencies put them
    (``Phi(cut[c] - w0)`` = share of classes ``<= c``). ``params`` may give any model site,
    ``cutpoints`` included.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import prepare_data
    >>> from bayesfm.engines.gibbs_ordinal import init
    >>> d = prepare_data(np.array([[0, 2], [1, 3]]), np.ones((2, 2)), [0, 0, 1, 1],
    ...                  [0.0, 2.0], n_groups=2)
    >>> s = init(jax.random.key(0), d, rank=2, n_groups=2, n_classes=3)
    >>> s.cutpoints.shape, float(s.cutpoints[0])
    ((2,), 0.0)

    """
    if n_classes < 2:
        raise ValueError(f"the ordinal likelihood needs n_classes >= 2, got {n_classes}")
    dtype = data.y.dtype
    params = dict(params or {})
    params.pop("log_likelihood", None)
    params.pop("acceptance_rate", None)
    cut0, w0, log_step = _initial_cutpoints(data.y, n_classes)
    cut = jnp.asarray(params.pop("cutpoints", cut0), dtype).reshape(n_classes - 1)
    if not params:
        fm = fm_init(rng_key, data, rank=rank, n_groups=n_groups, likelihood="probit",
                     priors=priors, init_scale=init_scale)
        # yhat = w0 everywhere; any z is a valid start (the first sweep redraws it).
        fm = fm._replace(w0=w0.astype(dtype), z=jnp.full_like(fm.z, w0))
    else:
        fm = fm_init(rng_key, data, rank=rank, n_groups=n_groups, likelihood="probit",
                     priors=priors, init_scale=init_scale, params=params)
    return OrdinalGibbsState(
        fm=fm, cutpoints=cut, log_step=log_step.astype(dtype),
        accept=jnp.asarray(jnp.nan, dtype), iteration=jnp.zeros((), jnp.int32),
        adapt_until=jnp.asarray(num_warmup, jnp.int32),
    )


def _update_cutpoints(
    key: jax.Array, state: OrdinalGibbsState, yhat: jax.Array, y: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Random-walk Metropolis on each free cutpoint, ``z`` integrated out."""
    cut, log_step = state.cutpoints, state.log_step
    n_free = cut.shape[0] - 1
    if n_free == 0:
        return cut, log_step, jnp.asarray(jnp.nan, cut.dtype)
    dtype = cut.dtype
    k_noise, k_u = jax.random.split(key)
    noise = jax.random.normal(k_noise, (n_free,), dtype)
    log_u = jnp.log(jax.random.uniform(k_u, (n_free,), dtype, minval=jnp.finfo(dtype).tiny))
    adapting = state.iteration < state.adapt_until
    rate = (state.iteration.astype(dtype) + 1.0) ** -0.6

    def log_target(c: jax.Array) -> jax.Array:
        return jnp.sum(ordinal_log_prob(yhat, y, c)) + cutpoint_log_prior(c)

    def one(j: jax.Array, carry: tuple) -> tuple:
        cut, log_step, lp, n_acc = carry
        prop = cut.at[j + 1].add(jnp.exp(log_step[j]) * noise[j])
        lp_prop = log_target(prop)  # -inf when the proposal breaks the order
        log_ratio = jnp.where(jnp.isfinite(lp_prop), lp_prop - lp, -jnp.inf)
        ok = log_u[j] < log_ratio
        adapt = jnp.exp(jnp.minimum(log_ratio, 0.0)) - TARGET_ACCEPT
        log_step = log_step.at[j].add(jnp.where(adapting, rate * adapt, 0.0))
        return (jnp.where(ok, prop, cut), log_step, jnp.where(ok, lp_prop, lp),
                n_acc + ok.astype(dtype))

    start = (cut, log_step, log_target(cut), jnp.zeros((), dtype))
    cut, log_step, _, n_acc = lax.fori_loop(0, n_free, one, start)
    return cut, log_step, n_acc / n_free


def _log_prior_scaled(fm: GibbsState, cut: jax.Array, log_s: jax.Array, data: GibbsData,
                      priors: FMPriors) -> jax.Array:
    """Log prior of the parameters after the scale move by ``s``, plus its log Jacobian.

    The conditional priors of ``w`` and ``v`` are invariant under the move (their means and
    scales move with them) and cancel against their Jacobian, so only the top of the
    hierarchy, ``w0`` and the cutpoints remain.
    """
    a0, b0, gamma0, mu0, reg0 = priors
    s, n_groups, rank = jnp.exp(log_s), fm.mu_v.shape[0], fm.mu_v.shape[1]
    lam_w, lam_v = fm.lambda_w / (s * s), fm.lambda_v / s
    mu_w, mu_v = fm.mu_w * s, fm.mu_v * jnp.sqrt(s)

    def normal(x: jax.Array, mean: Any, prec: jax.Array) -> jax.Array:
        return jnp.sum(0.5 * jnp.log(prec) - 0.5 * prec * (x - mean) ** 2)

    def gamma(lam: jax.Array) -> jax.Array:
        return jnp.sum((a0 - 1.0) * jnp.log(lam) - b0 * lam)

    lp = (normal(fm.w0 * s, 0.0, jnp.asarray(reg0)) + normal(mu_w, mu0, gamma0 * lam_w)
          + normal(mu_v, mu0, gamma0 * lam_v) + gamma(lam_w) + gamma(lam_v)
          + cutpoint_log_prior(cut * s))
    # Jacobian of (w0, mu_w, lambda_w, mu_v, lambda_v, free cutpoints); w and v cancel.
    n_free = cut.shape[0] - 1
    log_jac = log_s * (1 + n_groups - 2 * n_groups + 0.5 * n_groups * rank
                       - n_groups * rank + n_free)
    return lp + log_jac


def _scale_move(
    key: jax.Array, state: OrdinalGibbsState, fm: GibbsState, cut: jax.Array, yhat: jax.Array,
    data: GibbsData, priors: FMPriors,
) -> tuple[GibbsState, jax.Array, jax.Array, jax.Array, jax.Array]:
    """Metropolis step on ``log s`` (see the module docstring); returns the moved state."""
    dtype = yhat.dtype
    k_noise, k_u = jax.random.split(key)
    log_step = state.log_step[-1]
    log_s = jnp.exp(log_step) * jax.random.normal(k_noise, (), dtype)

    def target(ls: jax.Array) -> jax.Array:
        s = jnp.exp(ls)
        return (jnp.sum(ordinal_log_prob(yhat * s, data.y, cut * s))
                + _log_prior_scaled(fm, cut, ls, data, priors))

    log_ratio = target(log_s) - target(jnp.zeros((), dtype))
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    u = jax.random.uniform(k_u, (), dtype, minval=jnp.finfo(dtype).tiny)
    ok = jnp.log(u) < log_ratio
    adapting = state.iteration < state.adapt_until
    rate = (state.iteration.astype(dtype) + 1.0) ** -0.6
    adapt = jnp.exp(jnp.minimum(log_ratio, 0.0)) - TARGET_ACCEPT
    log_step = log_step + jnp.where(adapting, rate * adapt, 0.0)
    s = jnp.where(ok, jnp.exp(log_s), 1.0)
    r = jnp.sqrt(s)
    fm = fm._replace(w0=fm.w0 * s, w=fm.w * s, v=fm.v * r, mu_w=fm.mu_w * s,
                     lambda_w=fm.lambda_w / (s * s), mu_v=fm.mu_v * r,
                     lambda_v=fm.lambda_v / s, q=fm.q * r)
    return fm, cut * s, yhat * s, log_step, ok.astype(dtype)


def _sweep_ordinal(
    state: OrdinalGibbsState, data: GibbsData, priors: FMPriors
) -> OrdinalGibbsState:
    fm = state.fm
    key, k_cut, k_scale, k_z = jax.random.split(fm.rng_key, 4)
    assert fm.z is not None  # init() always sets the latents
    yhat = fm.z - fm.e
    cut, log_step, accept = _update_cutpoints(k_cut, state, yhat, data.y)
    fm, cut, yhat, log_step_s, _ = _scale_move(k_scale, state, fm, cut, yhat, data, priors)
    log_step = log_step.at[-1].set(log_step_s)
    # z | cut, yhat: truncated to the interval of its class.
    code = data.y.astype(jnp.int32)
    inf = jnp.asarray(jnp.inf, cut.dtype)
    bounds = jnp.concatenate([-inf[None], cut, inf[None]])
    lo, hi = bounds[code] - yhat, bounds[code + 1] - yhat
    u = jax.random.uniform(k_z, yhat.shape, yhat.dtype, minval=jnp.finfo(yhat.dtype).tiny)
    e = truncnorm_between(u, lo, hi)
    # The regression sweep on z: "ordinal" keeps z and tau = 1 as they are.
    fm = _sweep(fm._replace(e=e, z=yhat + e, rng_key=key), data, "ordinal", priors)
    return OrdinalGibbsState(fm, cut, log_step, accept, state.iteration + 1, state.adapt_until)


@partial(jax.jit, static_argnames=("priors",))
def step(
    state: OrdinalGibbsState,
    data: GibbsData,
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
) -> OrdinalGibbsState:
    """One sweep: cutpoints (Metropolis, z integrated out), z, then every FM parameter.

    Parameters
    ----------
    state : OrdinalGibbsState
    data : GibbsData
        ``data.y`` holds the class codes ``0 .. C-1``.
    priors : FMPriors

    Returns
    -------
    OrdinalGibbsState

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import prepare_data
    >>> from bayesfm.engines.gibbs_ordinal import init, step
    >>> d = prepare_data(np.array([[0, 2], [1, 3], [0, 3]]), np.ones((3, 2)), [0, 0, 1, 1],
    ...                  [0.0, 2.0, 1.0], n_groups=2)
    >>> s = init(jax.random.key(0), d, rank=2, n_groups=2, n_classes=3)
    >>> for _ in range(3):
    ...     s = step(s, d)
    >>> bool(s.cutpoints[1] > 0), int(s.iteration)
    (True, 3)

    """
    if data.weight is not None:
        raise ValueError("sample_weight is not supported by the ordinal Gibbs sampler")
    return _sweep_ordinal(state, data, priors)


@jax.jit
def _total_log_likelihood(yhat: jax.Array, y: jax.Array, cut: jax.Array) -> jax.Array:
    """Total ordinal log likelihood per chain (``yhat`` and ``cut`` may carry a chain axis).

    Jitted because NumPyro also reads the sites outside any trace, once per fit: eagerly,
    ``log_ndtr`` compiled some 30 one-op programs for every new number of rows.
    """
    return ordinal_log_prob(yhat, y, cut).sum(-1)


class OrdinalKernelState(NamedTuple):
    """``MCMC``-facing state: the chain, the data and the chain's key (as in FMGibbsState)."""

    chain: OrdinalGibbsState
    data: GibbsData
    rng_key: jax.Array

    @property
    def sites(self) -> dict[str, jax.Array]:
        """Draws of the model's sites plus the total log likelihood and acceptance rate."""
        chain = self.chain
        out = {name: getattr(chain.fm, name) for name in _SITES}
        out["cutpoints"] = chain.cutpoints
        assert chain.fm.z is not None
        yhat = chain.fm.z - chain.fm.e
        cut = chain.cutpoints
        out["log_likelihood"] = _total_log_likelihood(yhat, self.data.y, cut)
        out["acceptance_rate"] = chain.accept
        return out


class OrdinalFMGibbs(MCMCKernel):
    """The ordinal Gibbs sampler as a NumPyro MCMC kernel (see :class:`.gibbs_kernel.FMGibbs`).

    Parameters
    ----------
    data : Design or tuple of (indices, values, group_of_feature)
    y : array-like of shape (N,)
        Class codes ``0 .. n_classes-1``.
    rank, n_classes : int
    n_groups : int, optional
    priors : FMPriors
    init_scale : float
    dtype : dtype, optional
    layout : {"auto", "dense", "compact"}

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import MCMC
    >>> from bayesfm.engines.gibbs_ordinal import OrdinalFMGibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> k = OrdinalFMGibbs((idx, val, np.array([0, 0, 1, 1])), [0, 2, 1], rank=2, n_classes=3)
    >>> mcmc = MCMC(k, num_warmup=5, num_samples=10, progress_bar=False)
    >>> mcmc.run(jax.random.key(0))
    >>> mcmc.get_samples()["cutpoints"].shape
    (10, 2)

    """

    sample_field = "sites"

    def __init__(
        self,
        data: Any,
        y: Any,
        *,
        rank: int,
        n_classes: int,
        n_groups: int | None = None,
        priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
        init_scale: float = 0.1,
        dtype: Any = None,
        layout: str = "auto",
    ) -> None:
        if hasattr(data, "indices") and hasattr(data, "group_of_feature"):
            indices, values, gof = data.indices, data.values, data.group_of_feature
            n_groups = n_groups or getattr(data, "n_groups", None)
        else:
            indices, values, gof = data
        if n_groups is None:
            n_groups = int(np.max(gof)) + 1
        codes = np.asarray(y, dtype=np.float64)
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        if codes.size and (codes.min() < 0 or codes.max() >= n_classes
                           or np.any(codes != np.round(codes))):
            raise ValueError(f"y must hold class codes 0 .. {n_classes - 1}")
        self.rank, self.n_classes, self.n_groups = int(rank), int(n_classes), int(n_groups)
        self.priors = FMPriors(*(float(c) for c in priors))
        self.init_scale = float(init_scale)
        self.data = prepare_data(indices, values, gof, codes, n_groups=self.n_groups,
                                 dtype=dtype, layout=layout)
        self._vectorized = False

    def init(
        self, rng_key: jax.Array, num_warmup: int, init_params: Any, model_args: Any,
        model_kwargs: Any,
    ) -> OrdinalKernelState:
        """Start one chain, or a batch of chains when ``rng_key`` is a batch of keys."""
        def start(key: jax.Array, params: dict | None) -> OrdinalGibbsState:
            return init(key, self.data, rank=self.rank, n_groups=self.n_groups,
                        n_classes=self.n_classes, priors=self.priors,
                        init_scale=self.init_scale, num_warmup=num_warmup, params=params)

        self._vectorized = not is_prng_key(rng_key)
        chain = jax.vmap(start)(rng_key, init_params) if self._vectorized else start(
            rng_key, init_params)
        return OrdinalKernelState(chain, self.data, chain.fm.rng_key)

    def sample(
        self, state: OrdinalKernelState, model_args: Any, model_kwargs: Any
    ) -> OrdinalKernelState:
        """Run one sweep of every chain."""
        def sweep(chain: OrdinalGibbsState, data: GibbsData) -> OrdinalGibbsState:
            return step(chain, data, priors=self.priors)

        chain = state.chain._replace(fm=state.chain.fm._replace(rng_key=state.rng_key))
        if self._vectorized:
            chain = each_chain(sweep, chain, state.data)
        else:
            chain = sweep(chain, state.data)
        return OrdinalKernelState(chain, state.data, chain.fm.rng_key)


def run_gibbs_ordinal(
    indices: Any,
    values: Any,
    group_of_feature: Any,
    y: Any,
    *,
    n_groups: int,
    rank: int,
    n_classes: int,
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
    """Draw from the ordinal FM posterior with the ordinal Gibbs sampler.

    Parameters
    ----------
    indices, values : array-like of shape (N, L)
    group_of_feature : array-like of shape (p,)
    y : array-like of shape (N,)
        Class codes ``0 .. n_classes-1``.
    n_groups, rank, n_classes : int
    priors : FMPriors
    num_warmup, num_samples, num_chains, thinning : int
    rng_key : PRNG key
    progress_bar : bool
    chain_method : {"vectorized", "sequential", "parallel"}
    init_scale : float

    Returns
    -------
    dict of str to ndarray
        Draws of ``w0, w, v, mu_w, lambda_w, mu_v, lambda_v, cutpoints`` plus the per-draw
        ``log_likelihood`` and cutpoint ``acceptance_rate``, each ``(chain, draw, ...)``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs_ordinal import run_gibbs_ordinal
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> d = run_gibbs_ordinal(idx, val, [0, 0, 1, 1], [0, 2, 1], n_groups=2, rank=2,
    ...                       n_classes=3, num_warmup=5, num_samples=10,
    ...                       rng_key=jax.random.key(0), progress_bar=False)
    >>> d["cutpoints"].shape, d["acceptance_rate"].shape
    ((1, 10, 2), (1, 10))

    """
    kernel = OrdinalFMGibbs((indices, values, group_of_feature), y, rank=rank,
                            n_classes=n_classes, n_groups=n_groups, priors=priors,
                            init_scale=init_scale)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                thinning=thinning, chain_method=chain_method, progress_bar=progress_bar)
    mcmc.run(rng_key)
    return {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
