"""Ordered probit: Metropolis cutpoints, a latent-scale move, then truncated utilities.

Before the FM's blocks, one sweep runs (DESIGN section 3, "Ordinal"): (1) each free cutpoint
(``cut[0] = 0`` is fixed) gets a random-walk Metropolis step on its conditional *with the
latent z integrated out* (Cowles 1996): given ``z`` each would be confined to the narrow gap
between the neighbouring classes' latents; (2) a scale move, also with ``z`` integrated out:
every quantity on the latent scale is multiplied so that ``yhat`` scales by ``s`` (``w0, w,
mu_w, cut`` by ``s``; a factor matrix of order ``m``, and its mean, by ``s^(1/m)``; the
precisions by the inverse squares), ``log s`` a Metropolis step on the joint density times
the Jacobian, a parameter-expanded data augmentation (Liu and Wu 1999) that works for every
interaction term through its factor orders (without it the cutpoints' ESS was about 6% of
the draws); (3) ``z_n ~ Normal(yhat_n, 1)`` truncated to ``(cut[y_n - 1], cut[y_n]]``. The
proposal scales are adapted during warm-up (Robbins-Monro towards an acceptance rate of 0.44)
and frozen after it, so the kept draws come from a fixed, valid Metropolis kernel.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import ndtri

from bayesfm.engines.gibbs.blocks import GibbsData
from bayesfm.engines.gibbs.latents.base import GibbsLatent, register_latent
from bayesfm.engines.variates import truncnorm_between
from bayesfm.model.likelihoods.ordinal import (
    cutpoint_log_prior,
    interval_log_prob,
    ordinal_log_prob,
)
from bayesfm.model.priors import FMPriors
from bayesfm.model.scaling import scale_scores

__all__ = ["OrdinalLatent", "TARGET_ACCEPT"]

#: Target acceptance rate of each cutpoint's random-walk proposal during warm-up.
TARGET_ACCEPT = 0.44


def _initial_cutpoints(
    y: jax.Array, n_classes: int, weight: jax.Array | None = None
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Cutpoints and bias matching the class frequencies (smoothed by one row per class).

    Also the initial log proposal scales: a cutpoint is pinned down by the rows of its two
    neighbouring classes, the common scale by all rows, so their posterior sds shrink like
    one over the square root of those counts (warm-up then tunes them).
    """
    counts = jnp.zeros(n_classes, y.dtype).at[y.astype(jnp.int32)].add(
        1.0 if weight is None else weight) + 1.0
    quantiles = ndtri(jnp.cumsum(counts)[:-1] / counts.sum())
    step_cut = 2.0 * lax.rsqrt(counts[1:-1] + counts[2:])
    step_scale = 2.0 * lax.rsqrt(counts.sum())[None]
    log_step = jnp.log(jnp.minimum(jnp.concatenate([step_cut, step_scale]), 0.5))
    return quantiles - quantiles[0], -quantiles[0], log_step


def _adapt(state: Any, log_ratio: jax.Array, dtype: Any) -> jax.Array:
    """Robbins-Monro step of a log proposal scale during warm-up (0 afterwards)."""
    lat = state.latent
    adapting = lat["iteration"] < lat["adapt_until"]
    rate = (lat["iteration"].astype(dtype) + 1.0) ** -0.6
    return jnp.where(adapting, rate * (jnp.exp(jnp.minimum(log_ratio, 0.0)) - TARGET_ACCEPT),
                     0.0)


def _class_log_prob(yhat: jax.Array, y: jax.Array, cut: jax.Array) -> jax.Array:
    """:func:`~bayesfm.model.likelihoods.ordinal.ordinal_log_prob` for the Metropolis steps.

    The same :func:`~bayesfm.model.likelihoods.ordinal.interval_log_prob` with two
    ``log_ndtr`` per row instead of four: the end classes' open bounds enter as infinities
    (no gradient is taken here), where the model's version keeps them finite for NUTS. Each
    ``log_ndtr`` expands into a few hundred operations in the compiled sweep, and the
    cutpoint and scale moves evaluate this three times a sweep. It agrees with the model's
    to float rounding (tests/engines/gibbs/test_ordinal.py).
    """
    code = y.astype(jnp.int32)
    inf = jnp.full((1,), jnp.inf, cut.dtype)
    bounds = jnp.concatenate([-inf, cut, inf])
    return interval_log_prob(bounds[code] - yhat, bounds[code + 1] - yhat)


def _weighted_sum(lp: jax.Array, data: GibbsData) -> jax.Array:
    """Sum of the rows' log likelihoods (weight 0: the padding rows of a sharded layout)."""
    return jnp.sum(lp) if data.weight is None else jnp.sum(_weighted(lp, data.weight))


