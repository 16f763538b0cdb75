"""The FM family beyond the plain FM: field-aware FM and the degree-3 (higher-order) FM.

Both are NumPyro models with the grouped Normal-Gamma priors of DESIGN section 1 and the site
and plate names of :func:`bayesfm.model.fm_model`, so every engine and the DataTree layout
carry over.

Field-aware FM (``variant="ffm"``, Juan et al. 2016): every feature ``i`` has one factor
vector per group ``h``, ``v[i, h, :]``, and a pair interacts through the vectors that point at
each other's group::

    yhat_n = w0 + sum_i w_i x_ni + sum_{i<j} x_ni x_nj <v[i, g(j)], v[j, g(i)]>

with ``v[i, h, f] ~ Normal(mu_v[g(i), h, f], 1/lambda_v[g(i), h, f])`` and one Normal-Gamma
pair per (group, other group, factor). With the per-row field sums
``S[g, h, :] = sum_{i in g} x_ni v[i, h, :]`` the pairwise term is
``1/2 (sum_{g,h} <S[g,h], S[h,g]> - sum_i x_ni^2 |v[i, g(i)]|^2)``: O(G k nnz) per row.

Higher-order FM (``degree=3``, Blondel et al. 2016): the plain FM plus the ANOVA kernel of
order 3 over a second factor matrix ``v3`` with its own hyperpriors ``mu_v3, lambda_v3``::

    yhat_n = FM_n + sum_f sum_{i<j<l} a_if a_jf a_lf,   a_if = v3_if x_ni

The order-3 ANOVA kernel of one factor is the elementary symmetric polynomial ``e3`` of the
``a_if``; Newton's identities give it from the power sums ``p_m = sum_i a_if^m`` as
``e3 = (p1^3 - 3 p1 p2 + 2 p3) / 6`` (the closed form of Blondel et al.'s dynamic programme
for order 3), so it costs O(k * nnz) like the pairwise term.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.infer.reparam import LocScaleReparam

from bayesfm.model import (
    LIKELIHOODS,
    PARAMETERIZATIONS,
    FMPriors,
    _observation_dist,
    fm_linear,
    fm_pairwise,
)

__all__ = [
    "DEGREES",
    "VARIANTS",
    "anova3",
    "check_variant",
    "ffm_pairwise",
    "fm_variant_model",
    "variant_predict",
]

#: FM variants (the estimators' ``model`` argument).
VARIANTS = ("fm", "ffm")
#: Interaction degrees (the estimators' ``degree`` argument).
DEGREES = (2, 3)


def check_variant(variant: str, degree: int) -> None:
    """Raise ``ValueError`` for an unknown variant or degree, or an unsupported pair.

    Examples
    --------
    >>> from bayesfm.model_variants import check_variant
    >>> check_variant("ffm", 2)
    >>> check_variant("ffm", 3)
    Traceback (most recent call last):
    ...
    ValueError: degree=3 is implemented for model='fm' only, got model='ffm'
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown model {variant!r}; valid models: {', '.join(VARIANTS)}")
    if isinstance(degree, bool) or degree not in DEGREES:
        raise ValueError(f"degree must be one of {DEGREES}, got {degree!r}")
    if variant == "ffm" and degree != 2:
        raise ValueError(f"degree={degree} is implemented for model='fm' only, got model='ffm'")


