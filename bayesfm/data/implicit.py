"""Implicit feedback: positive (user, item) interactions plus sampled negatives, as FM rows.

A click log, a play count or "rated at least 4" says only which pairs are positive. A binary
FM (:class:`~bayesfm.BayesianFMClassifier`, Gibbs probit or logit) learns from them once every
user also has items labelled 0: :func:`sample_negatives` draws, for every user, ``k``
unobserved items per positive, uniformly or weighted by popularity, and returns the labelled
rows ready for ``fit``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp

from bayesfm.data.datasets import DatasetInfo

__all__ = ["ImplicitRows", "WEIGHTINGS", "sample_negatives"]

#: How :func:`sample_negatives` weights the unobserved items.
WEIGHTINGS = ("uniform", "popularity")

_CHUNK = 1 << 22  # entries of one (users x items) block of random keys: 32 MiB of float64


@dataclasses.dataclass(frozen=True, eq=False)
class ImplicitRows:
    """Positives and sampled negatives as one-hot (user, item) rows with 0/1 labels.

    Attributes
    ----------
    X : scipy.sparse.csr_matrix of shape (n_rows, n_users + n_items)
        A one at column ``user`` and at column ``n_users + item`` of every row: the positives
        first, in the order given, then the negatives, by user.
    y : ndarray of shape (n_rows,), float64
        ``1`` for a positive, ``0`` for a sampled negative.
    users, items : ndarray of shape (n_rows,), int64
        The pair of every row.
    info : DatasetInfo
        Column names ``user=0 ..``, ``item=0 ..`` in the groups ``user`` and ``item``, for
        ``fit(rows.X, rows.y, groups=rows.info)``.
    """

    X: sp.csr_matrix
    y: np.ndarray
    users: np.ndarray
    items: np.ndarray
    info: DatasetInfo

    @property
    def n_positives(self) -> int:
        """Number of positive rows."""
        return int(self.y.sum())

    @property
    def n_negatives(self) -> int:
        """Number of sampled negative rows."""
        return int(self.y.size - self.y.sum())


def _int_array(a: Any, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array of integer ids")
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        arr = arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer ids (0-based), got dtype {arr.dtype}")
    if arr.min() < 0:
        raise ValueError(f"{name} holds a negative id ({arr.min()}); ids are 0-based")
    return arr.astype(np.int64)


def _pair_matrix(exclude: Any, shape: tuple[int, int]) -> sp.csr_matrix:
    """``exclude`` (boolean matrix or (m, 2) pairs) as a boolean CSR matrix of ``shape``."""
    if sp.issparse(exclude) or (isinstance(exclude, np.ndarray) and exclude.dtype == bool):
        if exclude.shape != shape:
            raise ValueError(f"exclude has shape {exclude.shape}; (n_users, n_items) is {shape}")
        return sp.csr_matrix(exclude, dtype=bool)
    pairs = np.asarray(exclude)
    if pairs.size == 0:
        return sp.csr_matrix(shape, dtype=bool)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or pairs.dtype.kind not in "iu":
        raise ValueError("exclude must be a boolean (n_users, n_items) matrix or an (m, 2) "
                         "integer array of (user, item) pairs")
    if pairs.min() < 0 or np.any(pairs.max(axis=0) >= np.asarray(shape)):
        raise ValueError(f"exclude has a pair outside (n_users, n_items) = {shape}")
    return sp.csr_matrix((np.ones(len(pairs), bool), (pairs[:, 0], pairs[:, 1])), shape=shape)


def sample_negatives(
    users: Any,
    items: Any,
    *,
    n_users: int | None = None,
    n_items: int | None = None,
    k: int = 4,
    weighting: str = "uniform",
    power: float = 1.0,
    exclude: Any = None,
    random_state: Any = None,
) -> ImplicitRows:
    """Label the positive pairs 1 and ``k`` sampled unobserved items per positive 0.

    Every user ``u`` with ``n_u`` positives gets ``k * n_u`` negatives: distinct items (no
    item twice for one user), drawn without replacement among the items that are neither a
    positive of ``u`` here nor a pair of ``exclude``. So a sampled negative is never an
    observed positive, and never a held-out one when the held-out pairs are passed in
    ``exclude``. A user with fewer such items than ``k * n_u`` gets all of them.

    The items are drawn uniformly (``weighting="uniform"``), or with probability
    proportional to ``(1 + c_j) ** power`` (``weighting="popularity"``), ``c_j`` the number
    of positives of item ``j`` in ``items``: popular items are then more often negatives,
    which teaches the model to rank by more than popularity (the ``1 +`` keeps an item
    without positives drawable). Draws without replacement use the Gumbel top-``m`` trick
    (successive draws each proportional to the weights of the items not yet drawn).

    The negatives are drawn once, so the FM is fitted to one fixed sample of them: a
    different ``random_state`` gives another sample.

    Parameters
    ----------
    users, items : array-like of shape (n_positives,), int
        The positive pairs, 0-based ids. A pair given twice counts twice (two rows, twice
        the negatives).
    n_users, n_items : int, optional
        Number of users and items (the column layout); default the largest id plus one.
    k : int, default 4
        Negatives per positive.
    weighting : {"uniform", "popularity"}, default "uniform"
        How the unobserved items are weighted.
    power : float, default 1.0
        ``weighting="popularity"``: the exponent of ``1 + c_j`` (0 is uniform).
    exclude : boolean matrix of shape (n_users, n_items), or (m, 2) int pairs, optional
        Pairs never drawn as negatives beyond the positives given (dense or sparse), e.g.
        positives known but not used as rows. In an evaluation, passing the held-out test
        pairs tells the sampler which items the user will like: leave them out there, as
        other implicit methods (which treat every unobserved pair as a negative) do.
    random_state : int, numpy Generator or None
        Seed of the draws.

    Returns
    -------
    ImplicitRows
        ``X`` (one-hot user and item columns), ``y`` (1 positive, 0 negative), the
        ``users`` and ``items`` of every row and the column ``info``.

    Raises
    ------
    ValueError
        Ids that are not non-negative integers, ``users`` and ``items`` of different
        lengths, an id at or above ``n_users`` / ``n_items``, ``k`` not a positive integer,
        an unknown ``weighting``, a negative ``power``, a bad ``exclude``.

    Examples
    --------
    >>> from bayesfm.data import sample_negatives
    >>> rows = sample_negatives([0, 0, 1], [0, 1, 2], n_items=5, k=1, random_state=0)
    >>> rows.y.tolist()
    [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    >>> rows.users.tolist()
    [0, 0, 1, 0, 0, 1]
    >>> bool(set(rows.items[3:5]) & {0, 1})   # never a positive of the user
    False
    >>> rows.X.shape, rows.info.group_names
    ((6, 7), ('user', 'item'))
    """
    u = _int_array(users, "users")
    i = _int_array(items, "items")
    if u.shape != i.shape:
        raise ValueError(f"users has {u.size} entries, items {i.size}: give one per positive")
    n_u = int(u.max()) + 1 if n_users is None else int(n_users)
    n_i = int(i.max()) + 1 if n_items is None else int(n_items)
    if u.max() >= n_u:
        raise ValueError(f"users holds id {u.max()}, but n_users={n_u}")
    if i.max() >= n_i:
        raise ValueError(f"items holds id {i.max()}, but n_items={n_i}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; valid: {', '.join(WEIGHTINGS)}")
    if not np.isfinite(power) or power < 0:
        raise ValueError(f"power must be a finite number >= 0, got {power!r}")
    shape = (n_u, n_i)
    forbidden = sp.csr_matrix((np.ones(u.size, bool), (u, i)), shape=shape)
    if exclude is not None:
        forbidden = forbidden + _pair_matrix(exclude, shape)
    forbidden = sp.csr_matrix(forbidden, dtype=bool)
    forbidden.sum_duplicates()
    forbidden.eliminate_zeros()

    log_w = np.zeros(n_i)
    if weighting == "popularity":
        log_w = power * np.log1p(np.bincount(i, minlength=n_i).astype(np.float64))
    wanted = np.bincount(u, minlength=n_u) * int(k)
    free = n_i - np.diff(forbidden.indptr)
    n_draw = np.minimum(wanted, free)
    rng = np.random.default_rng(random_state)
    neg_u, neg_i = [], []
    active = np.flatnonzero(n_draw > 0)
    step = max(1, _CHUNK // n_i)
    for start in range(0, active.size, step):
        block = active[start:start + step]
        keys = log_w + rng.gumbel(size=(block.size, n_i))
        keys[forbidden[block].toarray()] = -np.inf
        m = n_draw[block]
        top = np.argsort(-keys, axis=1, kind="stable")[:, :int(m.max())]
        take = np.arange(top.shape[1]) < m[:, None]
        neg_u.append(np.repeat(block, m))
        neg_i.append(top[take])
    nu = np.concatenate(neg_u) if neg_u else np.zeros(0, np.int64)
    ni = np.concatenate(neg_i) if neg_i else np.zeros(0, np.int64)

    all_u, all_i = np.concatenate([u, nu]), np.concatenate([i, ni]).astype(np.int64)
    y = np.concatenate([np.ones(u.size), np.zeros(nu.size)])
    n = all_u.size
    X = sp.csr_matrix((np.ones(2 * n), (np.repeat(np.arange(n), 2),
                                        np.stack([all_u, n_u + all_i], axis=1).ravel())),
                      shape=(n, n_u + n_i))
    names = tuple(f"user={j}" for j in range(n_u)) + tuple(f"item={j}" for j in range(n_i))
    info = DatasetInfo(f"implicit/k{k}-{weighting}", names,
                       np.repeat(np.array([0, 1], np.int32), [n_u, n_i]), ("user", "item"))
    return ImplicitRows(X, y, all_u, all_i, info)
