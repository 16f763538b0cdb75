"""The Bayesian factorization machine as one NumPyro model (DESIGN section 1).

Sites (fixed names): ``w0``, ``w``, ``v``, ``mu_w``, ``lambda_w``, ``mu_v``, ``lambda_v``,
``tau`` (Gaussian likelihood only), ``cut_gaps`` and ``cutpoints`` (ordinal only, see
:mod:`bayesfm.cutpoints`) and the observed ``y``. Plates (fixed names): ``obs``,
``feature``, ``group``; the ``factor`` axis of ``v``, ``mu_v`` and ``lambda_v`` is an event
dimension (so each plate keeps one dim, as autoguides require) and is labelled ``factor`` in
the results.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from jax.scipy.special import log_ndtr
from numpyro.infer.reparam import LocScaleReparam

from bayesfm.cutpoints import OrderedProbit, sample_cutpoints

__all__ = [
    "FMPriors",
    "LIKELIHOODS",
    "fm_linear",
    "fm_pairwise",
    "fm_predict",
    "fm_model",
    "probit_logits",
    "log_likelihood",
]

LIKELIHOODS = ("gaussian", "probit", "logit", "ordinal")
PARAMETERIZATIONS = ("centered", "noncentered")


class FMPriors(NamedTuple):
    """Constants of the Normal-Gamma hierarchy (libFM's MCMC defaults).

    ``reg0`` is the fixed prior precision of the global bias ``w0``. libFM uses 0 (an improper
    flat prior); bayesfm uses 1 so that the prior is proper (prior predictive draws and
    simulation-based calibration need that). With more than a handful of rows the difference
    is invisible in the posterior.
    """

    a0: float = 1.0
    b0: float = 1.0
    gamma0: float = 1.0
    mu0: float = 0.0
    reg0: float = 1.0


def fm_linear(w0: jax.Array, w: jax.Array, indices: jax.Array, values: jax.Array) -> jax.Array:
    """Bias plus linear term, ``w0 + sum_i w_i x_ni``, for padded rows of shape ``(N, L)``."""
    return w0 + jnp.sum(w[indices] * values, axis=-1)


def fm_pairwise(v: jax.Array, indices: jax.Array, values: jax.Array) -> jax.Array:
    """Pairwise term ``1/2 sum_f [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]`` in O(k * nnz).

    Parameters
    ----------
    v : array of shape (p, k)
    indices, values : arrays of shape (N, L)

    Returns
    -------
    array of shape (N,)
    """
    vx = v[indices] * values[..., None]  # (N, L, k)
    s = jnp.sum(vx, axis=-2)
    s2 = jnp.sum(vx * vx, axis=-2)
    return 0.5 * jnp.sum(s * s - s2, axis=-1)


def fm_predict(
    w0: jax.Array, w: jax.Array, v: jax.Array, indices: jax.Array, values: jax.Array
) -> jax.Array:
    """Compute the FM score ``yhat_n`` (the latent mean, before any link) of padded rows.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model import fm_predict
    >>> v = jnp.array([[1.0], [2.0], [3.0]])
    >>> idx = jnp.array([[0, 2]]); val = jnp.array([[1.0, 1.0]])
    >>> float(fm_predict(0.5, jnp.zeros(3), v, idx, val)[0])  # 0.5 + v0 * v2
    3.5
    """
    return fm_linear(w0, w, indices, values) + fm_pairwise(v, indices, values)


def probit_logits(eta: jax.Array) -> jax.Array:
    """Logits of ``Phi(eta)``, computed stably as ``log Phi(eta) - log Phi(-eta)``."""
    return log_ndtr(eta) - log_ndtr(-eta)


def _observation_dist(
    eta: jax.Array, likelihood: str, tau: jax.Array | None, cutpoints: jax.Array | None = None
) -> dist.Distribution:
    if likelihood == "ordinal":
        if cutpoints is None:
            raise ValueError("the ordinal likelihood needs cutpoints")
        return OrderedProbit(eta, cutpoints)
    if likelihood == "gaussian":
        return dist.Normal(eta, jax.lax.rsqrt(tau))
    logits = probit_logits(eta) if likelihood == "probit" else eta
    return dist.Bernoulli(logits=logits)


def log_likelihood(
    eta: jax.Array,
    y: jax.Array,
    likelihood: str,
    tau: jax.Array | None = None,
    weight: jax.Array | None = None,
    cutpoints: jax.Array | None = None,
) -> jax.Array:
    """Pointwise log likelihood of ``y`` given scores ``eta``, times the row weights.

    ``cutpoints`` (``(..., C-1)``) is needed by the ordinal likelihood only.

    Weights are frequency weights: a row of weight 2 counts as that row twice, so the
    Gaussian conditional of ``tau`` is ``Gamma(a0 + sum s/2, b0 + sum s e^2/2)``.
    """
    lp = _observation_dist(eta, likelihood, tau, cutpoints).log_prob(y)
    return lp if weight is None else lp * weight


def fm_model(
    indices: jax.Array,
    values: jax.Array,
    group_of_feature: jax.Array,
    y: jax.Array | None = None,
    *,
    n_groups: int,
    rank: int,
    likelihood: str = "gaussian",
    sample_weight: jax.Array | None = None,
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    parameterization: str = "centered",
    subsample_size: int | None = None,
    n_classes: int | None = None,
) -> None:
    """NumPyro model of the Bayesian FM with grouped Normal-Gamma priors.

    Parameters
    ----------
    indices, values : arrays of shape (N, L)
        Padded rows (see :class:`bayesfm.data.Design`).
    group_of_feature : int array of shape (p,)
    y : array of shape (N,), optional
        Observations; ``None`` samples them (prior or posterior predictive).
    n_groups, rank : int
        Number of groups ``G`` and factor rank ``k``.
    likelihood : {"gaussian", "probit", "logit", "ordinal"}
        ``"ordinal"`` is the ordered probit of :mod:`bayesfm.cutpoints` (``y`` holds class
        codes ``0 .. n_classes-1``).
    sample_weight : array of shape (N,), optional
        Non-negative frequency weights: each row's log likelihood is multiplied by its
        weight (a weight of 2 is the row twice; 0 drops it).
    priors : FMPriors
    parameterization : {"centered", "noncentered"}
        Non-centred draws ``w`` and ``v`` as ``mu + z / sqrt(lambda)``; the sites keep their
        names, so results look the same.
    subsample_size : int, optional
        Minibatch size for SVI; the likelihood is rescaled by ``N / subsample_size``.
    n_classes : int, optional
        Number of ordered classes ``C >= 2`` (ordinal likelihood only).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import Predictive
    >>> from bayesfm.model import fm_model
    >>> idx = np.array([[0, 2], [1, 3]]); val = np.ones((2, 2), np.float32)
    >>> prior = Predictive(fm_model, num_samples=3)(
    ...     jax.random.key(0), idx, val, np.array([0, 0, 1, 1]), n_groups=2, rank=2)
    >>> prior["v"].shape, prior["y"].shape
    ((3, 4, 2), (3, 2))
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; valid: {', '.join(LIKELIHOODS)}")
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"unknown parameterization {parameterization!r}; valid: {', '.join(PARAMETERIZATIONS)}"
        )
    if likelihood == "ordinal" and (n_classes is None or n_classes < 2):
        raise ValueError(f"likelihood='ordinal' needs n_classes >= 2, got {n_classes!r}")
    if parameterization == "noncentered":
        config = {"w": LocScaleReparam(0.0), "v": LocScaleReparam(0.0)}
        with numpyro.handlers.reparam(config=config):
            _fm_body(indices, values, group_of_feature, y, n_groups, rank, likelihood,
                     sample_weight, priors, subsample_size, n_classes)
    else:
        _fm_body(indices, values, group_of_feature, y, n_groups, rank, likelihood,
                 sample_weight, priors, subsample_size, n_classes)


