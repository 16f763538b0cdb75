"""The Bayesian factorization machine as one NumPyro model (DESIGN section 1).

:func:`fm_model` is the single definition of the priors and the likelihood, for every
interaction term (:mod:`bayesfm.model.interactions`) and likelihood
(:mod:`bayesfm.model.likelihoods`). Sites (fixed names): ``w0``, ``w``, ``mu_w``,
``lambda_w``, the term's factor matrices with their ``mu_*`` and ``lambda_*`` (``v``, and
``v3`` for the degree-3 FM), the likelihood's own sites (``tau``; ``cut_gaps`` and
``cutpoints``) and the observed ``y``. Plates (fixed names): ``obs``, ``feature``,
``group``; the factor axes of the factor matrices and their hyperparameters are event
dimensions (so each plate keeps one dim, as autoguides require) and are labelled in the
results by the term's dims.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.infer.reparam import LocScaleReparam

from bayesfm.model.interactions import Interaction, fm_linear, get_interaction
from bayesfm.model.likelihoods import Likelihood, get_likelihood
from bayesfm.model.priors import (
    PARAMETERIZATIONS,
    FMPriors,
    sample_group_hyperpriors,
    sample_members,
)

__all__ = ["fm_model", "fm_score", "pointwise_log_likelihood", "sample_network"]


def sample_network(
    interaction: Interaction, n_groups: int, rank: int, priors: FMPriors
) -> dict[str, jax.Array]:
    """Sample the neural part of a term: ``lambda_<net>`` per layer, then every weight array.

    ``lambda_<net>[l] ~ Gamma(a0, b0)``; a weight array of layer ``l`` with ``fan_in``
    inputs per unit is ``Normal(0, 1 / sqrt(lambda_<net>[l] * fan_in))`` (global sites,
    outside every plate). Nothing for terms without a network.
    """
    sites = interaction.network_sites(n_groups, rank)
    if not sites:
        return {}
    n_layers = interaction.n_layers(n_groups, rank)
    lam = numpyro.sample(f"lambda_{interaction.network}",
                         dist.Gamma(priors.a0, priors.b0).expand([n_layers]).to_event(1))
    out = {}
    for site in sites:
        sd = jax.lax.rsqrt(lam[site.layer] * site.fan_in)
        out[site.name] = numpyro.sample(
            site.name, dist.Normal(0.0, sd).expand(list(site.shape)).to_event(len(site.shape)))
    return out


def fm_score(
    params: Mapping[str, jax.Array],
    interaction: Interaction,
    indices: jax.Array,
    values: jax.Array,
    group_of_feature: jax.Array,
    n_groups: int | None = None,
) -> jax.Array:
    """Return the FM score ``eta_n = w0 + sum_i w_i x_ni + t(x_n)`` of padded rows for one draw.

    The input-aware FM first rescales the values (:meth:`Interaction.row_values`), for the
    linear term too. ``n_groups`` (static) is needed by the terms with a neural part.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model import fm_score, get_interaction
    >>> params = {"w0": 0.5, "w": jnp.zeros(2), "v": jnp.array([[1.0], [3.0]])}
    >>> eta = fm_score(params, get_interaction("fm"), jnp.array([[0, 1]]), jnp.ones((1, 2)),
    ...                jnp.array([0, 1]))
    >>> float(eta[0])
    3.5
    """
    values = interaction.row_values(params, indices, values, group_of_feature,
                                    n_groups=n_groups)
    linear = fm_linear(params["w0"], params["w"], indices, values)
    return linear + interaction.score(params, indices, values, group_of_feature,
                                      n_groups=n_groups)


def pointwise_log_likelihood(
    likelihood: Likelihood,
    y: jax.Array,
    eta: jax.Array,
    params: Mapping[str, Any],
    weight: jax.Array | None = None,
) -> jax.Array:
    """Pointwise log likelihood of ``y`` given scores ``eta``, times the row weights.

    Weights are frequency weights: a row of weight 2 counts as that row twice, so the
    Gaussian conditional of ``tau`` is ``Gamma(a0 + sum s/2, b0 + sum s e^2/2)``.
    """
    lp = likelihood.log_prob(y, eta, params)
    return lp if weight is None else lp * weight


def fm_model(
    indices: jax.Array,
    values: jax.Array,
    group_of_feature: jax.Array,
    y: jax.Array | None = None,
    *,
    n_groups: int,
    rank: int,
    likelihood: str | Likelihood = "gaussian",
    interaction: str | Interaction = "fm",
    degree: int = 2,
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
    likelihood : str or Likelihood
        ``"gaussian"``, ``"probit"``, ``"logit"``, ``"ordinal"`` (the ordered probit of
        :mod:`bayesfm.model.likelihoods.ordinal`; ``y`` holds class codes
        ``0 .. n_classes-1``) or a :class:`~bayesfm.model.Likelihood`.
    interaction : str or Interaction
        ``"fm"`` (plain), ``"ffm"`` (field-aware), ``"ifm"`` (input-aware) or ``"cfm"``
        (convolutional), at ``degree`` and with default options; or an
        :class:`~bayesfm.model.Interaction`.
    degree : {2, 3}
        Highest interaction order, when ``interaction`` is a name.
    sample_weight : array of shape (N,), optional
        Non-negative frequency weights: each row's log likelihood is multiplied by its
        weight (a weight of 2 is the row twice; 0 drops it).
    priors : FMPriors
    parameterization : {"centered", "noncentered"}
        Non-centred draws ``w`` and the factor matrices as ``mu + z / sqrt(lambda)``; the
        sites keep their names, so results look the same.
    subsample_size : int, optional
        Minibatch size for SVI; the likelihood is rescaled by ``N / subsample_size``.
    n_classes : int, optional
        Number of ordered classes ``C >= 2`` (``likelihood="ordinal"`` given by name).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import Predictive
    >>> from bayesfm.model import fm_model
    >>> idx = np.array([[0, 2], [1, 3]]); val = np.ones((2, 2), np.float32)
    >>> prior = Predictive(fm_model, num_samples=3)(  # doctest: +SKIP
    ...     jax.random.key(0), idx, val, np.array([0, 0, 1, 1]), n_groups=2, rank=2)
    >>> prior["v"].shape, prior["y"].shape  # doctest: +SKIP
    ((3, 4, 2), (3, 2))
    >>> prior = Predictive(fm_model, num_samples=3)(  # doctest: +SKIP
    ...     jax.random.key(0), idx, val, np.array([0, 0, 1, 1]), n_groups=2, rank=2,
    ...     interaction="ffm", likelihood="ordinal", n_classes=3)
    >>> prior["lambda_v"].shape, prior["cutpoints"].shape  # doctest: +SKIP
    ((3, 2, 2, 2), (3, 2))
    """
    lik = get_likelihood(likelihood, n_classes=n_classes)
    term = get_interaction(interaction, degree)
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"unknown parameterization {parameterization!r}; valid: {', '.join(PARAMETERIZATIONS)}"
        )
    args = (indices, values, group_of_feature, y, n_groups, rank, lik, term, sample_weight,
            priors, subsample_size)
    if parameterization == "noncentered":
        config = {name: LocScaleReparam(0.0) for name in ("w", *term.score_sites(n_groups, rank))}
        with numpyro.handlers.reparam(config=config):
            _fm_body(*args)
    else:
        _fm_body(*args)


