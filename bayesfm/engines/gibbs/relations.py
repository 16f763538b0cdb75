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
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import scipy.sparse as sp

__all__ = ["FeatureRun", "RelationData", "add_relations", "prepare_relations",
           "relation_columns", "relation_noise_size", "relation_scores"]


class FeatureRun(NamedTuple):
    """A relation's features of similar degree, each with its padded list of sub-rows.

    Attributes
    ----------
    features : int array of shape (F,)
        Global feature numbers (rows of ``theta``).
    subrows : int array of shape (F, D)
        The sub-rows holding each feature; padding entries point at sub-row 0 with value 0.
    values : array of shape (F, D)
        ``x_sj`` at those entries (0 for padding: it adds exactly nothing).
    """

    features: jax.Array
    subrows: jax.Array
    values: jax.Array


@dataclasses.dataclass(frozen=True)
class RelationData:
    """One relation as arrays for the jitted sweep (``n_sub`` static).

    ``index`` (N,) is every row's sub-row; ``entry_sub``, ``entry_feature`` and
    ``entry_value`` list the table's nonzeros (global feature numbers); ``runs`` hold the
    features in sets of similar degree.
    """

    index: jax.Array
    entry_sub: jax.Array
    entry_feature: jax.Array
    entry_value: jax.Array
    runs: tuple[FeatureRun, ...]
    n_sub: int


jax.tree_util.register_dataclass(
    RelationData,
    data_fields=["index", "entry_sub", "entry_feature", "entry_value", "runs"],
    meta_fields=["n_sub"],
)


def _runs(table: sp.csr_matrix, offset: int, dtype: Any) -> tuple[FeatureRun, ...]:
    """Group the table's columns by degree into runs of padded width ``2^m`` (waste < 2x)."""
    csc = sp.csc_matrix(table)
    csc.sort_indices()
    degree = np.diff(csc.indptr)
    width = np.maximum(1, 1 << np.ceil(np.log2(np.maximum(degree, 1))).astype(np.int64))
    runs = []
    for w in np.unique(width):
        cols = np.flatnonzero(width == w)
        subrows = np.zeros((cols.size, int(w)), np.int32)
        values = np.zeros((cols.size, int(w)), dtype)
        for r, j in enumerate(cols):
            lo, hi = csc.indptr[j], csc.indptr[j + 1]
            subrows[r, : hi - lo] = csc.indices[lo:hi]
            values[r, : hi - lo] = csc.data[lo:hi]
        runs.append(FeatureRun(jnp.asarray(cols + offset, jnp.int32), jnp.asarray(subrows),
                               jnp.asarray(values)))
    return tuple(runs)


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
        out.append(RelationData(
            index=jnp.asarray(index),
            entry_sub=jnp.asarray(coo.row.astype(np.int32)),
            entry_feature=jnp.asarray((coo.col + offset).astype(np.int32)),
            entry_value=jnp.asarray(coo.data.astype(dtype)),
            runs=_runs(table, offset, dtype),
            n_sub=int(table.shape[0]),
        ))
        offset += table.shape[1]
    return tuple(out)


def relation_noise_size(relations: Sequence[RelationData], width: int) -> int:
    """Count the standard normals one sweep of the relations consumes (``width = 1 + k``)."""
    return sum(int(run.features.shape[0]) * width for rel in relations for run in rel.runs)


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


def _aggregates(e: jax.Array, q: jax.Array, weight: jax.Array | None, rel: RelationData
                ) -> tuple[jax.Array, jax.Array]:
    """``UU_s = sum a_i u_i u_i^T`` (n_sub, K, K) and ``UE_s = sum a_i u_i e_i`` (n_sub, K)."""
    u = jnp.concatenate([jnp.ones((1, q.shape[1]), q.dtype), q], axis=0)  # (K, N)
    wu = u if weight is None else u * weight
    uu = jax.ops.segment_sum(jnp.einsum("an,bn->nab", wu, u), rel.index, rel.n_sub)
    ue = jax.ops.segment_sum((wu * e).T, rel.index, rel.n_sub)
    return uu, ue


def _feature_step(carry: tuple, inp: tuple, *, group_of_feature: jax.Array,
                  prior_lam: jax.Array, prior_mu: jax.Array, tau: jax.Array) -> tuple:
    """Draw ``theta_j = (w_j, v_j)`` jointly; update the aggregates of its sub-rows."""
    theta, uu_all, ue_all = carry
    j, sub, x, z = inp
    g = group_of_feature[j]
    lam, mu = prior_lam[g], prior_mu[g]
    old = theta[j]
    m = old.at[0].set(0.0)
    uu, ue = uu_all[sub], ue_all[sub]  # (D, K, K), (D, K)
    x2 = x * x
    c, u, e = uu[:, 0, 0], uu[:, 0, :], ue[:, 0]
    a_sum = jnp.einsum("d,dab->ab", x2, uu)
    b_sum = (x2 * x) @ u
    c_sum = (x2 * x2) @ c
    h = (a_sum - jnp.outer(b_sum, m) - jnp.outer(m, b_sum) + c_sum * jnp.outer(m, m))
    g_vec = x @ ue - m * (x2 @ e)
    prec = jnp.diag(lam) + tau * h
    rhs = lam * mu + tau * (g_vec + h @ old)
    chol = jnp.linalg.cholesky(prec)
    mean = jsl.cho_solve((chol, True), rhs)
    new = mean + jsl.solve_triangular(chol.T, z, lower=False)
    delta = new - old
    d_v = delta.at[0].set(0.0)
    md = m @ delta
    a = jnp.einsum("dab,b->da", uu, delta) - (x * md)[:, None] * u  # sum a_i u_i (r_i . delta)
    b = u @ delta - x * c * md  # sum a_i (r_i . delta)
    d_ue = (x * e)[:, None] * d_v - x[:, None] * a - (x2 * b)[:, None] * d_v
    d_uu = (x[:, None, None] * (d_v[None, :, None] * u[:, None, :] + u[:, :, None] * d_v)
            + (x2 * c)[:, None, None] * jnp.outer(d_v, d_v))
    return (theta.at[j].set(new), uu_all.at[sub].add(d_uu), ue_all.at[sub].add(d_ue)), None


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
    step = functools.partial(_feature_step, group_of_feature=group_of_feature,
                             prior_lam=prior_lam, prior_mu=prior_mu, tau=tau)
    start = 0
    for rel in relations:
        q_old, own_old = _table_sums(theta, rel)
        uu, ue = _aggregates(e, q, weight, rel)
        for run in rel.runs:
            n = int(run.features.shape[0]) * width
            z = noise[start:start + n].reshape(-1, width)
            start += n
            (theta, uu, ue), _ = jax.lax.scan(
                step, (theta, uu, ue), (run.features, run.subrows, run.values, z))
        q_new, own_new = _table_sums(theta, rel)
        dq = (q_new - q_old)[rel.index].T  # (k, N)
        rest = q - q_old[rel.index].T  # the row's factor sums without this relation
        e = e - ((own_new - own_old)[rel.index] + jnp.sum(rest * dq, axis=0))
        q = q + dq
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