def _fm_body(
    indices: Any,
    values: Any,
    group_of_feature: Any,
    y: Any,
    n_groups: int,
    rank: int,
    likelihood: str,
    sample_weight: Any,
    priors: FMPriors,
    subsample_size: int | None,
    n_classes: int | None = None,
) -> None:
    a0, b0, gamma0, mu0, reg0 = priors
    n_features = group_of_feature.shape[0]
    n_rows = indices.shape[0]
    gof = jnp.asarray(group_of_feature)

    with numpyro.plate("group", n_groups, dim=-1):
        lambda_w = numpyro.sample("lambda_w", dist.Gamma(a0, b0))
        mu_w = numpyro.sample("mu_w", dist.Normal(mu0, jax.lax.rsqrt(gamma0 * lambda_w)))
        # The factor axis is an event dimension, so that the "group" and "feature" plates
        # keep one dim everywhere (autoguides require consistent plates).
        lambda_v = numpyro.sample(
            "lambda_v", dist.Gamma(a0, b0).expand([rank]).to_event(1)
        )
        mu_v = numpyro.sample(
            "mu_v", dist.Normal(mu0, jax.lax.rsqrt(gamma0 * lambda_v)).to_event(1)
        )

    w0 = numpyro.sample("w0", dist.Normal(0.0, 1.0 / jnp.sqrt(reg0)))
    with numpyro.plate("feature", n_features, dim=-1):
        w = numpyro.sample("w", dist.Normal(mu_w[gof], jax.lax.rsqrt(lambda_w[gof])))
        v = numpyro.sample(
            "v", dist.Normal(mu_v[gof], jax.lax.rsqrt(lambda_v[gof])).to_event(1)
        )

    tau = numpyro.sample("tau", dist.Gamma(a0, b0)) if likelihood == "gaussian" else None
    cutpoints = sample_cutpoints(int(n_classes or 0)) if likelihood == "ordinal" else None

    with numpyro.plate("obs", n_rows, subsample_size=subsample_size, dim=-1) as rows:
        idx = indices[rows] if subsample_size is not None else indices
        val = values[rows] if subsample_size is not None else values
        eta = fm_predict(w0, w, v, jnp.asarray(idx), jnp.asarray(val))
        obs = None
        if y is not None:
            obs = y[rows] if subsample_size is not None else y
        d = _observation_dist(eta, likelihood, tau, cutpoints)
        if sample_weight is None:
            numpyro.sample("y", d, obs=obs)
        else:
            weight = sample_weight[rows] if subsample_size is not None else sample_weight
            # Frequency weights; rows of weight 0 are masked out (scale must be positive).
            with numpyro.handlers.mask(mask=weight > 0), numpyro.handlers.scale(
                scale=jnp.where(weight > 0, weight, 1.0)
            ):
                numpyro.sample("y", d, obs=obs)
