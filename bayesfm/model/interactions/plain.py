"""The plain FM's pairwise term, ``1/2 sum_f [(sum_i v_if x_i)^2 - sum_i v_if^2 x_i^2]``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from bayesfm.model.interactions.base import FactorSet, Interaction, register_interaction

__all__ = ["PairwiseFM", "fm_linear", "fm_pairwise", "fm_predict"]


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
    """Compute the plain FM score ``yhat_n`` (the latent mean, before any link) of padded rows.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model import fm_predict
    >>> v = jnp.array([[1.0], [2.0], [3.0]])
    >>> idx = jnp.array([[0, 2]]); val = jnp.array([[1.0, 1.0]])
    >>> round(float(fm_predict(0.5, jnp.zeros(3), v, idx, val)[0]), 4)  # 0.5 + v0 * v2
    3.5
    """
    return fm_linear(w0, w, indices, values) + fm_pairwise(v, indices, values)


@register_interaction
@dataclasses.dataclass(frozen=True)
class PairwiseFM(Interaction):
    """Rendle's FM: ``sum_{i<j} <v_i, v_j> x_i x_j`` with ``v`` of shape ``(p, k)``.

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from bayesfm.model import PairwiseFM
    >>> t = PairwiseFM().score({"v": jnp.array([[1.0], [2.0]])}, jnp.array([[0, 1]]),
    ...                        jnp.ones((1, 2)), jnp.array([0, 1]))
    >>> float(t[0])
    2.0
    """

    name = "fm"
    model = "fm"
    degree = 2
    factor_sets = (FactorSet("v", ("factor",), order=2),)

    def score(  # noqa: D102
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array, *, n_groups: int | None = None,
    ) -> jax.Array:
        return fm_pairwise(params["v"], indices, values)
