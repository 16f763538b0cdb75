"""Relation blocks in the Gibbs sweep: exact draws at a cost set by the distinct sub-rows.

A relation (:class:`bayesfm.data.relations.Relation`) adds to row ``i`` the features of its
sub-row ``s = b(i)``; the model is the FM of the materialised row (DESIGN section 1). For a
relation feature ``j`` with value ``x = x_sj`` the score of row ``i`` is linear in
``theta_j = (w_j, v_j)``: ``yhat_i = g_i + x theta_j . r_i`` with ``r_i = u_i - x m_j``,
``u_i = (1, q_i)`` (``q_i`` the row's full factor sums) and ``m_j = (0, v_j)``. So
``theta_j`` has a Gaussian full conditional of dimension ``k + 1``, drawn jointly (the
"second valid blocking" of DESIGN section 3, here with ``w_j`` in the block), with

    precision  diag(lambda) + tau sum_s x_sj^2 (UU_s - x U_s m^T - x m U_s^T + x^2 C_s m m^T)
    linear     lambda mu + tau (sum_s x_sj (UE_s - x m E_s) + H theta_old)

where, over the rows pointing at ``s`` with precisions ``a_i`` (frequency weights, or a
latent's per-row precision), ``UU_s = sum a_i u_i u_i^T`` (``C_s = UU_s[0, 0]``,
``U_s = UU_s[0]``) and ``UE_s = sum a_i u_i e_i`` (``E_s = UE_s[0]``). A draw moves
``u_i`` by ``x (0, dv)`` and ``e_i`` by ``-x dtheta . r_i`` on every row of ``s``, and both
aggregates follow in closed form, so no row is touched while a relation's features are drawn
one after another (features sharing a sub-row are dependent: a ``lax.scan`` over them, each
step gathering only its own sub-rows from a padded list). After the relation, every row's
``q`` and ``e`` are updated once from the change of its sub-row's sums (Rendle, VLDB 2013):
the cost per sweep is ``O(N k^2)`` for the aggregates plus ``O(nnz_B k^2)`` for the draws,
where ``nnz_B`` counts the nonzeros of the relation's *table*, not of the materialised rows.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import scipy.sparse as sp

__all__ = ["CHUNK", "RelationData", "add_relations", "prepare_relations",
           "relation_columns", "relation_noise_size", "relation_scores"]


#: Sub-rows per chunk of a feature's list: a feature's step loops over its chunks, so one
#: compiled step serves every degree; padding costs under one chunk per feature.
CHUNK = 16


@dataclasses.dataclass(frozen=True)
class RelationData:
    """One relation as arrays for the jitted sweep (``n_sub`` static).

    Attributes
    ----------
    index : int array of shape (N,)
        Every row's sub-row.
    entry_sub, entry_feature, entry_value : arrays of shape (nnz,)
        The table's nonzeros (global feature numbers).
    features : int array of shape (F,)
        The relation's features (rows of ``theta``).
    first, count : int arrays of shape (F,)
        Each feature's chunks: ``chunk_sub[first[j] : first[j] + count[j]]``.
    chunk_sub, chunk_value : arrays of shape (n_chunks, CHUNK)
        The sub-rows holding each feature and ``x_sj`` there, in chunks; padding entries
        point at sub-row 0 with value 0 (they add exactly nothing).
    row_chunks, row_mask : arrays of shape (n_row_chunks, CHUNK)
        The rows pointing at each sub-row, in chunks (padding: row 0 with mask 0);
        ``row_owner`` (n_row_chunks,) is the sub-row of every chunk. The per-sub-row sums
        over rows are chunk-wise matrix products, then a short scatter of the chunks (a
        scatter of every row's ``K^2`` products cost more than the whole scan).
    n_sub : int
        Number of sub-rows.
    """

    index: jax.Array
    entry_sub: jax.Array
    entry_feature: jax.Array
    entry_value: jax.Array
    features: jax.Array
    first: jax.Array
    count: jax.Array
    chunk_sub: jax.Array
    chunk_value: jax.Array
    row_chunks: jax.Array
    row_mask: jax.Array
    row_owner: jax.Array
    n_sub: int


jax.tree_util.register_dataclass(
    RelationData,
    data_fields=["index", "entry_sub", "entry_feature", "entry_value", "features", "first",
                 "count", "chunk_sub", "chunk_value", "row_chunks", "row_mask",
                 "row_owner"],
    meta_fields=["n_sub"],
)


def _chunks(table: sp.csr_matrix, dtype: Any) -> tuple[np.ndarray, ...]:
    """Every column's sub-rows in chunks of :data:`CHUNK`: ``first, count, sub, value``."""
    csc = sp.csc_matrix(table)
    csc.sort_indices()
    degree = np.diff(csc.indptr)
    count = -(-degree // CHUNK)
    first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int32)
    n_chunks = max(int(count.sum()), 1)
    sub = np.zeros(n_chunks * CHUNK, np.int32)
    value = np.zeros(n_chunks * CHUNK, dtype)
    # Entry t of column j goes to slot first[j] * CHUNK + (t - indptr[j]).
    col = np.repeat(np.arange(degree.size), degree)
    slot = first[col].astype(np.int64) * CHUNK + np.arange(csc.nnz) - csc.indptr[col]
    sub[slot] = csc.indices
    value[slot] = csc.data
    return (first, count.astype(np.int32), sub.reshape(n_chunks, CHUNK),
            value.reshape(n_chunks, CHUNK))


def prepare_relations(
    relations: Sequence[Any], n_row_features: int, n_pad: int, dtype: Any
) -> tuple[RelationData, ...]:
    """Lay out ``relations`` (:class:`~bayesfm.data.relations.Relation`) for the sweep.

    Their features are numbered after the ``n_row_features`` columns of ``X``, relation
    after relation; ``n_pad`` is the row count after the sweep's padding rows (which point at
    sub-row 0 with weight 0: they add nothing to any sum).
    """
    out, offset = [], int(n_row_features)
    for rel in relations:
        table = sp.csr_matrix(rel.data, dtype=np.float64)
        table.eliminate_zeros()
        coo = table.tocoo()
        index = np.zeros(n_pad, np.int32)
        index[: rel.index.shape[0]] = rel.index
        first, count, sub, value = _chunks(table, dtype)
        # The rows of every sub-row, chunked as the table's columns are (a pattern matrix).
        n_real = rel.index.shape[0]
        owner = sp.csc_matrix((np.ones(n_real), (np.arange(n_real), rel.index)),
                              shape=(n_pad, table.shape[0]))
        _, row_count, rows, mask = _chunks(owner, dtype)
        out.append(RelationData(
            index=jnp.asarray(index),
            entry_sub=jnp.asarray(coo.row.astype(np.int32)),
            entry_feature=jnp.asarray((coo.col + offset).astype(np.int32)),
            entry_value=jnp.asarray(coo.data.astype(dtype)),
            features=jnp.arange(offset, offset + table.shape[1], dtype=jnp.int32),
            first=jnp.asarray(first), count=jnp.asarray(count),
            chunk_sub=jnp.asarray(sub), chunk_value=jnp.asarray(value),
            row_chunks=jnp.asarray(rows), row_mask=jnp.asarray(mask),
            row_owner=jnp.asarray(np.repeat(np.arange(table.shape[0]), row_count)
                                  .astype(np.int32)),
            n_sub=int(table.shape[0]),
        ))
        offset += table.shape[1]
    return tuple(out)


def relation_noise_size(relations: Sequence[RelationData], width: int) -> int:
    """Count the standard normals one sweep of the relations consumes (``width = 1 + k``)."""
    return sum(int(rel.features.shape[0]) * width for rel in relations)


def _table_sums(theta: jax.Array, rel: RelationData) -> tuple[jax.Array, jax.Array]:
    """Per sub-row: its factor sums ``(n_sub, k)`` and its own score (linear + within pairs)."""
    vals = theta[rel.entry_feature] * rel.entry_value[:, None]  # (nnz, 1 + k)
    s1 = jax.ops.segment_sum(vals, rel.entry_sub, rel.n_sub)
    s2 = jax.ops.segment_sum(vals[:, 1:] ** 2, rel.entry_sub, rel.n_sub)
    q_sub = s1[:, 1:]
    own = s1[:, 0] + 0.5 * jnp.sum(q_sub * q_sub - s2, axis=1)
    return q_sub, own


def add_relations(
    theta: jax.Array, relations: Sequence[RelationData], yhat: jax.Array, q: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Add the relations' part to scores ``yhat`` (N,) and factor sums ``q`` (k, N).

    ``theta = [w | v]`` over every feature; ``yhat`` and ``q`` hold the rows' own features
    (and any relation added before). Each relation adds its sub-row's own score and its
    pairs with what the row already holds, ``q_i . q_sub``.
    """
    for rel in relations:
        q_sub, own = _table_sums(theta, rel)
        q_rows = q_sub[rel.index].T
        yhat = yhat + own[rel.index] + jnp.sum(q * q_rows, axis=0)
        q = q + q_rows
    return yhat, q


def _fixed_sums(e: jax.Array, q: jax.Array, weight: jax.Array | None, q_sub: jax.Array,
                rel: RelationData) -> tuple[jax.Array, jax.Array]:
    """Return the sums over each sub-row's rows that stay fixed during the relation's pass.

    With ``u_i = (1, qR_i)``, ``qR_i`` the row's factor sums without the relation, ``a_i``
    its precision and ``e0_i`` its residual at the start, returns per sub-row the packed
    ``[sum a u u^T (K*K) | sum a u e0 (K) | q_sub (k)]``, shape ``(n_sub, K*K + K + k)``,
    and the rows' ``qR`` (k, N).
    """
    q_rest = q - q_sub[rel.index].T
    a = rel.row_mask if weight is None else weight[rel.row_chunks] * rel.row_mask
    u = jnp.concatenate([jnp.ones_like(e)[None], q_rest], axis=0).T[rel.row_chunks]
    au = u * a[..., None]  # (n_row_chunks, CHUNK, K)
    uu = jnp.einsum("cwa,cwb->cab", au, u).reshape(u.shape[0], -1)
    ue = jnp.einsum("cwa,cw->ca", au, e[rel.row_chunks])
    sums = jax.ops.segment_sum(jnp.concatenate([uu, ue], axis=1), rel.row_owner, rel.n_sub)
    return jnp.concatenate([sums, q_sub], axis=1), q_rest


def _feature_step(carry: jax.Array, inp: tuple, *, rel: RelationData, fixed: jax.Array,
                  group_of_feature: jax.Array, prior_lam: jax.Array, prior_mu: jax.Array,
                  tau: jax.Array) -> tuple:
    """Draw ``theta_j = (w_j, v_j)`` jointly; move its sub-rows' ``[omega | q_sub]``.

    ``carry[s] = [omega_s | q_sub_s]``: how much sub-row ``s``'s own score moved since the
    relation's pass began, and its factor sums now. A row of ``s`` then has factor sums
    ``qR + q_sub_s`` and residual ``e0 - omega_s - qR . (q_sub_s - q0_s)``, so the sums of
    ``r r^T`` and ``r e`` over its rows (``r = (1, q - x v_j)``, the row's ``h / x``) follow
    from the fixed sums (:func:`_fixed_sums`) without touching a row.
    """
    j, old, first, count, z = inp
    v = old[1:]
    width = old.shape[0]
    sq = width * width

    # Element-wise products and sums throughout, not dots: XLA's CPU backend fuses them, while
    # each tiny dot is a library call of its own (measured: the matmul forms 2x slower).
    def accumulate(t: jax.Array, acc: tuple) -> tuple:
        h, g = acc
        sub, x = rel.chunk_sub[t], rel.chunk_value[t]
        fix, dyn = fixed[sub], carry[sub]
        uu = fix[:, :sq].reshape(-1, width, width)  # sum a u u^T at the start
        ue = fix[:, sq:sq + width]
        delta = dyn[:, 1:] - fix[:, sq + width:]  # q_sub - q0
        u1 = uu[:, 0, :]  # (sum a, sum a qR)
        pad = jnp.concatenate([jnp.zeros_like(x)[:, None], dyn[:, 1:] - x[:, None] * v], 1)
        # sum a u e now, then the shift of u by (0, q_sub - x v_j):
        base = ue - dyn[:, :1] * u1 - jnp.sum(uu[:, :, 1:] * delta[:, None, :], axis=2)
        s_re = base + pad * base[:, :1]
        s_rr = (uu + u1[:, :, None] * pad[:, None, :] + pad[:, :, None] * u1[:, None, :]
                + uu[:, :1, :1] * pad[:, :, None] * pad[:, None, :])
        x2 = x * x
        return h + jnp.sum(x2[:, None, None] * s_rr, axis=0), g + jnp.sum(x[:, None] * s_re, axis=0)

    zero = (jnp.zeros((width, width), old.dtype), jnp.zeros(width, old.dtype))
    h, g = jax.lax.fori_loop(first, first + count, accumulate, zero)
    grp = group_of_feature[j]
    lam, mu = prior_lam[grp], prior_mu[grp]
    chol = jnp.linalg.cholesky(jnp.diag(lam) + tau * h)
    rhs = lam * mu + tau * (g + jnp.sum(h * old, axis=1))
    # mean + L^-T z = L^-T (L^-1 rhs + z): two triangular solves.
    new = jsl.solve_triangular(chol.T, jsl.solve_triangular(chol, rhs, lower=True) + z,
                               lower=False)
    dw, dv = new[0] - old[0], new[1:] - v

    def move(t: jax.Array, dyn_all: jax.Array) -> jax.Array:
        sub, x = rel.chunk_sub[t], rel.chunk_value[t]
        c_s = dyn_all[sub, 1:] - x[:, None] * v  # the sub-row's sums without feature j
        d_omega = x * (dw + jnp.sum(c_s * dv, axis=1))
        upd = jnp.concatenate([d_omega[:, None], x[:, None] * dv], axis=1)
        return dyn_all.at[sub].add(upd)

    return jax.lax.fori_loop(first, first + count, move, carry), new


def relation_columns(
    theta: jax.Array, e: jax.Array, q: jax.Array, weight: jax.Array | None,
    relations: Sequence[RelationData], group_of_feature: jax.Array, prior_lam: jax.Array,
    prior_mu: jax.Array, tau: jax.Array, noise: jax.Array,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Draw every relation feature's ``(w_j, v_j)`` from its exact joint conditional.

    ``theta = [w | v]`` (p, 1 + k), ``e`` the residual (N,), ``q`` the rows' factor sums
    (k, N), ``weight`` the rows' precisions (None: ones), ``prior_lam`` and ``prior_mu``
    the groups' prior precisions and means per column (G, 1 + k), ``tau`` the noise
    precision, ``noise`` :func:`relation_noise_size` standard normals. Returns the new
    ``theta``, ``e`` and ``q``.
    """
    width = theta.shape[1]
    start = 0
    for rel in relations:
        q_old, own_old = _table_sums(theta, rel)
        fixed, q_rest = _fixed_sums(e, q, weight, q_old, rel)
        n = int(rel.features.shape[0]) * width
        z = noise[start:start + n].reshape(-1, width)
        start += n
        step = functools.partial(_feature_step, rel=rel, fixed=fixed,
                                 group_of_feature=group_of_feature, prior_lam=prior_lam,
                                 prior_mu=prior_mu, tau=tau)
        dyn = jnp.concatenate([jnp.zeros((rel.n_sub, 1), theta.dtype), q_old], axis=1)
        # A feature's own value is read at its step only: the draws leave the scan as its
        # output, and theta stays out of the carry.
        new: jax.Array
        _, new = jax.lax.scan(step, dyn,
                              (rel.features, theta[rel.features], rel.first, rel.count, z))
        theta = theta.at[rel.features].set(new)
        # The rows from the new parameters (not the tracked sums): no drift across sweeps.
        q_new, own_new = _table_sums(theta, rel)
        dq = (q_new - q_old)[rel.index].T  # (k, N)
        e = e - ((own_new - own_old)[rel.index] + jnp.sum(q_rest * dq, axis=0))
        q = q_rest + q_new[rel.index].T
    return theta, e, q


def relation_scores(
    params: dict[str, jax.Array], indices: jax.Array, values: jax.Array,
    relations: Sequence[RelationData],
) -> jax.Array:
    """Scores of rows given by padded ``indices``/``values`` (N, L) plus ``relations``.

    One draw's ``params`` (``w0``, ``w``, ``v`` over every feature); the cost is
    ``O(N L k + nnz_B k)``, never the materialised rows'. Jit-able; map it over draws.
    """
    theta = jnp.concatenate([params["w"][:, None], params["v"]], axis=1)
    vals = theta[indices] * values[..., None]  # (N, L, 1 + k)
    s1 = vals.sum(axis=1)
    q = s1[:, 1:]
    yhat = params["w0"] + s1[:, 0] + 0.5 * jnp.sum(q * q - jnp.sum(vals[..., 1:] ** 2, 1), 1)
    yhat, _ = add_relations(theta, relations, yhat, q.T)
    return yhat
