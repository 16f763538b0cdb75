"""The interaction term's part of the Gibbs sweep: its caches, ``h`` and exact moves.

Every parameter ``theta`` enters the score linearly, ``yhat_n = g_n + theta h_n`` (DESIGN
section 3). The sweep draws the columns of ``theta = [w | factor matrices, flattened]`` block
after block; what depends on the interaction term is how ``h`` of a column is read from the
cached row sums ``q``, how ``q`` is updated after a draw, and which exact ridge moves exist.
A :class:`GibbsTerm` supplies those, one column at a time (``open_column`` /
``close_column``: the cache rows a column reads and writes back in place; ``rest``: ``h_n /
x_ni``; ``update``: the rows after a draw), and ``moves``, ``predict_cache`` and
``scale_cache`` for the whole state. Column 0 is ``w`` (``h_n = x_ni``, no cache). Adding an
FM variant to Gibbs is one new class here, registered in :data:`TERMS` by its name.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from bayesfm.engines.gibbs.blocks import BlockSet, GibbsData
from bayesfm.engines.gibbs.shifts import shear_factor_means, shift_factors, shift_field_factors
from bayesfm.model.interactions import Interaction
from bayesfm.model.priors import FMPriors

__all__ = ["TERMS", "Degree3Term", "FieldAwareTerm", "GibbsTerm", "PlainTerm", "term_for"]

Cache = Any  # the rows of q a column works on: one row, the whole q, or a pair of rows


def on_rows(a: jax.Array, rows: jax.Array | None) -> jax.Array:
    """Values of a row-indexed array at a block's entries."""
    return a if rows is None else a[rows]


def add_rows(a: jax.Array, rows: jax.Array | None, upd: jax.Array) -> jax.Array:
    """Add per-entry updates back to a row-indexed array (padding entries add exactly 0)."""
    return a + upd if rows is None else a.at[rows].add(upd)


def entries(table: jax.Array, bs: BlockSet) -> jax.Array:
    """``table[i] * x`` at every entry of a block set: ``(B, R, C)`` for a ``(p, C)`` table."""
    local = table.at[bs.features].get(mode="fill", fill_value=0)  # (B, F, C)
    return jnp.take_along_axis(local, bs.slot[..., None], axis=1) * bs.values[..., None]


def entry_rows(bs: BlockSet) -> jax.Array:
    """Row of every entry of a block set (a dense set's entry ``n`` is row ``n``)."""
    if bs.rows is not None:
        return bs.rows
    return jnp.broadcast_to(jnp.arange(bs.slot.shape[1]), bs.slot.shape)


