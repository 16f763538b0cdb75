"""The field-aware FM's pairwise term (Juan et al. 2016).

Every feature ``i`` has one factor vector per group ``h``, ``v[i, h, :]``, and a pair
interacts through the vectors that point at each other's group::

    t(x_n) = sum_{i<j} x_ni x_nj <v[i, g(j)], v[j, g(i)]>

with ``v[i, h, f] ~ Normal(mu_v[g(i), h, f], 1/lambda_v[g(i), h, f])``: one Normal-Gamma pair
per (group, other group, factor). With the per-row field sums
``S[g, h, :] = sum_{i in g} x_ni v[i, h, :]`` the term is
``1/2 (sum_{g,h} <S[g,h], S[h,g]> - sum_i x_ni^2 |v[i, g(i)]|^2)``: O(G k nnz) per row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from bayesfm.model.interactions.base import FactorSet, Interaction, register_interaction

__all__ = ["FieldAwareFM", "ffm_pairwise"]


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
    >>> from bayesfm.model.interactions import ffm_pairwise
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


@register_interaction
@dataclasses.dataclass(frozen=True)
class FieldAwareFM(Interaction):
    """Field-aware FM: ``v`` of shape ``(p, G, k)``, hyperpriors per (group, other group).

    Examples
    --------
    >>> from bayesfm.model import FieldAwareFM
    >>> FieldAwareFM().site_shapes(n_features=5, n_groups=2, rank=3)["mu_v"]
    (2, 2, 3)
    """

    name = "ffm"
    model = "ffm"
    degree = 2
    factor_sets = (FactorSet("v", ("other_group", "factor"), order=2),)

    def score(  # noqa: D102
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array, *, n_groups: int | None = None,
    ) -> jax.Array:
        return ffm_pairwise(params["v"], group_of_feature, indices, values)
