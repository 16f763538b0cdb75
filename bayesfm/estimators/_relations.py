"""Relation blocks at the estimators' edge: the fit's designs and the rows to predict.

``fit(X, y, relations=[...])`` numbers the relations' features after ``X``'s columns
(:func:`bayesfm.data.relations.combined_names`). The Gibbs engine samples the relation blocks
as they are (:mod:`bayesfm.engines.gibbs.relations`); NUTS and SVI get the materialised
design. Prediction checks that the relations have the fit's shapes, then, for the plain FM,
scores the rows exactly without materialising them: per draw, each sub-row becomes one
virtual feature of value 1 with ``w = `` its own score (linear part and pairs within it) and
``v = `` its factor sums, so that the FM of ``[x_i | one-hot sub-rows]`` equals the FM of the
materialised row (its pairs with the row's features and with the other relations' sub-rows
are ``q . q_sub``). Other terms materialise the rows.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted, validate_data

from bayesfm.data.design import Design, padded_rows
from bayesfm.data.relations import Relation, _check_relations, combined_names, materialize
from bayesfm.estimators._validation import check_X_shape_and_kind

__all__ = ["Joined", "compress_draws", "compressible", "fit_designs", "join"]


class Joined(NamedTuple):
    """Rows to predict (``X`` validated, as CSR) with their relations and the fit's template."""

    rows: sp.csr_matrix
    relations: tuple[Relation, ...]
    template: Design

    def materialised(self) -> Design:
        """Return the rows ``[X | data_1[index_1] | ...]`` laid out like the fit's design."""
        full = sp.hstack([self.rows, *(rel.rows() for rel in self.relations)], format="csr")
        return self.template.with_rows(full)

    def compressed_groups(self) -> np.ndarray:
        """Group code of every column of :meth:`compressed`.

        The rows' own columns keep the fit's groups; each relation's sub-rows form one new
        group.
        """
        n_x = self.rows.shape[1]
        codes = [np.asarray(self.template.group_of_feature[:n_x])]
        g = int(np.max(self.template.group_of_feature)) + 1
        codes += [np.full(rel.n_sub, g + i, np.int32) for i, rel in enumerate(self.relations)]
        return np.concatenate(codes).astype(np.int32)

    def compressed(self) -> Design:
        """Return the rows ``[X | one-hot sub-row of each relation]`` (:func:`compress_draws`)."""
        blocks = [self.rows] + [
            sp.csr_matrix((np.ones(rel.n_rows), (np.arange(rel.n_rows), rel.index)),
                          shape=(rel.n_rows, rel.n_sub)) for rel in self.relations]
        full = sp.hstack(blocks, format="csr")
        codes = self.compressed_groups()
        indices, values = padded_rows(full, dtype=self.template.values.dtype)
        return Design(indices, values, codes, tuple(f"x{j}" for j in range(full.shape[1])),
                      tuple(f"g{j}" for j in range(int(codes.max()) + 1)))


def compressible(interaction: Any) -> bool:
    """Whether :meth:`Joined.compressed` scores exactly: the plain FM of degree 2."""
    return interaction.name == "fm" and tuple(interaction.factor_names) == ("v",)


@functools.partial(jax.jit, static_argnames="n_sub")
def _sub_row_sums(w: jax.Array, v: jax.Array, sub: jax.Array, feat: jax.Array,
                  val: jax.Array, n_sub: int) -> tuple[jax.Array, jax.Array]:
    """Per draw and sub-row: its own score (S, n_sub) and its factor sums (S, n_sub, k)."""
    def one(w_d: jax.Array, v_d: jax.Array) -> tuple[jax.Array, jax.Array]:
        lin = jax.ops.segment_sum(w_d[feat] * val, sub, n_sub)
        a = v_d[feat] * val[:, None]
        q = jax.ops.segment_sum(a, sub, n_sub)
        own = jax.ops.segment_sum(jnp.sum(a * a, 1), sub, n_sub)
        return lin + 0.5 * (jnp.sum(q * q, 1) - own), q
    return jax.vmap(one)(w, v)