@dataclasses.dataclass(frozen=True)
class GibbsTerm:
    """The Gibbs sweep's view of an interaction term, for ``n_groups`` groups and ``rank``.

    Immutable and hashable: a static argument of the jitted sweep.
    """

    interaction: Interaction
    n_groups: int
    rank: int

    # -- layout --------------------------------------------------------------------------
    def n_cache(self) -> int:
        """Return the number of cached row sums (rows of ``q``)."""
        raise NotImplementedError

    def n_shift(self) -> int:
        """Count the standard normals the ridge moves consume per sweep (bias moves included)."""
        return self.n_groups * (self.rank + 1)

    def events(self) -> list[tuple[str, tuple[int, ...]]]:
        """``(name, event shape)`` of every factor matrix, in column order."""
        return [(fs.name, fs.event_shape(self.n_groups, self.rank))
                for fs in self.interaction.factor_sets]

    def start_params(self, n_features: int, dtype: Any, init_scale: Any) -> dict[str, jax.Array]:
        """Zero factors with prior precision ``1 / init_scale^2`` (libFM's start)."""
        out = {}
        for name, event in self.events():
            out[name] = jnp.zeros((n_features, *event), dtype)
            out[f"mu_{name}"] = jnp.zeros((self.n_groups, *event), dtype)
            out[f"lambda_{name}"] = jnp.full((self.n_groups, *event), 1.0 / init_scale**2, dtype)
        return out

    def columns(self, params: dict[str, jax.Array], prefix: str = "") -> jax.Array:
        """Return the factor matrices (or their ``prefix``-ed hyperparameters) as one 2-D array."""
        parts = [params[f"{prefix}{name}"] for name, _ in self.events()]
        parts = [a.reshape(a.shape[0], -1) for a in parts]
        return parts[0] if len(parts) == 1 else jnp.concatenate(parts, axis=1)

    def from_columns(self, cols: jax.Array, prefix: str = "") -> dict[str, jax.Array]:
        """Inverse of :meth:`columns`: split the columns back into named arrays."""
        out, start = {}, 0
        for name, event in self.events():
            width = 1
            for s in event:
                width *= s
            out[f"{prefix}{name}"] = cols[:, start:start + width].reshape(-1, *event)
            start += width
        return out

    # -- one column ----------------------------------------------------------------------
    def open_column(self, c: jax.Array, q: jax.Array) -> Cache:
        """Return the cache rows column ``c`` reads."""
        raise NotImplementedError

    def close_column(self, c: jax.Array, q: jax.Array, cache: Cache) -> jax.Array:
        """Write the column's rows back into ``q`` (in place)."""
        raise NotImplementedError

    def rest(self, c: jax.Array, g: jax.Array, cache: Cache, rows: Any, a: jax.Array) -> jax.Array:
        """``h_n / x_ni`` at a block's entries; ``a = theta_old x_ni`` (the feature's own term)."""
        raise NotImplementedError

    def update(
        self, c: jax.Array, g: jax.Array, cache: Cache, rows: Any, x: jax.Array,
        delta: jax.Array, a: jax.Array, new_a: jax.Array,
    ) -> Cache:
        """Return the rows after the feature's value moved by ``delta`` (``a -> new_a``)."""
        raise NotImplementedError

    def residual_change(
        self, delta: jax.Array, h: jax.Array, rest: jax.Array, a: jax.Array, new_a: jax.Array
    ) -> jax.Array:
        """How much the score moved at each entry (``delta * h``; the residual drops by it)."""
        return delta * h

    # -- whole state ---------------------------------------------------------------------
    def predict_cache(
        self, params: dict[str, jax.Array], data: GibbsData
    ) -> tuple[jax.Array, jax.Array]:
        """Scores ``yhat`` (N,) and the cache ``q`` from the parameters."""
        raise NotImplementedError

    def moves(
        self, params: dict[str, jax.Array], q: jax.Array, data: GibbsData, noise: jax.Array,
        priors: FMPriors,
    ) -> tuple[dict[str, jax.Array], jax.Array]:
        """Exact ridge moves of the factors (after the bias moves); ``noise`` is standard normal."""
        return params, q

    def mean_shear(
        self, params: dict[str, jax.Array], q: jax.Array, data: GibbsData, noise: jax.Array,
        priors: FMPriors,
    ) -> tuple[dict[str, jax.Array], jax.Array]:
        """Draw the factor-mean shear of ``moves="means"`` (none unless a term defines one).

        ``noise`` is standard normal of shape ``(G, k)``.
        """
        return params, q

    def scale_cache(self, q: jax.Array, s: jax.Array) -> jax.Array:
        """Return the cache after each factor matrix of order ``m`` was scaled by ``s^(1/m)``."""
        return q * jnp.sqrt(s)


