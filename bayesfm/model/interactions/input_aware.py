"""The input-aware FM (Yu, Wang & Yuan, IJCAI 2019): a network rescales every row's inputs.

A factor-estimating network (FEN) reads the row's field embeddings and gives every field
present in the row a positive factor; the factor multiplies the field's feature values, in
the linear term and in the pairwise term alike, and the rest is Rendle's FM::

    e_ng    = sum_{i in g} x_ni v_i                      field embeddings, (G, k) per row
    a_0     = e_n  (flattened)
    a_l     = relu(a_{l-1} W_{l-1} + b_{l-1})            l = 1 .. H (hidden layers)
    m'_n    = a_H W_H                                     one logit per field, no bias
    m_n(g)  = h_n softmax(m'_n / t)_g                    over the h_n fields present in row n
    x'_ni   = m_n(g(i)) x_ni
    eta_n   = w0 + sum_i w_i x'_ni + 1/2 sum_f [(sum_i v_if x'_ni)^2 - sum_i v_if^2 x'_ni^2]

``t`` is the paper's softmax temperature (large ``t``: every factor near 1, the plain FM).
The paper's FEN input is the concatenation of the embeddings of the row's nonzero features,
one per field when every field is one-hot; bayesfm concatenates field embeddings instead,
which is the same for one-hot fields and gives a multi-hot field one factor shared by its
features (the paper's per-feature factor would depend on the order of the features in the
row). The softmax runs over the fields present in the row; a row without features gets no
factor (it has no inputs to rescale).

Priors: every weight array of the FEN is ``Normal(0, 1 / sqrt(lambda_fen[l] * fan_in))``
with one precision per layer, ``lambda_fen[l] ~ Gamma(a0, b0)`` (the FM's constants), so the
network's scale is learnt layer by layer and the posterior covers the network too. Sites:
``fen_w0`` (dims ``group, factor, fen_unit0``), ``fen_b0`` (``fen_unit0``), ... ,
``fen_w<H>`` (``fen_unit<H-1>, out_group``) and ``lambda_fen`` (``fen_layer``).

The network is plain ``jax.numpy``: a few matrix products over fixed shapes. A flax or
equinox module through ``numpyro.contrib.module.random_flax_module`` would add a dependency
and a parameter tree to translate into the fixed site names and labelled dims that every
engine, the DataTree and the model file read; written out, each weight array is simply one
NumPyro site.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from bayesfm.model.interactions.base import (
    FactorSet,
    Interaction,
    NetworkSite,
    register_interaction,
)
from bayesfm.model.interactions.plain import fm_pairwise

__all__ = ["InputAwareFM", "field_embeddings", "ifm_factors"]


def field_embeddings(
    v: jax.Array, indices: jax.Array, values: jax.Array, group_of_feature: jax.Array,
    n_groups: int,
) -> tuple[jax.Array, jax.Array]:
    """Per-row field sums ``e[n, g] = sum_{i in g} x_ni v_i`` and which fields are present.

    Returns
    -------
    e : array of shape (N, G, k)
    present : bool array of shape (N, G)
        The row has a nonzero value in the field.
    """
    grp = jnp.asarray(group_of_feature)[indices]  # (N, L)
    member = jax.nn.one_hot(grp, n_groups, dtype=values.dtype) * (values != 0)[..., None]
    e = jnp.einsum("nlg,nlk->ngk", member, v[indices] * values[..., None])
    return e, jnp.sum(member, axis=-2) > 0


def ifm_factors(
    params: Mapping[str, jax.Array], e: jax.Array, present: jax.Array, n_hidden: int,
    temperature: float,
) -> jax.Array:
    """Return the FEN's factors ``m_n(g)`` of shape (N, G) from field embeddings ``e`` (N, G, k).

    ``m_n`` sums to the number of fields present in row ``n``; absent fields get 0.
    """
    a = jnp.einsum("ngk,gkh->nh", e, params["fen_w0"])
    for layer in range(n_hidden):
        a = jax.nn.relu(a + params[f"fen_b{layer}"])
        a = a @ params[f"fen_w{layer + 1}"]
    logits = jnp.where(present, a / temperature, -1e30)
    n_present = jnp.sum(present, axis=-1, keepdims=True).astype(e.dtype)
    return jnp.where(present, n_present * jax.nn.softmax(logits, axis=-1), 0.0)


@register_interaction
@dataclasses.dataclass(frozen=True)
class InputAwareFM(Interaction):
    """Input-aware FM: a factor-estimating network rescales each row's fields.

    Parameters
    ----------
    hidden_units : sequence of int, default (16,)
        Units of each hidden layer of the FEN (``()``: the logits are linear in the
        embeddings).
    temperature : float, default 1.0
        The softmax temperature ``t`` (> 0).

    Examples
    --------
    >>> from bayesfm.model import get_interaction
    >>> term = get_interaction("ifm", options={"hidden_units": [8]})
    >>> term.network_names(n_groups=3, rank=2)
    ('fen_w0', 'fen_b0', 'fen_w1')
    >>> term.site_shapes(n_features=5, n_groups=3, rank=2)["fen_w0"]
    (3, 2, 8)
    >>> get_interaction("ifm", options={"temperature": 0})
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a finite number > 0, got 0
    """

    hidden_units: tuple[int, ...] = (16,)
    temperature: float = 1.0

    name = "ifm"
    model = "ifm"
    degree = 2
    factor_sets = (FactorSet("v", ("factor",), order=2),)
    network = "fen"
    multilinear = False

    def __post_init__(self) -> None:
        units = self.hidden_units
        if isinstance(units, numbers.Integral) and not isinstance(units, bool):
            units = (int(units),)
        if isinstance(units, str) or not isinstance(units, Sequence | np.ndarray):
            raise TypeError(f"hidden_units must be a sequence of positive integers, got "
                            f"{self.hidden_units!r}")
        for u in units:
            if isinstance(u, bool) or not isinstance(u, numbers.Integral) or u < 1:
                raise ValueError(f"hidden_units must be positive integers, got "
                                 f"{list(units)!r}")
        object.__setattr__(self, "hidden_units", tuple(int(u) for u in units))
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not (
                np.isfinite(t) and t > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {t!r}")
        object.__setattr__(self, "temperature", float(t))

    def network_sites(self, n_groups: int, rank: int) -> tuple[NetworkSite, ...]:  # noqa: D102
        sites = []
        widths = (*self.hidden_units, n_groups)
        in_dims: tuple[str, ...] = ("group", "factor")
        in_shape: tuple[int, ...] = (n_groups, rank)
        for layer, width in enumerate(widths):
            last = layer == len(self.hidden_units)
            out_dim = "out_group" if last else f"fen_unit{layer}"
            fan_in = int(np.prod(in_shape))
            sites.append(NetworkSite(f"fen_w{layer}", (*in_dims, out_dim), (*in_shape, width),
                                     layer, fan_in))
            if not last:  # softmax ignores a common shift: the output layer has no bias
                sites.append(NetworkSite(f"fen_b{layer}", (out_dim,), (width,), layer, 1))
            in_dims, in_shape = (out_dim,), (width,)
        return tuple(sites)

    def activations_per_row(self, n_groups: int, rank: int) -> int:  # noqa: D102
        return n_groups * (rank + 2) + sum(self.hidden_units)

    def _factors(self, params: Mapping[str, jax.Array], indices: jax.Array,
                 values: jax.Array, group_of_feature: jax.Array,
                 n_groups: int | None) -> jax.Array:
        if n_groups is None:
            n_groups = int(params["fen_w0"].shape[0])
        e, present = field_embeddings(params["v"], indices, values, group_of_feature,
                                      n_groups)
        m = ifm_factors(params, e, present, len(self.hidden_units), self.temperature)
        grp = jnp.asarray(group_of_feature)[indices]
        return jnp.take_along_axis(m, grp, axis=-1)  # (N, L): the factor of each slot

    def row_values(  # noqa: D102
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array, *, n_groups: int | None = None,
    ) -> jax.Array:
        return values * self._factors(params, indices, values, group_of_feature, n_groups)

    def score(  # noqa: D102 - on values already rescaled by row_values
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array, *, n_groups: int | None = None,
    ) -> jax.Array:
        return fm_pairwise(params["v"], indices, values)
