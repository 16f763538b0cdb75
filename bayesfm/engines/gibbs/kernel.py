"""``numpyro.infer.MCMC`` adapter for the blocked Gibbs sampler, and ``run_gibbs``.

:class:`FMGibbs` wraps the pure :func:`bayesfm.engines.gibbs.init` / :func:`~.gibbs.step` pair
as a :class:`numpyro.infer.mcmc.MCMCKernel`, so ``MCMC`` supplies chains, thinning and the
progress bar. The data travel inside the kernel state as jit *arguments*: ``MCMC`` closes its
sample function over the model arguments, and closed-over arrays would be embedded in the
compiled program as constants (compile time then grows with the data).

Memory modes (``store``): ``"draws"`` keeps every (thinned) draw of every site, ``w`` and ``v``
included, i.e. ``draws x p x k`` floats per chain. ``"moments"`` keeps draws of the
identifiable low-dimensional quantities only (``w0``, ``tau``, ``mu_*``, ``lambda_*``, the
scores ``eta_ref`` of a few fixed training rows, the log likelihood), running means and
variances of ``w`` and ``v`` over every post-warmup sweep (Welford's update, in the state),
and at most ``max_kept`` evenly spread draws of ``(w0, w, v, tau)`` per chain for predictions
(pairwise interactions are not a function of the mean of ``v``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import log_ndtr
from numpyro.infer import MCMC
from numpyro.infer.mcmc import MCMCKernel
from numpyro.util import is_prng_key

from bayesfm.engines._common import STORES
from bayesfm.engines.gibbs import (
    GibbsData,
    GibbsState,
    _check_likelihood,
    init,
    prepare_data,
    step,
)
from bayesfm.model import FMPriors

__all__ = ["STORES", "FMGibbs", "FMGibbsState", "Moments", "each_chain", "keep_plan", "run_gibbs"]

_SITES = ("w0", "w", "v", "mu_w", "lambda_w", "mu_v", "lambda_v")
#: Sites whose every draw is kept in the ``"moments"`` mode (``tau`` too, when Gaussian).
_SMALL_SITES = ("w0", "mu_w", "lambda_w", "mu_v", "lambda_v")


class Moments(NamedTuple):
    """Running moments of ``w`` and ``v`` and the kept prediction draws of one chain.

    Only in the ``"moments"`` mode. The counters and the draw slots are updated by
    :meth:`FMGibbs.sample` after every sweep; nothing here feeds back into the sampler, so a
    seed gives the same chain in every mode.

    Attributes
    ----------
    sweep : int array of shape ()
        Sweeps done so far, warm-up included.
    count : array of shape ()
        Post-warmup sweeps accumulated in the moments.
    w_mean, w_m2 : arrays of shape (p,)
        Welford's running mean and sum of squared deviations of ``w``.
    v_mean, v_m2 : arrays of shape (p, k)
        The same for ``v``.
    kept_w0, kept_tau : arrays of shape (K,)
    kept_w : array of shape (K, p)
    kept_v : array of shape (K, p, k)
        ``K - 1`` draws kept for predictions, in sweep order, and a last, scratch slot
        (see :meth:`FMGibbs.collect_moments`).
    ref_rows : int array of shape (n_ref,)
        Training rows whose scores are recorded every draw (``eta_ref``).

    """

    sweep: jax.Array
    count: jax.Array
    w_mean: jax.Array
    w_m2: jax.Array
    v_mean: jax.Array
    v_m2: jax.Array
    kept_w0: jax.Array
    kept_w: jax.Array
    kept_v: jax.Array
    kept_tau: jax.Array
    ref_rows: jax.Array


def keep_plan(num_samples: int, thinning: int, max_kept: int) -> tuple[int, int, int]:
    """Which post-warmup sweeps the ``"moments"`` mode keeps for predictions.

    ``MCMC`` with ``thinning`` t stores the sweeps ``T - 1, T - 1 - t, ...`` (counted from 0
    after warm-up, ``T = num_samples``; ``T // t`` of them). The kept sweeps are every
    ``c``-th of those, counted back from the last, with the smallest ``c`` that keeps at most
    ``max_kept``: ``first + m * stride`` for ``m = 0 .. n_keep - 1``, ``stride = c t``. They
    are evenly spread, end with the last sweep, and are a subset of the stored draws.

    Parameters
    ----------
    num_samples : int
        Post-warmup sweeps per chain (``MCMC``'s ``num_samples``).
    thinning : int
        ``MCMC``'s thinning.
    max_kept : int
        Upper bound on the kept draws per chain.

    Returns
    -------
    stride, first, n_keep : int

    Examples
    --------
    >>> from bayesfm.engines.gibbs_kernel import keep_plan
    >>> keep_plan(1000, 1, 100), keep_plan(25, 3, 3), keep_plan(50, 1, 100)
    ((10, 9, 100), (9, 6, 3), (1, 0, 50))

    """
    n_thinned = max(num_samples // thinning, 1)
    every = -(-n_thinned // max_kept)
    stride = every * thinning
    n_keep = (n_thinned - 1) // every + 1
    return stride, num_samples - 1 - (n_keep - 1) * stride, n_keep


def each_chain(sweep: Any, chains: Any, data: Any) -> Any:
    """Apply ``sweep(chain, data)`` to every chain of a batch, one chain after another.

    The chains run through :func:`jax.lax.map`, not :func:`jax.vmap`: under ``vmap`` the
    sweep's in-loop updates of single cache rows (``q``) become scatters over the batched
    cache, which XLA copies whole at every block. That made two field-aware chains on frappe
    33 times slower than running them in turn (18.7 s against 0.56 s per sweep), the plain FM
    20-25% and the degree-3 FM 7% slower (docs/benchmarks.md, benchmarks/bench_chains.py).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> each_chain(lambda c, d: c + d, jnp.arange(3.0), 10.0)
    Array([10., 11., 12.], dtype=float32)
    """
    return lax.map(lambda chain: sweep(chain, data), chains)


class FMGibbsState(NamedTuple):
    """``MCMC``-facing state: the chain, the data it runs on, and the chain's key.

    Attributes
    ----------
    chain : GibbsState
        Parameters and caches (batched over chains when chains are vectorised).
    data : GibbsData
        Never batched; carried so that it enters the compiled sweep as an argument.
    rng_key : PRNG key
        The key ``MCMC`` reads and replaces (``post_warmup_state``).
    moments : Moments or None
        Running moments and kept draws (``store="moments"`` only).

    """

    chain: GibbsState
    data: GibbsData
    rng_key: jax.Array
    moments: Moments | None = None

    @property
    def sites(self) -> dict[str, jax.Array]:
        """Draws of the model's sites, in the shapes of :func:`bayesfm.model.fm_model`.

        In the ``"moments"`` mode only the low-dimensional sites (no ``w``, ``v``), plus the
        scores ``eta_ref`` of the reference rows, read from the cached residuals.
        """
        names = _SITES if self.moments is None else _SMALL_SITES
        # Chains of FM variants with more sites (the degree-3 FM's v3) name them.
        names = names + getattr(self.chain, "extra_sites", ())
        out = {name: getattr(self.chain, name) for name in names}
        if self.chain.z is None:  # Gaussian likelihood
            out["tau"] = self.chain.tau
        out["log_likelihood"] = self.log_likelihood
        if self.moments is not None:
            target = self.data.y if self.chain.z is None else self.chain.z
            out["eta_ref"] = jnp.take_along_axis(target - self.chain.e, self.moments.ref_rows,
                                                 axis=-1)
        return out

    @property
    def log_likelihood(self) -> jax.Array:
        """Total log likelihood of the training rows at the current draw, from the caches.

        O(N) per draw, where recomputing every score from the draws afterwards would cost
        O(k * nnz) per draw.
        """
        chain, data = self.chain, self.data
        if chain.z is None:
            tau = chain.tau[..., None]
            lp = 0.5 * jnp.log(tau / (2 * jnp.pi)) - 0.5 * tau * chain.e * chain.e
        else:
            yhat = chain.z - chain.e
            lp = log_ndtr((2.0 * data.y - 1.0) * yhat)
        if data.weight is not None:
            lp = lp * data.weight
        return jnp.sum(lp, axis=-1)


def _as_arrays(data: Any) -> tuple[Any, Any, Any, int | None]:
    if hasattr(data, "indices") and hasattr(data, "group_of_feature"):
        return data.indices, data.values, data.group_of_feature, getattr(data, "n_groups", None)
    indices, values, group_of_feature = data
    return indices, values, group_of_feature, None


class FMGibbs(MCMCKernel):
    """Exact blocked Gibbs sampling of the Bayesian FM as a NumPyro MCMC kernel.

    Parameters
    ----------
    data : Design or tuple of (indices, values, group_of_feature)
        Training rows; the block structure is computed here, once.
    y : array-like of shape (N,)
        Targets (0/1 for probit).
    rank : int
        Factor rank ``k``.
    n_groups : int, optional
        Number of groups; default from the design, or ``max(group_of_feature) + 1``.
    likelihood : {"gaussian", "probit"}
        ``"logit"`` raises ``ValueError``: it has no conjugate Gibbs update.
    priors : FMPriors
        Constants of the Normal-Gamma hierarchy.
    sample_weight : array-like of shape (N,), optional
        Per-row frequency weights, as in :func:`bayesfm.model.fm_model` (Gaussian only).
    init_scale : float, default 0.1
        Standard deviation of the initial factors.
    dtype : dtype, optional
        Default float32, or float64 under ``jax_enable_x64``.
    layout : {"auto", "dense", "compact"}
        Storage of the blocks (see :func:`bayesfm.engines.gibbs.prepare_data`).
    store : {"draws", "moments"}
        ``"draws"``: ``MCMC`` collects every site at every (thinned) draw. ``"moments"``: it
        collects only the low-dimensional sites and ``eta_ref``; the state accumulates the
        running mean and variance of ``w`` and ``v`` over every post-warmup sweep and keeps
        the prediction draws chosen by :func:`keep_plan` (read them with
        :meth:`collect_moments` from ``MCMC.last_state.moments``).
    num_samples, thinning : int, optional
        ``"moments"`` only: the ``num_samples`` and ``thinning`` given to ``MCMC`` (they
        place the kept draws).
    max_kept : int, default 100
        ``"moments"`` only: at most this many ``(w0, w, v, tau)`` draws kept per chain.
    ref_rows : array-like of int, optional
        ``"moments"`` only: training rows whose scores ``eta_ref`` are recorded every draw
        (default: none).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import MCMC
    >>> from bayesfm.engines.gibbs_kernel import FMGibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> kernel = FMGibbs((idx, val, np.array([0, 0, 1, 1])), np.array([1.0, 2.0, 3.0]), rank=2)
    >>> mcmc = MCMC(kernel, num_warmup=5, num_samples=10, progress_bar=False)
    >>> mcmc.run(jax.random.key(0))
    >>> mcmc.get_samples()["v"].shape
    (10, 4, 2)
    >>> kernel = FMGibbs((idx, val, np.array([0, 0, 1, 1])), np.array([1.0, 2.0, 3.0]), rank=2,
    ...                  store="moments", num_samples=10, max_kept=5)
    >>> mcmc = MCMC(kernel, num_warmup=5, num_samples=10, progress_bar=False)
    >>> mcmc.run(jax.random.key(0))
    >>> stats, kept = kernel.collect_moments(mcmc.last_state.moments, num_chains=1)
    >>> "v" in mcmc.get_samples(), stats["v_mean"].shape, kept["v"].shape
    (False, (1, 4, 2), (1, 5, 4, 2))

    """

    sample_field = "sites"

    def __init__(
        self,
        data: Any,
        y: Any,
        *,
        rank: int,
        n_groups: int | None = None,
        likelihood: str = "gaussian",
        priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
        sample_weight: Any = None,
        init_scale: float = 0.1,
        dtype: Any = None,
        layout: str = "auto",
        store: str = "draws",
        num_samples: int | None = None,
        thinning: int = 1,
        max_kept: int = 100,
        ref_rows: Any = None,
    ) -> None:
        if store not in STORES:
            raise ValueError(f"unknown store {store!r}; valid: {', '.join(STORES)}")
        if store == "moments":
            for name, value in (("num_samples", num_samples), ("thinning", thinning),
                                ("max_kept", max_kept)):
                if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                    raise ValueError(f"{name} must be a positive integer with store='moments', "
                                     f"got {value!r}")
        indices, values, group_of_feature, design_groups = _as_arrays(data)
        if n_groups is None:
            n_groups = design_groups or int(np.max(group_of_feature)) + 1
        if likelihood == "probit" and sample_weight is not None:
            raise ValueError("sample_weight is not supported by the probit Gibbs sampler")
        self.rank = int(rank)
        self.n_groups = int(n_groups)
        self.likelihood = likelihood
        self.priors = FMPriors(*(float(c) for c in priors))
        self.init_scale = float(init_scale)
        _check_likelihood(likelihood)  # before any host work
        self.data = prepare_data(indices, values, group_of_feature, y, n_groups=self.n_groups,
                                 sample_weight=sample_weight, dtype=dtype, layout=layout)
        self.store = store
        if store == "moments":
            self.keep_stride, self.keep_first, self.n_keep = keep_plan(
                int(num_samples), int(thinning), int(max_kept))  # type: ignore[arg-type]
            rows = np.zeros(0, np.int32) if ref_rows is None else np.asarray(ref_rows, np.int32)
            n_rows = self.data.y.shape[0]
            if rows.ndim != 1 or np.any((rows < 0) | (rows >= n_rows)):
                raise ValueError(f"ref_rows must be row numbers in [0, {n_rows}), got {rows}")
            self.ref_rows = rows
        self._num_warmup = 0
        self._vectorized = False

    def init(
        self, rng_key: jax.Array, num_warmup: int, init_params: Any, model_args: Any,
        model_kwargs: Any,
    ) -> FMGibbsState:
        """Start one chain, or a batch of chains when ``rng_key`` is a batch of keys.

        ``init_params`` (optional) is a dict of site values (batched like the keys) to start
        from, e.g. the last draw of an earlier run.
        """
        def start(key: jax.Array, params: dict | None) -> GibbsState:
            return init(key, self.data, rank=self.rank, n_groups=self.n_groups,
                        likelihood=self.likelihood, priors=self.priors,
                        init_scale=self.init_scale, params=params)

        self._vectorized = not is_prng_key(rng_key)
        self._num_warmup = int(num_warmup)
        if self._vectorized:
            chain = jax.vmap(start)(rng_key, init_params)
        else:
            chain = start(rng_key, init_params)
        moments = None
        if self.store == "moments":
            moments = self._start_moments(chain.v)
        return FMGibbsState(chain, self.data, chain.rng_key, moments)

    def _start_moments(self, v: jax.Array) -> Moments:
        """Zero accumulators, batched like ``v`` (``(p, k)`` or ``(chains, p, k)``).

        The kept-draw buffers have ``n_keep + 1`` slots: the last is scratch, written by every
        sweep that is not kept, so that one in-place ``dynamic_update_slice`` per sweep
        serves both cases (a masked scatter, or a select, would rewrite the whole buffer).
        """
        batch, (p, rank) = v.shape[:-2], v.shape[-2:]
        dtype, n = v.dtype, self.n_keep + 1

        def zeros(*shape: int) -> jax.Array:
            return jnp.zeros((*batch, *shape), dtype)

        ref = jnp.broadcast_to(jnp.asarray(self.ref_rows), (*batch, self.ref_rows.size))
        return Moments(
            jnp.zeros(batch, jnp.int32), zeros(), zeros(p), zeros(p), zeros(p, rank),
            zeros(p, rank), zeros(n), zeros(n, p), zeros(n, p, rank), zeros(n), ref,
        )  # fmt: skip

    def _welford(self, m: Moments, chain: GibbsState) -> Moments:
        """Fold the chain's new draw into the running moments (post-warmup sweeps only)."""
        active = m.sweep >= self._num_warmup
        count = m.count + active.astype(m.count.dtype)
        div = jnp.maximum(count, 1.0)

        def update(mean: jax.Array, m2: jax.Array, x: jax.Array) -> tuple:
            delta = x - mean
            new_mean = mean + delta / div
            new_m2 = m2 + delta * (x - new_mean)
            return jnp.where(active, new_mean, mean), jnp.where(active, new_m2, m2)

        w_mean, w_m2 = update(m.w_mean, m.w_m2, chain.w)
        v_mean, v_m2 = update(m.v_mean, m.v_m2, chain.v)
        return m._replace(sweep=m.sweep + 1, count=count, w_mean=w_mean, w_m2=w_m2,
                          v_mean=v_mean, v_m2=v_m2)

    def _keep(self, m: Moments, chain: GibbsState, sweep: jax.Array, axis: int) -> Moments:
        """Write the draw into its slot if ``sweep`` is a kept one, else into the scratch slot.

        ``sweep`` is the same for every chain (they advance together), so the slot is one
        scalar and the write one in-place update even for vectorised chains.
        """
        since = sweep - self._num_warmup - self.keep_first
        hit = (since >= 0) & (since % self.keep_stride == 0)
        # Sweeps past the plan (a finished chain continued) also go to the scratch slot.
        slot = jnp.minimum(jnp.where(hit, since // self.keep_stride, self.n_keep), self.n_keep)

        def put(buf: jax.Array, x: jax.Array) -> jax.Array:
            return lax.dynamic_update_index_in_dim(buf, x.astype(buf.dtype), slot, axis)

        return m._replace(kept_w0=put(m.kept_w0, chain.w0), kept_w=put(m.kept_w, chain.w),
                          kept_v=put(m.kept_v, chain.v), kept_tau=put(m.kept_tau, chain.tau))

    def sample(self, state: FMGibbsState, model_args: Any, model_kwargs: Any) -> FMGibbsState:
        """Run one sweep of every chain (and update the running moments, if kept)."""
        def sweep(chain: GibbsState, data: GibbsData) -> GibbsState:
            return step(chain, data, likelihood=self.likelihood, priors=self.priors)

        chain = state.chain._replace(rng_key=state.rng_key)
        m = state.moments
        if self._vectorized:
            chain = each_chain(sweep, chain, state.data)
            if m is not None:
                m = self._keep(m, chain, m.sweep[0], axis=1)
                m = jax.vmap(self._welford)(m, chain)
        else:
            chain = sweep(chain, state.data)
            if m is not None:
                m = self._welford(self._keep(m, chain, m.sweep, axis=0), chain)
        return FMGibbsState(chain, state.data, chain.rng_key, m)

    def collect_moments(self, moments: Moments, num_chains: int) -> tuple[dict, dict]:
        """Return the running moments and the kept draws of a finished run, as NumPy arrays.

        Parameters
        ----------
        moments : Moments
            ``MCMC.last_state.moments``.
        num_chains : int
            ``MCMC``'s ``num_chains`` (one chain has no chain axis in the state).

        Returns
        -------
        posterior_moments : dict
            ``n_sweeps`` (chain,), ``w_mean, w_var`` (chain, p), ``v_mean, v_var``
            (chain, p, k); population variances (divisor ``n_sweeps``).
        prediction_draws : dict
            ``w0, w, v`` (and ``tau`` for Gaussian) of the kept sweeps, ``(chain, kept, ...)``,
            and ``draw``: their post-warmup sweep numbers.
        """
        def lead(a: jax.Array) -> np.ndarray:
            return np.asarray(a)[None] if num_chains == 1 else np.asarray(a)

        count = lead(moments.count)
        div = np.maximum(count, 1).astype(np.asarray(moments.w_m2).dtype)
        stats = {
            "n_sweeps": count.astype(np.int64),
            "w_mean": lead(moments.w_mean),
            "w_var": lead(moments.w_m2) / div[:, None],
            "v_mean": lead(moments.v_mean),
            "v_var": lead(moments.v_m2) / div[:, None, None],
        }
        n = self.n_keep
        kept = {"w0": lead(moments.kept_w0)[:, :n], "w": lead(moments.kept_w)[:, :n],
                "v": lead(moments.kept_v)[:, :n]}
        if self.likelihood == "gaussian":
            kept["tau"] = lead(moments.kept_tau)[:, :n]
        kept["draw"] = self.keep_first + self.keep_stride * np.arange(n)
        return stats, kept


def run_gibbs(
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
    store: str = "draws",
    max_kept: int = 100,
    ref_rows: Any = None,
) -> dict[str, Any]:
    """Draw from the FM posterior with the exact blocked Gibbs sampler.

    Parameters
    ----------
    indices, values : array-like of shape (N, L)
        Padded rows (see :class:`bayesfm.data.Design`).
    group_of_feature : array-like of shape (p,)
        Group of every feature.
    y : array-like of shape (N,)
        Targets (0/1 for probit).
    n_groups : int
        Number of groups ``G``.
    rank : int
        Factor rank ``k``.
    likelihood : {"gaussian", "probit"}
        Observation model; ``"logit"`` raises ``ValueError``.
    sample_weight : array-like of shape (N,), optional
        Per-row frequency weights, as in :func:`bayesfm.model.fm_model` (Gaussian only).
    priors : FMPriors
        Constants of the Normal-Gamma hierarchy.
    num_warmup, num_samples, num_chains, thinning : int
        As in :class:`numpyro.infer.MCMC`: ``num_samples`` post-warmup sweeps per chain, of
        which every ``thinning``-th draw is kept.
    rng_key : PRNG key
        Seeds every chain; the draws do not depend on ``store``.
    progress_bar : bool
        Show ``MCMC``'s progress bar.
    chain_method : {"vectorized", "sequential", "parallel"}
        How ``MCMC`` runs several chains.
    init_scale : float, default 0.1
        Standard deviation of the initial factors.
    store : {"draws", "moments"}
        Memory mode (see :class:`FMGibbs`).
    max_kept : int, default 100
        ``"moments"``: at most this many ``(w0, w, v, tau)`` draws per chain for predictions.
    ref_rows : array-like of int, optional
        ``"moments"``: training rows whose scores are recorded every draw as ``eta_ref``.

    Returns
    -------
    dict
        Draws of ``w0, w, v, mu_w, lambda_w, mu_v, lambda_v`` (and ``tau`` for Gaussian) and
        the total ``log_likelihood``, each with leading ``(chain, draw)`` dimensions. With
        ``store="moments"``: no ``w`` or ``v`` but ``eta_ref``, plus two dicts of arrays with
        a leading chain dimension: ``"posterior_moments"`` (``w_mean, w_var, v_mean, v_var``,
        population variances over the ``n_sweeps`` post-warmup sweeps) and
        ``"prediction_draws"`` (``w0, w, v, tau`` of the kept sweeps, and ``draw``: their
        post-warmup sweep numbers).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs_kernel import run_gibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> draws = run_gibbs(idx, val, [0, 0, 1, 1], [1.0, 2.0, 3.0], n_groups=2, rank=2,
    ...                   num_warmup=5, num_samples=10, num_chains=2,
    ...                   rng_key=jax.random.key(0), progress_bar=False)
    >>> draws["v"].shape, draws["tau"].shape
    ((2, 10, 4, 2), (2, 10))
    >>> out = run_gibbs(idx, val, [0, 0, 1, 1], [1.0, 2.0, 3.0], n_groups=2, rank=2,
    ...                 num_warmup=5, num_samples=10, num_chains=2, store="moments",
    ...                 max_kept=4, rng_key=jax.random.key(0), progress_bar=False)
    >>> out["posterior_moments"]["v_mean"].shape, out["prediction_draws"]["v"].shape
    ((2, 4, 2), (2, 4, 4, 2))

    """
    kernel = FMGibbs((indices, values, group_of_feature), y, rank=rank, n_groups=n_groups,
                     likelihood=likelihood, priors=priors, sample_weight=sample_weight,
                     init_scale=init_scale, store=store, num_samples=num_samples,
                     thinning=thinning, max_kept=max_kept, ref_rows=ref_rows)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                thinning=thinning, chain_method=chain_method, progress_bar=progress_bar)
    mcmc.run(rng_key)
    out: dict[str, Any] = {
        k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()
    }
    if store == "moments":
        out["posterior_moments"], out["prediction_draws"] = kernel.collect_moments(
            mcmc.last_state.moments, num_chains)
    return out