@dataclasses.dataclass(frozen=True)
class PlainTerm(GibbsTerm):
    """Rendle's FM: ``h_n = x_ni (q_nf - v_if x_ni)``, ``q[f, n] = sum_i v_if x_ni`` (k rows)."""

    def n_cache(self) -> int:  # noqa: D102
        return self.rank

    def open_column(self, c: jax.Array, q: jax.Array) -> Cache:  # noqa: D102
        return lax.dynamic_index_in_dim(q, jnp.maximum(c - 1, 0), 0, keepdims=False)

    def close_column(self, c: jax.Array, q: jax.Array, cache: Cache) -> jax.Array:  # noqa: D102
        # A dynamic-update-slice writes one row in place; ``q.at[f].set`` would rewrite all k.
        return lax.dynamic_update_index_in_dim(q, cache, jnp.maximum(c - 1, 0), 0)

    def rest(self, c: jax.Array, g: jax.Array, cache: Cache, rows: Any, a: jax.Array) -> jax.Array:  # noqa: D102
        return jnp.where(c == 0, 1.0, on_rows(cache, rows) - a)

    def update(  # noqa: D102
        self, c: jax.Array, g: jax.Array, cache: Cache, rows: Any, x: jax.Array,
        delta: jax.Array, a: jax.Array, new_a: jax.Array,
    ) -> Cache:
        return add_rows(cache, rows, jnp.where(c == 0, 0.0, delta * x))

    def predict_cache(  # noqa: D102
        self, params: dict[str, jax.Array], data: GibbsData
    ) -> tuple[jax.Array, jax.Array]:
        table = jnp.concatenate([params["w"][:, None], params["v"]], axis=1)
        s1, s2 = _row_power_sums(table, data, (1, 2))
        q = s1[:, 1:]
        yhat = params["w0"] + s1[:, 0] + 0.5 * jnp.sum(q * q - s2[:, 1:], axis=1)
        return yhat, q.T
    def moves(  # noqa: D102
        self, params: dict[str, jax.Array], q: jax.Array, data: GibbsData, noise: jax.Array,
        priors: FMPriors,
    ) -> tuple[dict[str, jax.Array], jax.Array]:
        params, q_shift = shift_factors(params, data, noise.reshape(self.n_groups, self.rank),
                                        priors)
        # Every row holds one feature of each shifted group, so each q[f, n] moves alike.
        return params, q.at[: self.rank].add(q_shift[:, None])

    def mean_shear(  # noqa: D102
        self, params: dict[str, jax.Array], q: jax.Array, data: GibbsData, noise: jax.Array,
        priors: FMPriors,
    ) -> tuple[dict[str, jax.Array], jax.Array]:
        params, q_shift = shear_factor_means(params, data, noise, priors)
        return params, q.at[: self.rank].add(q_shift[:, None])


