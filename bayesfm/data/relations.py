"""Relation blocks: features shared by many rows, stored once (Rendle, VLDB 2013).

A row of a relational design is its own features (``X``) plus, for each :class:`Relation`,
one *sub-row* of that relation's table, referenced by index: the set of movies a user rated
(SVD++'s implicit user features), the users who rated a movie, a user's age and occupation.
Materialised per row, such features repeat hundreds of times; a relation keeps every
distinct sub-row once. The model is the FM of the materialised row (DESIGN section 1,
"relation blocks"); :func:`materialize` builds that row, for checks and for the engines that
need it.

Constructors: :func:`relation_from_sparse` (a sparse table and the per-row index),
:func:`relation_from_frame` (a table joined on a key, one group per column as
:class:`~bayesfm.data.FMEncoder` encodes it), and the implicit-feedback helpers
:func:`implicit_user_items` and :func:`implicit_item_users`, which must be given the
*training* rows only, so that nothing leaks from the test rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bayesfm.data.design import Design, _as_csr, _groups_to_codes, from_sparse

__all__ = ["NORMS", "Relation", "combined_names", "implicit_item_users", "implicit_user_items",
           "materialize", "relation_from_frame", "relation_from_sparse"]

#: How the implicit helpers weight a member of a set of ``count`` members.
NORMS = ("sqrt", "count", "none")


@dataclasses.dataclass(frozen=True, eq=False)
class Relation:
    """One relation block: a table of distinct sub-rows and every row's index into it.

    Attributes
    ----------
    index : ndarray of shape (n_rows,), int64
        Sub-row of every row of the design.
    data : scipy.sparse.csr_matrix of shape (n_sub, n_features)
        One row per distinct sub-row, in the relation's own columns.
    feature_names : tuple of str
        Name of every column (the ArviZ labels of its ``w`` and ``v``).
    groups : ndarray of shape (n_features,), int32
        Group of every column, ``0 .. len(group_names) - 1`` (each group its own
        Normal-Gamma hyperprior, as the groups of ``X``).
    group_names : tuple of str
    name : str
        The relation's name (error messages, the default feature names).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from bayesfm.data.relations import relation_from_sparse
    >>> rel = relation_from_sparse([0, 1, 0], sp.eye(2, format="csr"), name="user")
    >>> rel.n_rows, rel.n_sub, rel.n_features, rel.feature_names
    (3, 2, 2, ('user[0]', 'user[1]'))
    """

    index: np.ndarray
    data: sp.csr_matrix
    feature_names: tuple[str, ...]
    groups: np.ndarray
    group_names: tuple[str, ...]
    name: str

    @property
    def n_rows(self) -> int:
        """Number of rows of the design that point into the relation."""
        return int(self.index.shape[0])

    @property
    def n_sub(self) -> int:
        """Number of distinct sub-rows."""
        return int(self.data.shape[0])

    @property
    def n_features(self) -> int:
        """Number of the relation's own columns."""
        return int(self.data.shape[1])

    @property
    def n_groups(self) -> int:
        """Number of the relation's groups."""
        return len(self.group_names)

    def rows(self) -> sp.csr_matrix:
        """Return the materialised rows ``data[index]``, shape ``(n_rows, n_features)``."""
        return self.data[self.index]

    def with_index(self, index: Any) -> Relation:
        """Return the same table with another per-row index (the rows to predict)."""
        return dataclasses.replace(self, index=_check_index(index, self.n_sub, self.name))


def _check_index(index: Any, n_sub: int, name: str) -> np.ndarray:
    arr = np.asarray(index)
    if arr.ndim != 1:
        raise ValueError(f"relation {name!r}: index must be 1-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"relation {name!r}: index must hold integer sub-row numbers")
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"relation {name!r}: index must hold integer sub-row numbers, got "
                         f"dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n_sub):
        bad = int(np.argmax((arr < 0) | (arr >= n_sub)))
        raise ValueError(f"relation {name!r}: index {int(arr[bad])} at row {bad} is out of range "
                         f"[0, {n_sub}) (the table has {n_sub} sub-rows)")
    return arr.astype(np.int64)


def relation_from_sparse(
    index: Any, matrix: Any, *, groups: Sequence[Any] | np.ndarray | None = None,
    group_sizes: Sequence[int] | None = None, feature_names: Sequence[str] | None = None,
    group_names: Sequence[str] | None = None, name: str = "relation",
) -> Relation:
    """Build a :class:`Relation` from its table of sub-rows and the per-row index.

    Parameters
    ----------
    index : array-like of int, shape (n_rows,)
        Sub-row of every row (myFM's ``original_to_block``).
    matrix : sparse matrix or array-like of shape (n_sub, n_features)
        The distinct sub-rows (myFM's ``data``).
    groups, group_sizes, group_names
        As :func:`~bayesfm.data.from_sparse` takes them; default one group named ``name``.
    feature_names : sequence of str, optional
        Default ``name[0], name[1], ...``.
    name : str, default "relation"

    Raises
    ------
    ValueError
        For an index out of range or not integer, NaN or infinite values, or names and groups
        that do not match the columns.
    """
    name = str(name)
    try:
        data = _as_csr(matrix, f"relation {name!r} data")
    except ValueError as err:
        raise ValueError(str(err)) from None
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"relation {name!r}: the table has shape {data.shape}; it needs at "
                         "least one sub-row and one column")
    idx = _check_index(index, data.shape[0], name)
    p = data.shape[1]
    if groups is None and group_sizes is None and group_names is None:
        group_names = (name,)
    codes, gnames = _groups_to_codes(groups, p, group_sizes, group_names)
    if feature_names is None:
        fnames = tuple(f"{name}[{j}]" for j in range(p))
    else:
        fnames = tuple(str(f) for f in feature_names)
        if len(fnames) != p:
            raise ValueError(f"relation {name!r}: feature_names has {len(fnames)} names for "
                             f"{p} columns")
    return Relation(idx, data, fnames, codes, gnames, name)


