"""The convolutional FM (Xin et al., IJCAI 2019): a 3D convolution stack over field pairs.

Every pair of fields ``g < h`` of a row gives an interaction map, the outer product of the
two field embeddings; the maps, stacked in the order ``(0,1), (0,2), .., (G-2,G-1)``, form
the interaction cube of the row, read by a stack of 3D convolutions and a linear read-out
that is added to the linear terms (CFM has no inner-product pairwise term)::

    e_ng      = x_ni v_i                 the one feature i of one-hot field g in row n
    C_n[p]    = e_ng e_nh^T              p-th pair (g, h), g < h: a cube of shape (P, k, k),
                                         P = G (G - 1) / 2
    z_0       = C_n                      one channel
    z_l       = relu(conv_l(z_{l-1}) + b_l)
    eta_n     = w0 + sum_i w_i x_ni + <r, z_L>

Each convolution has kernel 2 and stride 2 along every axis of length > 1 (kernel 1 along
an axis already of length 1), with one zero appended to an axis of odd length: it halves
the cube until it is ``1 x 1 x 1``, after ``L = ceil(log2(max(P, k)))`` layers, as the
paper's stack of 2x2 strided kernels does for its embedding axes. ``channels`` channels per
layer; the read-out ``r`` maps the last layer's channels to the score. The paper's
self-attention pooling of multi-hot fields is not implemented: every field must be one-hot
(a row holds at most one feature of each field), and a multi-hot field is an error.

Priors: as the input-aware FM's network, ``Normal(0, 1 / sqrt(lambda_conv[l] * fan_in))``
per weight array with one precision per layer (the read-out is the last layer). Sites:
``conv_w0, conv_b0, .., conv_w<L-1>, conv_b<L-1>, conv_out`` and ``lambda_conv``. Written
in plain ``jax.numpy`` for the reasons given in :mod:`bayesfm.model.interactions.input_aware`;
a kernel equal to its stride makes each convolution one reshape and one ``einsum``.
"""

from __future__ import annotations

import dataclasses
import math
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
from bayesfm.model.interactions.input_aware import field_embeddings

__all__ = ["ConvolutionalFM", "cfm_cube", "conv_layout"]


def conv_layout(n_pairs: int, rank: int) -> list[tuple[int, int, int]]:
    """Kernel (= stride) of each layer along the (pair, factor, factor) axes.

    Examples
    --------
    >>> from bayesfm.model.interactions.convolutional import conv_layout
    >>> conv_layout(3, 4)  # 3 pairs (3 fields), rank 4: (3, 4, 4) -> (2, 2, 2) -> (1, 1, 1)
    [(2, 2, 2), (2, 2, 2)]
    """
    sizes = [n_pairs, rank, rank]
    out = []
    while max(sizes) > 1:
        out.append(tuple(2 if s > 1 else 1 for s in sizes))
        sizes = [math.ceil(s / 2) for s in sizes]
    return out


def cfm_cube(e: jax.Array) -> jax.Array:
    """Interaction cube ``(N, P, k, k)`` of field embeddings ``e`` of shape ``(N, G, k)``."""
    g, h = np.triu_indices(e.shape[1], 1)
    return e[:, g, :, None] * e[:, h, None, :]


