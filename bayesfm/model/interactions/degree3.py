"""The higher-order FM of degree 3 (Blondel et al. 2016): pairwise plus an order-3 term.

The plain FM plus the ANOVA kernel of order 3 over a second factor matrix ``v3`` with its own
hyperpriors ``mu_v3, lambda_v3``::

    t(x_n) = pairwise(v)_n + sum_f sum_{i<j<l} a_if a_jf a_lf,   a_if = v3_if x_ni

The order-3 ANOVA kernel of one factor is the elementary symmetric polynomial ``e3`` of the
``a_if``; Newton's identities give it from the power sums ``p_m = sum_i a_if^m`` as
``e3 = (p1^3 - 3 p1 p2 + 2 p3) / 6`` (the closed form of Blondel et al.'s dynamic programme
for order 3), so it costs O(k * nnz) like the pairwise term.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from bayesfm.model.interactions.base import FactorSet, Interaction, register_interaction
from bayesfm.model.interactions.plain import fm_pairwise

__all__ = ["Degree3FM", "anova3"]


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
    >>> from bayesfm.model.interactions import anova3
    >>> v3 = jnp.array([[1.0], [2.0], [3.0], [4.0]])
    >>> float(anova3(v3, jnp.array([[0, 1, 2, 3]]), jnp.ones((1, 4)))[0])  # 6 + 8 + 12 + 24
    50.0
    """
    a = v3[indices] * values[..., None]  # (N, L, k)
    p1 = jnp.sum(a, axis=-2)
    p2 = jnp.sum(a * a, axis=-2)
    p3 = jnp.sum(a * a * a, axis=-2)
    return jnp.sum(p1 * p1 * p1 - 3.0 * p1 * p2 + 2.0 * p3, axis=-1) / 6.0


@register_interaction
@dataclasses.dataclass(frozen=True)
class Degree3FM(Interaction):
    """The plain FM's pairwise term plus the order-3 ANOVA term of ``v3``.

    Examples
    --------
    >>> from bayesfm.model import Degree3FM
    >>> Degree3FM().factor_names, Degree3FM().gather_width(n_groups=3, rank=4)
    (('v', 'v3'), 8)
    """

    name = "fm3"
    model = "fm"
    degree = 3
    factor_sets = (FactorSet("v", ("factor",), order=2), FactorSet("v3", ("factor",), order=3))

    def score(  # noqa: D102
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array, *, n_groups: int | None = None,
    ) -> jax.Array:
        return fm_pairwise(params["v"], indices, values) + anova3(params["v3"], indices, values)