def _fm_body(
    indices: Any,
    values: Any,
    group_of_feature: Any,
    y: Any,
    n_groups: int,
    rank: int,
    likelihood: Likelihood,
    interaction: Interaction,
    sample_weight: Any,
    priors: FMPriors,
    subsample_size: int | None,
) -> None:
    n_features = group_of_feature.shape[0]
    n_rows = indices.shape[0]
    gof = jnp.asarray(group_of_feature)
    events = {fs.name: fs.event_shape(n_groups, rank) for fs in interaction.factor_sets}

    with numpyro.plate("group", n_groups, dim=-1):
        mu_w, lambda_w = sample_group_hyperpriors("w", (), priors)
        hyper = {name: sample_group_hyperpriors(name, event, priors)
                 for name, event in events.items()}

    params: dict[str, Any] = {
        "w0": numpyro.sample("w0", dist.Normal(0.0, 1.0 / jnp.sqrt(priors.reg0)))
    }
    with numpyro.plate("feature", n_features, dim=-1):
        params["w"] = sample_members("w", mu_w, lambda_w, gof, 0)
        for name, event in events.items():
            params[name] = sample_members(name, *hyper[name], gof, len(event))
    params.update(sample_network(interaction, n_groups, rank, priors))
    own = likelihood.sample_sites(priors)

    with numpyro.plate("obs", n_rows, subsample_size=subsample_size, dim=-1) as rows:
        sub = subsample_size is not None
        idx = jnp.asarray(indices[rows] if sub else indices)
        val = jnp.asarray(values[rows] if sub else values)
        eta = fm_score(params, interaction, idx, val, gof, n_groups)
        obs = None if y is None else (y[rows] if sub else y)
        d = likelihood.distribution(eta, own)
        if sample_weight is None:
            numpyro.sample("y", d, obs=obs)
        else:
            weight = sample_weight[rows] if sub else sample_weight
            # Frequency weights; rows of weight 0 are masked out (scale must be positive).
            with numpyro.handlers.mask(mask=weight > 0), numpyro.handlers.scale(
                scale=jnp.where(weight > 0, weight, 1.0)
            ):
                numpyro.sample("y", d, obs=obs)