def _weighted(lp: jax.Array, weight: jax.Array) -> jax.Array:
    return jnp.where(weight > 0, lp * weight, 0.0)  # a padding row's -inf must not count


@register_latent
@dataclasses.dataclass(frozen=True)
class OrdinalLatent(GibbsLatent):
    """Ordered probit; the latent state is ``z`` plus the Metropolis proposal scales.

    ``latent["log_step"]`` holds the log sd of each free cutpoint's proposal, then that of
    the scale move's ``log s``; ``accept`` the share of cutpoint proposals accepted in the
    last sweep (NaN when ``C = 2``: no free cutpoint); ``iteration`` the sweeps done. User
    weights are refused (:meth:`check_weights`); the data's ``weight`` is then 0 or 1, the
    0s marking the padding rows of a layout over several devices, which every sum skips.
    """

    name = "ordinal"
    sites = ("cutpoints",)
    stats = ("acceptance_rate",)
    scales_itself = True

    @property
    def n_classes(self) -> int:
        """Number of ordered classes ``C``."""
        return int(getattr(self.likelihood, "n_classes", 0) or 0)

    def start_params(self, data: GibbsData) -> dict[str, jax.Array]:  # noqa: D102
        # The cutpoints and w0 start where the class frequencies put them
        # (Phi(cut[c] - w0) = share of classes <= c).
        cut0, w0, _ = _initial_cutpoints(data.y, self.n_classes, data.weight)
        return {"w0": w0.astype(data.y.dtype), "cutpoints": cut0.astype(data.y.dtype)}

    def start(  # noqa: D102
        self, data: GibbsData, yhat: jax.Array, num_warmup: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        dtype = data.y.dtype
        _, _, log_step = _initial_cutpoints(data.y, self.n_classes, data.weight)
        z = yhat  # any z is a valid start (the first sweep redraws it)
        return z - yhat, {
            "z": z, "tau": jnp.ones((), dtype), "log_step": log_step.astype(dtype),
            "accept": jnp.asarray(jnp.nan, dtype),
            "iteration": jnp.zeros((), jnp.int32), "adapt_until": num_warmup,
        }

    def begin(self, state: Any, data: GibbsData, term: Any, priors: FMPriors) -> Any:  # noqa: D102
        key, k_cut, k_scale, k_z = jax.random.split(state.rng_key, 4)
        yhat = state.latent["z"] - state.e
        cut, log_step, accept, loglik = self._update_cutpoints(k_cut, state, yhat, data)
        state, cut, yhat, step_s = self._scale_move(k_scale, state, cut, yhat, data, term,
                                                    priors, loglik)
        log_step = log_step.at[-1].set(step_s)
        # z | cut, yhat: truncated to the interval of its class.
        code = data.y.astype(jnp.int32)
        inf = jnp.asarray(jnp.inf, cut.dtype)
        bounds = jnp.concatenate([-inf[None], cut, inf[None]])
        lo, hi = bounds[code] - yhat, bounds[code + 1] - yhat
        u = jax.random.uniform(k_z, yhat.shape, yhat.dtype, minval=jnp.finfo(yhat.dtype).tiny)
        e = truncnorm_between(u, lo, hi)
        latent = {**state.latent, "z": yhat + e, "log_step": log_step, "accept": accept,
                  "iteration": state.latent["iteration"] + 1}
        return state._replace(params={**state.params, "cutpoints": cut}, e=e, latent=latent,
                              rng_key=key)

    def _update_cutpoints(
        self, key: jax.Array, state: Any, yhat: jax.Array, data: GibbsData
    ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
        """Random-walk Metropolis on each free cutpoint, ``z`` integrated out.

        Also returns the log likelihood at the final cutpoints (the scale move starts there).
        """
        cut, log_step = state.params["cutpoints"], state.latent["log_step"]
        n_free = cut.shape[0] - 1

        def loglik(c: jax.Array) -> jax.Array:
            return _weighted_sum(_class_log_prob(yhat, data.y, c), data)

        if n_free == 0:
            return cut, log_step, jnp.asarray(jnp.nan, cut.dtype), loglik(cut)
        dtype = cut.dtype
        k_noise, k_u = jax.random.split(key)
        noise = jax.random.normal(k_noise, (n_free,), dtype)
        log_u = jnp.log(jax.random.uniform(k_u, (n_free,), dtype, minval=jnp.finfo(dtype).tiny))

        def one(j: jax.Array, carry: tuple) -> tuple:
            cut, log_step, ll, lprior, n_acc = carry
            prop = cut.at[j + 1].add(jnp.exp(log_step[j]) * noise[j])
            ll_prop, lprior_prop = loglik(prop), cutpoint_log_prior(prop)
            lp_prop = ll_prop + lprior_prop  # -inf when the proposal breaks the order
            log_ratio = jnp.where(jnp.isfinite(lp_prop), lp_prop - (ll + lprior), -jnp.inf)
            ok = log_u[j] < log_ratio
            log_step = log_step.at[j].add(_adapt(state, log_ratio, dtype))
            return (jnp.where(ok, prop, cut), log_step, jnp.where(ok, ll_prop, ll),
                    jnp.where(ok, lprior_prop, lprior), n_acc + ok.astype(dtype))

        start = (cut, log_step, loglik(cut), cutpoint_log_prior(cut), jnp.zeros((), dtype))
        cut, log_step, ll, _, n_acc = lax.fori_loop(0, n_free, one, start)
        return cut, log_step, n_acc / n_free, ll

    def _log_prior_scaled(
        self, params: dict[str, jax.Array], cut: jax.Array, log_s: jax.Array, term: Any,
        priors: FMPriors,
    ) -> jax.Array:
        """Log prior of the parameters after the scale move by ``s``, plus its log Jacobian.

        The conditional priors of ``w`` and the factor matrices are invariant under the move
        (their means and scales move with them) and cancel against their Jacobian, so only
        the top of the hierarchy, ``w0`` and the cutpoints remain.
        """
        a0, b0, gamma0, mu0, reg0 = priors
        sc = scale_scores(params, term.interaction, jnp.exp(log_s))

        def normal(x: jax.Array, mean: Any, prec: jax.Array) -> jax.Array:
            return jnp.sum(0.5 * jnp.log(prec) - 0.5 * prec * (x - mean) ** 2)

        def gamma(lam: jax.Array) -> jax.Array:
            return jnp.sum((a0 - 1.0) * jnp.log(lam) - b0 * lam)

        names = [fs.name for fs in term.interaction.factor_sets]
        terms = [normal(sc["w0"], 0.0, jnp.asarray(reg0)),
                 normal(sc["mu_w"], mu0, gamma0 * sc["lambda_w"]),
                 *[normal(sc[f"mu_{n}"], mu0, gamma0 * sc[f"lambda_{n}"]) for n in names],
                 gamma(sc["lambda_w"]), *[gamma(sc[f"lambda_{n}"]) for n in names],
                 cutpoint_log_prior(cut * jnp.exp(log_s))]
        # Jacobian of (w0, mu_w, lambda_w, each factor set's mu and lambda, free cutpoints).
        n_groups = params["mu_w"].shape[0]
        power = 1 + n_groups - 2 * n_groups
        for fs in term.interaction.factor_sets:
            n = params[f"mu_{fs.name}"].size
            power = power + n / fs.order - 2 * n / fs.order
        power = power + cut.shape[0] - 1
        return functools.reduce(operator.add, terms) + log_s * power

    def _scale_move(
        self, key: jax.Array, state: Any, cut: jax.Array, yhat: jax.Array, data: GibbsData,
        term: Any, priors: FMPriors, loglik: jax.Array,
    ) -> tuple[Any, jax.Array, jax.Array, jax.Array]:
        """Metropolis step on ``log s`` (see the module docstring); returns the moved state.

        ``loglik``: the log likelihood at ``s = 1`` (the cutpoint step's).
        """
        dtype = yhat.dtype
        k_noise, k_u = jax.random.split(key)
        log_step = state.latent["log_step"][-1]
        log_s = jnp.exp(log_step) * jax.random.normal(k_noise, (), dtype)

        def log_prior(ls: jax.Array) -> jax.Array:
            return self._log_prior_scaled(state.params, cut, ls, term, priors)

        s_prop = jnp.exp(log_s)
        ll_prop = _weighted_sum(_class_log_prob(yhat * s_prop, data.y, cut * s_prop), data)
        log_ratio = (ll_prop + log_prior(log_s)) - (loglik + log_prior(jnp.zeros((), dtype)))
        log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
        u = jax.random.uniform(k_u, (), dtype, minval=jnp.finfo(dtype).tiny)
        ok = jnp.log(u) < log_ratio
        log_step = log_step + _adapt(state, log_ratio, dtype)
        s = jnp.where(ok, jnp.exp(log_s), 1.0)
        params = {**state.params, **scale_scores(state.params, term.interaction, s)}
        state = state._replace(params=params, q=term.scale_cache(state.q, s))
        return state, cut * s, yhat * s, log_step

    def yhat(self, state: Any, data: GibbsData) -> jax.Array:  # noqa: D102
        return state.latent["z"] - state.e

    def pointwise_log_likelihood(self, state: Any, data: GibbsData) -> jax.Array:  # noqa: D102
        lp = ordinal_log_prob(self.yhat(state, data), data.y, state.params["cutpoints"])
        return lp if data.weight is None else _weighted(lp, data.weight)

    def stat_values(self, state: Any) -> dict[str, jax.Array]:  # noqa: D102
        return {"acceptance_rate": state.latent["accept"]}