def relation_from_frame(
    keys: Any, frame: pd.DataFrame, *, on: str, name: str | None = None,
    categorical: Sequence[str] | None = None, numeric: Sequence[str] | None = None,
) -> Relation:
    """Build a :class:`Relation` from a table joined to the rows on a key column.

    ``frame`` holds one row per key (e.g. a user table with ``user_id``, ``age``,
    ``gender``, ``occupation``); ``keys`` holds every design row's key. The columns other
    than ``on`` are encoded as :class:`~bayesfm.data.FMEncoder` encodes them, one group per
    column (categorical columns one-hot, numeric ones one standardised value feature);
    ``categorical`` and ``numeric`` declare columns whose dtype says otherwise.

    Examples
    --------
    >>> import pandas as pd
    >>> from bayesfm.data.relations import relation_from_frame
    >>> users = pd.DataFrame({"uid": [10, 20], "gender": ["F", "M"]})
    >>> rel = relation_from_frame([20, 10, 20], users, on="uid")
    >>> rel.index.tolist(), rel.feature_names, rel.group_names
    ([1, 0, 1], ('gender=F', 'gender=M'), ('gender',))
    """
    from bayesfm.data.encoder import FMEncoder

    if on not in frame.columns:
        raise ValueError(f"on={on!r} is not a column of the frame; columns: {list(frame.columns)}")
    key_col = frame[on]
    if key_col.isna().any() or key_col.duplicated().any():
        dup = key_col[key_col.duplicated()].iloc[:3].tolist()
        raise ValueError(f"column {on!r} must hold unique, non-missing keys (duplicates: {dup})")
    rest = frame.drop(columns=[on])
    if rest.shape[1] == 0:
        raise ValueError(f"the frame has no column besides {on!r} to encode")
    keys_arr = np.asarray(keys)
    pos = pd.Index(key_col).get_indexer(keys_arr)
    if np.any(pos < 0):
        missing = pd.unique(keys_arr[pos < 0])[:5].tolist()
        raise ValueError(f"{int(np.sum(pos < 0))} row keys are not in column {on!r} "
                         f"(e.g. {missing})")
    enc = FMEncoder(categorical=categorical, numeric=numeric).fit(rest)
    return relation_from_sparse(pos, enc.transform_csr(rest), group_sizes=enc.group_sizes,
                                feature_names=enc.feature_names_out,
                                group_names=enc.group_names, name=name or on)


def _implicit(
    owners: Any, members: Any, n_owners: int, n_members: int, norm: str, name: str,
    member: str, owner_name: str, member_name: str,
) -> Relation:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")
    o = np.asarray(owners)
    m = np.asarray(members)
    if o.ndim != 1 or o.shape != m.shape:
        raise ValueError(f"{owner_name} and {member_name} must be 1-d arrays of one length, got "
                         f"shapes {o.shape} and {m.shape}")
    o = _check_index(o, int(n_owners), name)
    m = _check_index(m, int(n_members), name)
    # A member rated twice by one owner counts once: the set, not the multiset.
    pattern = sp.csr_matrix((np.ones(o.size), (o, m)), shape=(int(n_owners), int(n_members)))
    pattern.sum_duplicates()
    pattern.data[:] = 1.0
    counts = np.diff(pattern.indptr)
    if norm == "sqrt":
        scale = 1.0 / np.sqrt(np.maximum(counts, 1))
    elif norm == "count":
        scale = 1.0 / np.maximum(counts, 1)
    else:
        scale = np.ones(counts.size)
    pattern.data *= np.repeat(scale, counts)
    names = tuple(f"{name}:{member}={j}" for j in range(int(n_members)))
    return Relation(np.arange(int(n_owners), dtype=np.int64), pattern, names,
                    np.zeros(int(n_members), np.int32), (name,), name)