def ffm_pairwise(
    v: jax.Array, group_of_feature: jax.Array, indices: jax.Array, values: jax.Array
) -> jax.Array:
    """Field-aware pairwise term ``sum_{i<j} x_i x_j <v[i, g(j)], v[j, g(i)]>`` of padded rows.

    Parameters
    ----------
    v : array of shape (p, G, k)
        One factor vector per (feature, other group).
    group_of_feature : int array of shape (p,)
    indices, values : arrays of shape (N, L)

    Returns
    -------
    array of shape (N,)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model_variants import ffm_pairwise
    >>> v = jnp.arange(8.0).reshape(2, 2, 2)  # 2 features, 2 groups, rank 2
    >>> # <v[0, g(1)], v[1, g(0)]> = <(2, 3), (4, 5)>
    >>> float(ffm_pairwise(v, jnp.array([0, 1]), jnp.array([[0, 1]]), jnp.ones((1, 2)))[0])
    23.0
    """
    n_groups = v.shape[1]
    vx = v[indices] * values[..., None, None]  # (N, L, G, k): x_i v[i, h, :]
    grp = jnp.asarray(group_of_feature)[indices]  # (N, L)
    member = jax.nn.one_hot(grp, n_groups, dtype=vx.dtype)  # (N, L, G)
    field_sums = jnp.einsum("nlg,nlhf->nghf", member, vx)  # S[n, g, h, :]
    both = jnp.einsum("nghf,nhgf->n", field_sums, field_sums)
    own = jnp.take_along_axis(vx, grp[..., None, None], axis=-2)  # x_i v[i, g(i), :]
    return 0.5 * (both - jnp.sum(own * own, axis=(-3, -2, -1)))


def anova3(v3: jax.Array, indices: jax.Array, values: jax.Array) -> jax.Array:
    """ANOVA kernel of order 3, ``sum_f sum_{i<j<l} a_if a_jf a_lf``, in O(k * nnz).

    Parameters
    ----------
    v3 : array of shape (p, k)
    indices, values : arrays of shape (N, L)

    Returns
    -------
    array of shape (N,)

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model_variants import anova3
    >>> v3 = jnp.array([[1.0], [2.0], [3.0], [4.0]])
    >>> float(anova3(v3, jnp.array([[0, 1, 2, 3]]), jnp.ones((1, 4)))[0])  # 6 + 8 + 12 + 24
    50.0
    """
    a = v3[indices] * values[..., None]  # (N, L, k)
    p1 = jnp.sum(a, axis=-2)
    p2 = jnp.sum(a * a, axis=-2)
    p3 = jnp.sum(a * a * a, axis=-2)
    return jnp.sum(p1 * p1 * p1 - 3.0 * p1 * p2 + 2.0 * p3, axis=-1) / 6.0


def variant_predict(
    w0: jax.Array,
    w: jax.Array,
    v: jax.Array,
    indices: jax.Array,
    values: jax.Array,
    *,
    group_of_feature: jax.Array | None = None,
    v3: jax.Array | None = None,
) -> jax.Array:
    """Score ``yhat_n`` of any FM variant: field-aware when ``v`` is 3-D, plus ``v3``'s term.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model_variants import variant_predict
    >>> idx = jnp.array([[0, 1, 2]]); val = jnp.ones((1, 3))
    >>> v = jnp.zeros((3, 1)); v3 = jnp.array([[1.0], [2.0], [3.0]])
    >>> float(variant_predict(0.5, jnp.zeros(3), v, idx, val, v3=v3)[0])
    6.5
    """
    out = fm_linear(w0, w, indices, values)
    if v.ndim == 3:
        if group_of_feature is None:
            raise ValueError("a field-aware v of shape (p, G, k) needs group_of_feature")
        out = out + ffm_pairwise(v, group_of_feature, indices, values)
    else:
        out = out + fm_pairwise(v, indices, values)
    if v3 is not None:
        out = out + anova3(v3, indices, values)
    return out