def compress_draws(draws: Any, joined: Joined, chunk: int = 16) -> Any:
    """Return ``draws`` (:class:`~bayesfm.results.PosteriorDraws`) over the compressed design.

    Every sub-row ``s`` of a relation becomes a feature with ``w = lin_s + 1/2 (|q_s|^2 -
    sum_j x_sj^2 |v_j|^2)`` and ``v = q_s = sum_j x_sj v_j``: exact for the plain FM. The
    sums are taken ``chunk`` draws at a time, never over the materialised rows.
    """
    n_x = joined.rows.shape[1]
    w, v = draws.params["w"], draws.params["v"]
    parts_w, parts_v = [w[:, :n_x]], [v[:, :n_x]]
    offset = n_x
    for rel in joined.relations:
        coo = sp.coo_matrix(rel.data)
        sub = jnp.asarray(coo.row, jnp.int32)
        feat = jnp.asarray(coo.col + offset, jnp.int32)
        val = jnp.asarray(coo.data, w.dtype)

        out = [_sub_row_sums(w[i:i + chunk], v[i:i + chunk], sub, feat, val, rel.n_sub)
               for i in range(0, w.shape[0], chunk)]
        parts_w.append(jnp.concatenate([o[0] for o in out]))
        parts_v.append(jnp.concatenate([o[1] for o in out]))
        offset += rel.n_features
    params = {**draws.params, "w": jnp.concatenate(parts_w, 1),
              "v": jnp.concatenate(parts_v, 1)}
    return draws._replace(params=params,
                          group_of_feature=jnp.asarray(joined.compressed_groups()))


def _shapes(relations: tuple[Relation, ...]) -> tuple[tuple[str, int], ...]:
    return tuple((rel.name, rel.n_features) for rel in relations)


def fit_designs(
    est: Any, X: Any, design: Design, relations: Any, method: str
) -> tuple[Design, tuple[Relation, ...]]:
    """Return the design and relations the engine gets; record the relations' shapes on ``est``.

    Without relations: ``design`` and ``()``. With them: for Gibbs the design over every
    feature holding the rows' own entries, and the relations; for NUTS and SVI the
    materialised design and ``()``.
    """
    if relations is None or len(relations) == 0:
        # No attribute at all (not an empty one): a model fitted without relations has the
        # fitted attributes it always had, which persistence stores.
        vars(est).pop("relation_shapes_", None)
        return design, ()
    if isinstance(X, pd.DataFrame):
        raise TypeError("relations= is implemented for array and sparse X, not DataFrames; "
                        "encode the frame first (bayesfm.data.FMEncoder().fit_transform)")
    rels = _check_relations(relations, design.n_rows)
    est.relation_shapes_ = _shapes(rels)
    if method != "gibbs":
        return materialize(design, rels), ()
    fnames, gnames, codes = combined_names(design, rels)
    return Design(design.indices, design.values, codes, fnames, gnames), rels


def join(est: Any, X: Any, relations: Any) -> Any:
    """Return ``X`` for prediction: unchanged without relations, else :class:`Joined`.

    Raises ``ValueError`` when the relations do not match the fit's (count, names' order and
    feature counts), or when a fit with relations is asked to predict without them.
    """
    check_is_fitted(est, "idata_")
    fitted = getattr(est, "relation_shapes_", ())
    given = () if relations is None else tuple(relations)
    if not fitted and not given:
        return X
    if not fitted:
        raise ValueError("this model was fitted without relations; predict without "
                         "relations=")
    if not given:
        raise ValueError(f"this model was fitted with {len(fitted)} relation(s) "
                         f"({', '.join(n for n, _ in fitted)}); pass them as relations=")
    if isinstance(X, pd.DataFrame):
        raise TypeError("relations= is implemented for array and sparse X, not DataFrames")
    check_X_shape_and_kind(X)
    X = validate_data(est, X, reset=False, accept_sparse=["csr", "csc", "coo"],
                      dtype=[np.float64, np.float32], ensure_min_samples=1)
    rels = _check_relations(given, X.shape[0])
    if len(rels) != len(fitted):
        raise ValueError(f"the fit had {len(fitted)} relation(s), got {len(rels)}")
    for (name, n_feat), rel in zip(fitted, rels, strict=True):
        if rel.n_features != n_feat:
            raise ValueError(f"relation {rel.name!r} has {rel.n_features} features, but the "
                             f"fit's relation {name!r} had {n_feat}")
    return Joined(sp.csr_matrix(X), rels, est.design_template_)
