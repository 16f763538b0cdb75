"""The design pytree: sparse FM rows as padded feature indices and values.

A :class:`Design` holds, for ``N`` rows with at most ``L`` nonzeros each, an ``(N, L)`` array
of feature indices and an ``(N, L)`` array of values. Rows with fewer nonzeros are padded with
index 0 and value 0, which contributes nothing to any FM term. ``X`` is never densified.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
import scipy.sparse as sp

__all__ = ["Design", "from_sparse", "check_finite", "padded_rows"]


@dataclasses.dataclass(frozen=True, eq=False)
class Design:
    """Immutable sparse design of a factorization machine.

    Parameters
    ----------
    indices : ndarray of shape (n_rows, max_nnz), int32
        Feature index of every stored entry; padding entries point at feature 0.
    values : ndarray of shape (n_rows, max_nnz), float
        Value of every stored entry; padding entries are 0.
    group_of_feature : ndarray of shape (n_features,), int32
        The group (field) of every feature, in ``0 .. n_groups - 1``.
    feature_names, group_names : tuple of str
        Labels that become ArviZ coordinates.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from bayesfm.data import from_sparse
    >>> X = sp.csr_matrix(np.array([[1.0, 0, 1], [0, 1, 1]]))
    >>> d = from_sparse(X, groups=[0, 0, 1])
    >>> d.n_rows, d.n_features, d.n_groups, d.max_nnz
    (2, 3, 2, 2)
    """

    indices: np.ndarray
    values: np.ndarray
    group_of_feature: np.ndarray
    feature_names: tuple[str, ...]
    group_names: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        """Number of rows ``N``."""
        return int(self.indices.shape[0])

    @property
    def max_nnz(self) -> int:
        """Padded row width ``L``."""
        return int(self.indices.shape[1])

    @property
    def n_features(self) -> int:
        """Number of features ``p``."""
        return int(self.group_of_feature.shape[0])

    @property
    def n_groups(self) -> int:
        """Number of groups ``G``."""
        return len(self.group_names)

    @property
    def nnz(self) -> int:
        """Number of stored nonzero entries (padding excluded)."""
        return int(np.count_nonzero(self.values))

    def with_rows(self, X: Any) -> Design:
        """Return a design with the same features and groups but the rows of ``X``.

        ``X`` must have exactly ``n_features`` columns.
        """
        X = _as_csr(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features, but the design has {self.n_features} features"
            )
        indices, values = padded_rows(X, dtype=self.values.dtype)
        return dataclasses.replace(self, indices=indices, values=values)

    def take(self, rows: np.ndarray) -> Design:
        """Return the design restricted to ``rows``."""
        return dataclasses.replace(self, indices=self.indices[rows], values=self.values[rows])

    def to_csr(self) -> sp.csr_matrix:
        """Rebuild the ``(n_rows, n_features)`` CSR matrix (padding dropped)."""
        n, width = self.indices.shape
        rows = np.repeat(np.arange(n), width)
        m = sp.csr_matrix(
            (self.values.ravel(), (rows, self.indices.ravel())), shape=(n, self.n_features)
        )
        m.eliminate_zeros()
        return m


jax.tree_util.register_dataclass(
    Design,
    data_fields=["indices", "values", "group_of_feature"],
    meta_fields=["feature_names", "group_names"],
)


def check_finite(a: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` and the first offending entry if ``a`` is not finite."""
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        kind = "NaN" if np.isnan(a[tuple(bad)]) else "infinity"
        raise ValueError(f"{name} contains {kind} (first at index {tuple(int(b) for b in bad)})")


def _as_csr(X: Any, name: str) -> sp.csr_matrix:
    if sp.issparse(X):
        X = sp.csr_matrix(X)
    else:
        arr = np.asarray(X)
        if arr.dtype.kind == "c":
            raise TypeError(f"{name} is complex; FM features must be real numbers")
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
        if arr.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional, got shape {arr.shape}")
        X = sp.csr_matrix(arr.astype(np.float64, copy=False))
    if X.dtype.kind == "c":
        raise TypeError(f"{name} is complex; FM features must be real numbers")
    X = X.astype(np.float64, copy=False)
    check_finite(X.data, name)
    X.sum_duplicates()
    X.eliminate_zeros()
    return X


def padded_rows(X: sp.csr_matrix, dtype: Any = np.float32) -> tuple[np.ndarray, np.ndarray]:
    """Convert a CSR matrix to padded ``(indices, values)`` arrays of width ``max(nnz per row, 1)``.

    Padding entries have index 0 and value 0.
    """
    X = sp.csr_matrix(X)
    X.sort_indices()
    counts = np.diff(X.indptr)
    width = max(int(counts.max()) if counts.size else 0, 1)
    n = X.shape[0]
    indices = np.zeros((n, width), dtype=np.int32)
    values = np.zeros((n, width), dtype=dtype)
    rows = np.repeat(np.arange(n), counts)
    cols = np.arange(X.nnz) - np.repeat(X.indptr[:-1], counts)
    indices[rows, cols] = X.indices
    with np.errstate(over="ignore"):
        stored = X.data.astype(dtype)
    if stored.size and not np.all(np.isfinite(stored)):
        k = int(np.argmax(~np.isfinite(stored)))
        raise ValueError(
            f"X has the value {X.data[k]:.6g} at row {int(rows[k])}, column {int(X.indices[k])}, "
            f"beyond the range of {np.dtype(dtype).name}; rescale the column"
        )
    values[rows, cols] = stored
    return indices, values


