"""Exact random variates in pure JAX, written for small compiled programs on a CPU.

The Gibbs sweep's noise (:func:`noise`), Gamma draws (:func:`gamma`) and the truncated
normals of the probit and ordinal latent steps; the Polya-Gamma draws of the logit step are
in :mod:`bayesfm.engines.polyagamma`. Nothing here knows the model: each function maps keys
or uniforms to draws.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import log_ndtr, ndtri

from bayesfm.model.likelihoods.ordinal import _log1mexp

__all__ = ["gamma", "noise", "truncnorm_between", "truncnorm_residual"]


def noise(key: jax.Array, n_normal: int, n_uniform: int, dtype: Any) -> tuple:
    """``n_normal`` standard normals and ``n_uniform`` uniforms on (0, 1) from one call.

    Compile time on a CPU grows with the number of random-number call sites (each inlines a
    Threefry hash and XLA may clone the inverse-erf into every consumer), so a sweep draws
    all its noise here, materialised once behind an optimisation barrier.
    """
    lo = jnp.nextafter(jnp.asarray(-1.0, dtype), jnp.asarray(1.0, dtype))
    u = jax.random.uniform(key, (n_normal + n_uniform,), dtype, minval=lo, maxval=1.0)
    normal = jnp.sqrt(jnp.asarray(2.0, dtype)) * lax.erf_inv(u[:n_normal])
    return lax.optimization_barrier((normal, 0.5 * (u[n_normal:] + 1.0)))


def gamma(key: jax.Array, shape: jax.Array, boost_uniform: jax.Array) -> jax.Array:
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
        n, u = noise(jax.random.fold_in(key, i), size, size, shape.dtype)
        t = c * n * (3.0 + c * n * (3.0 + c * n))  # (1 + c n)^3 - 1, without cancellation
        ok = (t > -1.0) & (jnp.log(u) < 0.5 * n * n + d * (jnp.log1p(t) - t))
        return i + 1, jnp.where(done, x, d * (1.0 + t)), done | ok

    start = (jnp.zeros((), jnp.uint32), jnp.ones_like(shape), jnp.zeros(shape.shape, bool))
    _, x, _ = lax.while_loop(lambda carry: ~jnp.all(carry[2]), propose, start)
    return jnp.where(boost, x * jnp.exp(jnp.log(boost_uniform) / shape), x)


def truncnorm_residual(uniform: jax.Array, yhat: jax.Array, y: jax.Array) -> jax.Array:
    """``z - yhat`` for ``z ~ Normal(yhat, 1)`` truncated to ``z > 0`` (y=1) or ``z <= 0`` (y=0).

    Inverse CDF in log space through ``log_ndtr`` of the bound, which stays accurate where the
    usual ``erf`` form underflows; the clamp acts only where even that underflows.
    """
    sgn = 2.0 * y - 1.0
    tiny = jnp.finfo(yhat.dtype).tiny
    cdf = jnp.exp(jnp.log(uniform) + log_ndtr(sgn * yhat))
    dist_from_bound = -ndtri(jnp.maximum(cdf, tiny))
    return sgn * jnp.maximum(dist_from_bound, -sgn * yhat)


def truncnorm_between(uniform: jax.Array, lo: jax.Array, hi: jax.Array) -> jax.Array:
    """``Normal(0, 1)`` truncated to ``[lo, hi]`` by the inverse CDF, ``uniform`` in (0, 1).

    ``lo`` may be ``-inf`` and ``hi`` ``+inf``. An interval in the upper tail is reflected into
    the lower tail, and the CDF is handled in log space, so draws stay inside the bounds and
    accurate far in the tails; the final clamp acts only where even that underflows.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.engines.variates import truncnorm_between
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