def fm_variant_model(
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
    variant: str = "fm",
    degree: int = 2,
) -> None:
    """NumPyro model of the field-aware FM (``variant="ffm"``) or the degree-3 FM.

    Arguments as :func:`bayesfm.model.fm_model`, plus ``variant`` and ``degree``. Sites: those
    of ``fm_model``, where for ``"ffm"`` ``v`` has shape ``(p, G, k)`` and ``mu_v``,
    ``lambda_v`` shape ``(G, G, k)`` (group, other group, factor); ``degree=3`` adds
    ``v3 (p, k)``, ``mu_v3`` and ``lambda_v3 (G, k)``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import Predictive
    >>> from bayesfm.model_variants import fm_variant_model
    >>> idx = np.array([[0, 2], [1, 3]]); val = np.ones((2, 2), np.float32)
    >>> prior = Predictive(fm_variant_model, num_samples=3)(
    ...     jax.random.key(0), idx, val, np.array([0, 0, 1, 1]), n_groups=2, rank=2,
    ...     variant="ffm")
    >>> prior["v"].shape, prior["lambda_v"].shape
    ((3, 4, 2, 2), (3, 2, 2, 2))
    """
    check_variant(variant, degree)
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"unknown likelihood {likelihood!r}; valid: {', '.join(LIKELIHOODS)}")
    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"unknown parameterization {parameterization!r}; valid: {', '.join(PARAMETERIZATIONS)}"
        )
    args = (indices, values, group_of_feature, y, n_groups, rank, likelihood, sample_weight,
            priors, subsample_size, variant, degree)
    if parameterization == "noncentered":
        config = {name: LocScaleReparam(0.0) for name in ("w", "v", "v3")}
        with numpyro.handlers.reparam(config=config):
            _variant_body(*args)
    else:
        _variant_body(*args)


def _variant_body(
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
    variant: str,
    degree: int,
) -> None:
    a0, b0, gamma0, mu0, reg0 = priors
    n_features = group_of_feature.shape[0]
    n_rows = indices.shape[0]
    gof = jnp.asarray(group_of_feature)
    # One hyperprior pair per (group, [other group,] factor); the trailing axes are event
    # dimensions so that the "group" and "feature" plates keep one dim (autoguides need that).
    v_event = (n_groups, rank) if variant == "ffm" else (rank,)
    factor_sets = [("v", v_event)] + ([("v3", (rank,))] if degree == 3 else [])

    with numpyro.plate("group", n_groups, dim=-1):
        lambda_w = numpyro.sample("lambda_w", dist.Gamma(a0, b0))
        mu_w = numpyro.sample("mu_w", dist.Normal(mu0, jax.lax.rsqrt(gamma0 * lambda_w)))
        hyper = {}
        for name, event in factor_sets:
            lam = numpyro.sample(
                f"lambda_{name}", dist.Gamma(a0, b0).expand(list(event)).to_event(len(event))
            )
            mu = numpyro.sample(
                f"mu_{name}",
                dist.Normal(mu0, jax.lax.rsqrt(gamma0 * lam)).to_event(len(event)),
            )
            hyper[name] = (mu, lam)

    w0 = numpyro.sample("w0", dist.Normal(0.0, 1.0 / jnp.sqrt(reg0)))
    factors = {}
    with numpyro.plate("feature", n_features, dim=-1):
        w = numpyro.sample("w", dist.Normal(mu_w[gof], jax.lax.rsqrt(lambda_w[gof])))
        for name, event in factor_sets:
            mu, lam = hyper[name]
            factors[name] = numpyro.sample(
                name, dist.Normal(mu[gof], jax.lax.rsqrt(lam[gof])).to_event(len(event))
            )

    tau = numpyro.sample("tau", dist.Gamma(a0, b0)) if likelihood == "gaussian" else None

    with numpyro.plate("obs", n_rows, subsample_size=subsample_size, dim=-1) as rows:
        sub = subsample_size is not None
        idx = jnp.asarray(indices[rows] if sub else indices)
        val = jnp.asarray(values[rows] if sub else values)
        eta = variant_predict(w0, w, factors["v"], idx, val, group_of_feature=gof,
                              v3=factors.get("v3"))
        obs = None if y is None else (y[rows] if sub else y)
        d = _observation_dist(eta, likelihood, tau)
        if sample_weight is None:
            numpyro.sample("y", d, obs=obs)
        else:
            weight = sample_weight[rows] if sub else sample_weight
            with numpyro.handlers.mask(mask=weight > 0), numpyro.handlers.scale(
                scale=jnp.where(weight > 0, weight, 1.0)
            ):
                numpyro.sample("y", d, obs=obs)