def _groups_to_codes(
    groups: Sequence[Any] | np.ndarray | None,
    n_features: int,
    group_sizes: Sequence[int] | None,
    group_names: Sequence[str] | None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    if groups is not None and group_sizes is not None:
        raise ValueError("give either groups or group_sizes, not both")
    if group_sizes is not None:
        sizes = np.asarray(group_sizes)
        if sizes.ndim != 1 or np.any(sizes < 1) or sizes.sum() != n_features:
            raise ValueError(
                f"group_sizes must be positive and sum to the number of features "
                f"({n_features}), got {list(sizes)}"
            )
        codes = np.repeat(np.arange(len(sizes)), sizes)
        names = tuple(group_names) if group_names is not None else tuple(
            f"g{g}" for g in range(len(sizes))
        )
    elif groups is None:
        codes = np.zeros(n_features, dtype=np.int64)
        names = tuple(group_names) if group_names is not None else ("all",)
    else:
        arr = np.asarray(groups)
        if arr.dtype.kind == "f":
            if not np.all(np.isfinite(arr)):
                bad = int(np.argmax(~np.isfinite(arr)))
                raise ValueError(f"groups contains {arr[bad]} at feature {bad}; give a label")
            if np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
        if arr.shape != (n_features,):
            raise ValueError(
                f"groups must give one group per feature: expected length {n_features}, "
                f"got shape {arr.shape}"
            )
        if arr.dtype.kind in "iu":
            if arr.min() < 0:
                raise ValueError(f"groups must be non-negative integers, got {arr.min()}")
            uniq, codes = np.unique(arr, return_inverse=True)
            default_names = tuple(f"g{int(u)}" for u in uniq)
        else:
            # Group labels keep their first-appearance order.
            labels, first = np.unique(arr.astype(str), return_index=True)
            order = np.argsort(first)
            remap = np.empty(len(labels), dtype=np.int64)
            remap[order] = np.arange(len(labels))
            _, inv = np.unique(arr.astype(str), return_inverse=True)
            codes = remap[inv]
            default_names = tuple(str(labels[o]) for o in order)
        names = tuple(group_names) if group_names is not None else default_names
    n_groups = int(codes.max()) + 1
    if len(names) != n_groups:
        raise ValueError(f"group_names has {len(names)} names, but there are {n_groups} groups")
    return codes.astype(np.int32), tuple(str(n) for n in names)


def from_sparse(
    X: Any,
    groups: Sequence[Any] | np.ndarray | None = None,
    *,
    group_sizes: Sequence[int] | None = None,
    feature_names: Sequence[str] | None = None,
    group_names: Sequence[str] | None = None,
    dtype: Any = np.float32,
) -> Design:
    """Build a :class:`Design` from a scipy.sparse matrix or a dense 2-D array.

    Parameters
    ----------
    X : sparse matrix or array-like of shape (n_rows, n_features)
        The rows. Dense input is converted to CSR, never the other way round.
    groups : array-like of shape (n_features,), optional
        Group (field) label of every feature, integer codes or strings. ``None`` puts every
        feature in one group ``"all"`` (the plain FM prior).
    group_sizes : sequence of int, optional
        Alternative to ``groups`` when features are laid out group after group
        (myFM's ``group_shapes``).
    feature_names, group_names : sequence of str, optional
        Labels for the ArviZ coordinates; default ``x0, x1, ...`` and ``g0, g1, ...``.
    dtype : numpy dtype, default float32
        Dtype of the stored values.

    Returns
    -------
    Design

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.data import from_sparse
    >>> d = from_sparse(np.eye(4), group_sizes=[2, 2], group_names=["user", "item"])
    >>> d.group_names, d.group_of_feature.tolist()
    (('user', 'item'), [0, 0, 1, 1])
    """
    X = _as_csr(X, "X")
    n, p = X.shape
    if n == 0:
        raise ValueError("X has 0 rows; at least one row is required")
    if p == 0:
        raise ValueError("X has 0 features; at least one feature is required")
    codes, gnames = _groups_to_codes(groups, p, group_sizes, group_names)
    if feature_names is None:
        fnames = tuple(f"x{i}" for i in range(p))
    else:
        fnames = tuple(str(f) for f in feature_names)
        if len(fnames) != p:
            raise ValueError(f"feature_names has {len(fnames)} names for {p} features")
    indices, values = padded_rows(X, dtype=dtype)
    return Design(indices, values, codes, fnames, gnames)