@dataclasses.dataclass(frozen=True)
class FieldAwareTerm(GibbsTerm):
    """Field-aware FM: ``h_n = x_ni (S[h, g, f]_n - [h == g] v[i, h, f] x_ni)``.

    ``S[g, h, f]_n = sum_{j in row n, g(j) = g} x_nj v[j, h, f]`` is cached as ``q``, shape
    ``(G * G * k, N)``, row ``(g * G + h) * k + f``; column ``1 + h k + f`` of ``theta`` is
    ``v[:, h, f]``.
    """

    def n_cache(self) -> int:  # noqa: D102
        return self.n_groups * self.n_groups * self.rank

    def n_shift(self) -> int:  # noqa: D102
        return self.n_groups + self.n_cache()

    def open_column(self, c: jax.Array, q: jax.Array) -> Cache:  # noqa: D102
        return q

    def close_column(self, c: jax.Array, q: jax.Array, cache: Cache) -> jax.Array:  # noqa: D102
        return cache

    def _target(self, c: jax.Array) -> tuple[jax.Array, jax.Array]:
        col = jnp.maximum(c - 1, 0)
        return col // self.rank, col % self.rank

    def rest(self, c: jax.Array, g: jax.Array, cache: Cache, rows: Any, a: jax.Array) -> jax.Array:  # noqa: D102
        other, f = self._target(c)
        # The partner sum S[other, g, f] pairs with v[i, other, f]; it holds feature i's own
        # term only when other == g (a same-group pair), which h must leave out.
        row = (other * self.n_groups + g) * self.rank + f
        partner = lax.dynamic_index_in_dim(cache, row, 0, False)
        own_term = jnp.where(other == g, a, 0.0)
        return jnp.where(c == 0, 1.0, on_rows(partner, rows) - own_term)

    def update(  # noqa: D102
        self, c: jax.Array, g: jax.Array, cache: Cache, rows: Any, x: jax.Array,
        delta: jax.Array, a: jax.Array, new_a: jax.Array,
    ) -> Cache:
        other, f = self._target(c)
        mine = (g * self.n_groups + other) * self.rank + f
        row = lax.dynamic_index_in_dim(cache, mine, 0, False)
        row = add_rows(row, rows, jnp.where(c == 0, 0.0, delta * x))
        return lax.dynamic_update_index_in_dim(cache, row, mine, 0)

    def predict_cache(  # noqa: D102
        self, params: dict[str, jax.Array], data: GibbsData
    ) -> tuple[jax.Array, jax.Array]:
        v, w = params["v"], params["w"]
        n_rows = data.y.shape[0]
        p, n_groups, rank = v.shape
        table = v.reshape(p, n_groups * rank)
        q = jnp.zeros((n_groups, n_groups * rank, n_rows), v.dtype)
        self_term = jnp.zeros(n_rows, v.dtype)
        linear = jnp.zeros(n_rows, v.dtype)
        for bs in data.blocks:
            vals = entries(table, bs)  # (B, R, G k)
            rows = entry_rows(bs)
            grp = jnp.broadcast_to(bs.group[:, None], bs.slot.shape)
            q = q.at[grp, :, rows].add(vals)
            own = vals.reshape(*vals.shape[:2], n_groups, rank)
            own = jnp.take_along_axis(own, grp[..., None, None], axis=2)[..., 0, :]
            self_term = self_term.at[rows].add(jnp.sum(own * own, axis=-1))
            linear = linear.at[rows].add(entries(w[:, None], bs)[..., 0])
        q4 = q.reshape(n_groups, n_groups, rank, n_rows)
        both = jnp.einsum("ghfn,hgfn->n", q4, q4)
        yhat = params["w0"] + linear + 0.5 * (both - self_term)
        return yhat, q.reshape(n_groups * n_groups * rank, n_rows)

    def moves(  # noqa: D102
        self, params: dict[str, jax.Array], q: jax.Array, data: GibbsData, noise: jax.Array,
        priors: FMPriors,
    ) -> tuple[dict[str, jax.Array], jax.Array]:
        params, q_shift = shift_field_factors(params, data, noise, priors)
        # Every row holds exactly one feature of a shifted group: its field sums move by c.
        return params, q + q_shift[:, None]


