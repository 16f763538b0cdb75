"""Relation blocks at the estimators' edge: the fit's designs and the rows to predict.

``fit(X, y, relations=[...])`` numbers the relations' features after ``X``'s columns
(:func:`bayesfm.data.relations.combined_names`). The Gibbs engine samples the relation blocks
as they are (:mod:`bayesfm.engines.gibbs.relations`); NUTS and SVI get the materialised
design. Prediction materialises the rows it is given (``X`` plus the relations' rows), after
checking that the relations have the fit's shapes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted, validate_data

from bayesfm.data.design import Design
from bayesfm.data.relations import Relation, _check_relations, combined_names, materialize
from bayesfm.estimators._validation import check_X_shape_and_kind

__all__ = ["Joined", "fit_designs", "join"]


class Joined(NamedTuple):
    """Rows to predict, already joined with their relations and laid out like the fit."""

    design: Design


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
        est.relation_shapes_ = ()
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
    full = sp.hstack([sp.csr_matrix(X), *(rel.rows() for rel in rels)], format="csr")
    return Joined(est.design_template_.with_rows(full))