def implicit_user_items(
    users: Any, items: Any, n_users: int, n_items: int, *, norm: str = "sqrt",
    name: str = "implicit_items",
) -> Relation:
    """Return the set of items every user rated as a relation with one sub-row per user.

    Give the **training** rows' ``users`` and ``items`` (0-based ids): the features of a
    test row must not see its own rating. Sub-row ``u`` holds a value at every item ``u``
    rated, ``1 / sqrt(count_u)`` for ``norm="sqrt"`` (SVD++'s and myFM's normalisation),
    ``1 / count_u`` for ``"count"``, ``1`` for ``"none"``. Its index is the identity: point
    the rows at their users with :meth:`Relation.with_index` (``rel.with_index(users)``).
    A user without training rows has an empty sub-row.

    Examples
    --------
    >>> from bayesfm.data.relations import implicit_user_items
    >>> rel = implicit_user_items([0, 0, 1, 0], [1, 2, 2, 2], n_users=2, n_items=3)
    >>> rel.data.toarray().round(3).tolist()
    [[0.0, 0.707, 0.707], [0.0, 0.0, 1.0]]
    >>> rel.with_index([1, 0]).rows().shape
    (2, 3)
    """
    return _implicit(users, items, n_users, n_items, norm, name, "item", "users", "items")


def implicit_item_users(
    items: Any, users: Any, n_items: int, n_users: int, *, norm: str = "sqrt",
    name: str = "implicit_users",
) -> Relation:
    """Return the set of users who rated every item, one sub-row per item (training rows).

    The mirror of :func:`implicit_user_items`: sub-row ``i`` holds ``1 / sqrt(count_i)``
    (``norm`` as there) at every user who rated item ``i``.
    """
    return _implicit(items, users, n_items, n_users, norm, name, "user", "items", "users")


def _check_relations(relations: Sequence[Relation], n_rows: int) -> tuple[Relation, ...]:
    rels = tuple(relations)
    for rel in rels:
        if not isinstance(rel, Relation):
            raise TypeError(f"relations must be Relation objects, got {type(rel).__name__}")
        if rel.n_rows != n_rows:
            raise ValueError(f"relation {rel.name!r} indexes {rel.n_rows} rows, but X has "
                             f"{n_rows} rows")
    return rels


def combined_names(
    design: Design, relations: Sequence[Relation]
) -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray]:
    """Feature names, group names and group codes of ``X``'s columns followed by the relations'.

    Each relation's groups follow those of the design (and of the relations before it).

    Raises
    ------
    ValueError
        When two columns, or two groups, of the combined design share a name.
    """
    fnames = list(design.feature_names)
    gnames = list(design.group_names)
    codes = [np.asarray(design.group_of_feature, np.int32)]
    for rel in relations:
        codes.append(np.asarray(rel.groups, np.int32) + len(gnames))
        fnames += rel.feature_names
        gnames += rel.group_names
    for kind, names in (("feature", fnames), ("group", gnames)):
        seen: set[str] = set()
        dup = [n for n in names if n in seen or seen.add(n)]  # type: ignore[func-returns-value]
        if dup:
            raise ValueError(f"the combined design repeats the {kind} name {dup[0]!r}; give the "
                             "relations distinct names")
    return tuple(fnames), tuple(gnames), np.concatenate(codes)


def materialize(
    X: Any, relations: Sequence[Relation], *, groups: Any = None,
    group_sizes: Sequence[int] | None = None, feature_names: Sequence[str] | None = None,
    group_names: Sequence[str] | None = None, dtype: Any = np.float32,
) -> Design:
    """Return the plain design equal to ``X`` plus ``relations``: ``[X | data_1[index_1] ..]``.

    ``X`` (sparse, array or :class:`~bayesfm.data.Design`) and its ``groups`` and names are
    taken as :func:`~bayesfm.data.from_sparse` takes them; the relations' columns and groups
    follow (:func:`combined_names`). Memory grows with the materialised nonzeros: for checks,
    small data and the engines that score rows directly (the Gibbs engine never needs it).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from bayesfm.data.relations import implicit_user_items, materialize
    >>> users, items = np.array([0, 0, 1]), np.array([0, 1, 1])
    >>> X = sp.hstack([sp.eye(2, format="csr")[users], sp.eye(2, format="csr")[items]])
    >>> rel = implicit_user_items(users, items, 2, 2).with_index(users)
    >>> d = materialize(X, [rel], group_sizes=[2, 2], group_names=["user", "item"])
    >>> d.group_names, d.n_features
    (('user', 'item', 'implicit_items'), 6)
    """
    base = X if isinstance(X, Design) else from_sparse(
        X, groups, group_sizes=group_sizes, feature_names=feature_names,
        group_names=group_names, dtype=dtype)
    rels = _check_relations(relations, base.n_rows)
    fnames, gnames, codes = combined_names(base, rels)
    full = sp.hstack([base.to_csr(), *(rel.rows() for rel in rels)], format="csr")
    return from_sparse(full, codes, feature_names=fnames, group_names=gnames,
                       dtype=base.values.dtype)