@dataclasses.dataclass(frozen=True)
class Degree3Term(PlainTerm):
    """Degree-3 FM: ``v`` as in :class:`PlainTerm`; for ``v3[i, f]`` ``h_n = x_ni A2_n``.

    ``A2_n = ((S_fn - x_ni v3_if)^2 - (Q_fn - x_ni^2 v3_if^2)) / 2`` is the order-2 kernel of
    factor ``f`` over the row's other features, with ``S_f = sum_j x_nj v3_jf`` and
    ``Q_f = sum_j x_nj^2 v3_jf^2``. ``q`` has ``3k`` rows: ``q[f]`` of ``v``, ``S_f`` and
    ``Q_f``. The ridge moves are the plain FM's (on ``v`` only): the analogue for ``v3`` would
    add ``c`` times an order-2 kernel in ``v3`` to every score, which no shear of ``w`` or
    ``v`` takes away, so its line is not flat and that move would not be exact.
    """

    def n_cache(self) -> int:  # noqa: D102
        return 3 * self.rank

    def _rows(self, c: jax.Array) -> tuple[jax.Array, jax.Array]:
        rank = self.rank
        f3 = jnp.clip(c - 1 - rank, 0, rank - 1)
        # Row of the linear sum (q_f for v, S_f for v3) and of Q_f (read for v3 only; the
        # w and v columns write their rows back unchanged).
        return jnp.where(c > rank, rank + f3, jnp.maximum(c - 1, 0)), 2 * rank + f3

    def open_column(self, c: jax.Array, q: jax.Array) -> Cache:  # noqa: D102
        i1, i2 = self._rows(c)
        return (lax.dynamic_index_in_dim(q, i1, 0, keepdims=False),
                lax.dynamic_index_in_dim(q, i2, 0, keepdims=False))

    def close_column(self, c: jax.Array, q: jax.Array, cache: Cache) -> jax.Array:  # noqa: D102
        i1, i2 = self._rows(c)
        q = lax.dynamic_update_index_in_dim(q, cache[0], i1, 0)
        return lax.dynamic_update_index_in_dim(q, cache[1], i2, 0)

    def rest(self, c: jax.Array, g: jax.Array, cache: Cache, rows: Any, a: jax.Array) -> jax.Array:  # noqa: D102
        r1, r2 = cache
        s_rest = on_rows(r1, rows) - a  # q_f (v) or S_f (v3) without feature i
        a2 = 0.5 * (s_rest * s_rest - (on_rows(r2, rows) - a * a))
        return jnp.where(c == 0, 1.0, jnp.where(c > self.rank, a2, s_rest))

    def update(  # noqa: D102
        self, c: jax.Array, g: jax.Array, cache: Cache, rows: Any, x: jax.Array,
        delta: jax.Array, a: jax.Array, new_a: jax.Array,
    ) -> Cache:
        r1, r2 = cache
        r1 = add_rows(r1, rows, jnp.where(c == 0, 0.0, new_a - a))
        # Q_f changes only for the v3 columns: the w and v columns skip its scatter.
        r2 = lax.cond(c > self.rank, lambda r: add_rows(r, rows, new_a * new_a - a * a),
                      lambda r: r, r2)
        return r1, r2

    def residual_change(  # noqa: D102
        self, delta: jax.Array, h: jax.Array, rest: jax.Array, a: jax.Array, new_a: jax.Array
    ) -> jax.Array:
        return (new_a - a) * rest

    def predict_cache(  # noqa: D102
        self, params: dict[str, jax.Array], data: GibbsData
    ) -> tuple[jax.Array, jax.Array]:
        yhat, q = super().predict_cache(params, data)
        p1, p2, p3 = _row_power_sums(params["v3"], data, (1, 2, 3))
        # e3 of the a_if = x_ni v3_if by Newton's identities (as interactions.anova3).
        cubic = jnp.sum(p1 * p1 * p1 - 3.0 * p1 * p2 + 2.0 * p3, axis=1) / 6.0
        return yhat + cubic, jnp.concatenate([q, p1.T, p2.T], axis=0)

    def scale_cache(self, q: jax.Array, s: jax.Array) -> jax.Array:  # noqa: D102
        k = self.rank
        return jnp.concatenate([q[:k] * jnp.sqrt(s), q[k:2 * k] * s ** (1.0 / 3.0),
                                q[2 * k:] * s ** (2.0 / 3.0)])


def _row_power_sums(table: jax.Array, data: GibbsData, powers: tuple[int, ...]) -> list:
    """``sum_i (x_ni table[i, c])^m`` for every row ``n``, column ``c`` and ``m`` in ``powers``."""
    n_rows = data.y.shape[0]
    out = [jnp.zeros((n_rows, table.shape[1]), table.dtype) for _ in powers]
    for bs in data.blocks:
        vals = entries(table, bs)  # (B, R, C)
        rows = entry_rows(bs)
        out = [acc.at[rows].add(vals**m) for acc, m in zip(out, powers, strict=True)]
    return out


#: The Gibbs part of every interaction term, by :attr:`Interaction.name`.
TERMS: dict[str, type[GibbsTerm]] = {
    "fm": PlainTerm,
    "ffm": FieldAwareTerm,
    "fm3": Degree3Term,
}


def term_for(interaction: Interaction, n_groups: int, rank: int) -> GibbsTerm:
    """Return the Gibbs term part of ``interaction``, or ``ValueError`` if Gibbs has none."""
    cls = TERMS.get(interaction.name)
    if cls is None:
        raise ValueError(
            f"method='gibbs' has no sampler for the {interaction.name!r} interaction term; "
            f"Gibbs samples {', '.join(TERMS)}; use method='nuts' or 'svi'"
        )
    return cls(interaction, int(n_groups), int(rank))