def _conv(z: jax.Array, w: jax.Array) -> jax.Array:
    """Convolution of ``z`` (N, D, H, W, C) with kernel = stride ``w`` (kd, kh, kw, C, C')."""
    kernel = w.shape[:3]
    pad = [(0, 0)] + [(0, s % 2 if k == 2 else 0) for s, k in zip(z.shape[1:4], kernel,
                                                                   strict=True)] + [(0, 0)]
    z = jnp.pad(z, pad)
    n, d, hh, ww, c = z.shape
    kd, kh, kw = kernel
    z = z.reshape(n, d // kd, kd, hh // kh, kh, ww // kw, kw, c)
    return jnp.einsum("nakblcmi,klmio->nabco", z, w)


@register_interaction
@dataclasses.dataclass(frozen=True)
class ConvolutionalFM(Interaction):
    """Convolutional FM: a 3D convolution stack over the cube of field-pair outer products.

    Parameters
    ----------
    channels : int, default 4
        Channels of every convolution layer.

    Examples
    --------
    >>> from bayesfm.model import get_interaction
    >>> term = get_interaction("cfm", options={"channels": 2})
    >>> [s.name for s in term.network_sites(n_groups=3, rank=4)]
    ['conv_w0', 'conv_b0', 'conv_w1', 'conv_b1', 'conv_out']
    >>> term.site_shapes(n_features=9, n_groups=3, rank=4)["conv_w1"]
    (2, 2, 2, 2, 2)
    """

    channels: int = 4

    name = "cfm"
    model = "cfm"
    degree = 2
    factor_sets = (FactorSet("v", ("factor",), order=2),)
    network = "conv"
    multilinear = False

    def __post_init__(self) -> None:
        c = self.channels
        if isinstance(c, bool) or not isinstance(c, numbers.Integral) or c < 1:
            raise ValueError(f"channels must be a positive integer, got {c!r}")
        object.__setattr__(self, "channels", int(c))

    def network_sites(self, n_groups: int, rank: int) -> tuple[NetworkSite, ...]:  # noqa: D102
        n_pairs = max(n_groups * (n_groups - 1) // 2, 1)
        sites = []
        c_in, in_dim = 1, "conv_input"
        for layer, kernel in enumerate(conv_layout(n_pairs, rank)):
            out_dim = f"conv_channel{layer}"
            dims = (f"conv_pair{layer}", f"conv_row{layer}", f"conv_col{layer}", in_dim,
                    out_dim)
            sites.append(NetworkSite(f"conv_w{layer}", dims, (*kernel, c_in, self.channels),
                                     layer, int(np.prod(kernel)) * c_in))
            sites.append(NetworkSite(f"conv_b{layer}", (out_dim,), (self.channels,), layer, 1))
            c_in, in_dim = self.channels, out_dim
        n_conv = len(sites) // 2
        sites.append(NetworkSite("conv_out", (in_dim,), (c_in,), n_conv, c_in))
        return tuple(sites)

    def activations_per_row(self, n_groups: int, rank: int) -> int:  # noqa: D102
        cube = max(n_groups * (n_groups - 1) // 2, 1) * rank * rank
        return cube + -(-cube * self.channels // 8) + n_groups * rank

    def check_rows(self, indices: np.ndarray, values: np.ndarray,  # noqa: D102
                   group_of_feature: np.ndarray, group_names: Sequence[str]) -> None:
        n_groups = len(group_names)
        if n_groups < 2:
            raise ValueError(f"model='cfm' needs at least 2 fields (groups) to pair, got "
                             f"{n_groups}")
        grp = np.asarray(group_of_feature)[indices]
        nz = np.asarray(values) != 0
        for g in range(n_groups):
            counts = np.sum((grp == g) & nz, axis=1)
            if np.any(counts > 1):
                row = int(np.argmax(counts > 1))
                raise ValueError(
                    f"model='cfm' needs one-hot fields, but field {group_names[g]!r} has "
                    f"{int(counts[row])} nonzero features in row {row}; the paper's "
                    "attention pooling of multi-hot fields is not implemented: use "
                    "model='fm', 'ffm' or 'ifm', or split the field")

    def score(  # noqa: D102
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array, *, n_groups: int | None = None,
    ) -> jax.Array:
        if n_groups is None:
            raise ValueError("the CFM score needs n_groups")
        e, _ = field_embeddings(params["v"], indices, values, group_of_feature, n_groups)
        z = cfm_cube(e)[..., None]  # (N, P, k, k, 1)
        layer = 0
        while f"conv_w{layer}" in params:
            z = jax.nn.relu(_conv(z, params[f"conv_w{layer}"]) + params[f"conv_b{layer}"])
            layer += 1
        return z.reshape(z.shape[0], -1) @ params["conv_out"]
