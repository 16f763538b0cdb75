"""Splits of interaction data that hold out part of every user's interactions.

Each returns ``(train, test)``: sorted index arrays into the interaction rows. A user with a
single interaction keeps it in ``train`` (there is nothing to learn the user from
otherwise), so every test user is also a train user.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["leave_one_out", "per_user_split", "per_user_time_split"]


def _check(users: Any, times: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    u = np.asarray(users)
    if u.ndim != 1 or u.size == 0:
        raise ValueError("users must be a non-empty 1-d array (one entry per interaction)")
    t = None
    if times is not None:
        t = np.asarray(times)
        if t.shape != u.shape:
            raise ValueError(f"times has shape {t.shape}; users has {u.shape}")
    return u, t


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")


def _split(u: np.ndarray, order_key: np.ndarray, n_test_of: Any) -> tuple[np.ndarray, ...]:
    """Sort by user then ``order_key``; the last ``n_test_of(n_u)`` of each user go to test."""
    order = np.lexsort((order_key, u))
    _, start, counts = np.unique(u[order], return_index=True, return_counts=True)
    n_test = np.where(counts > 1, np.minimum(n_test_of(counts), counts - 1), 0)
    pos = np.arange(u.size) - np.repeat(start, counts)  # position within the user
    is_test = pos >= np.repeat(counts - n_test, counts)
    return np.sort(order[~is_test]), np.sort(order[is_test])


def leave_one_out(users: Any, times: Any = None, *, random_state: Any = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Hold out one interaction per user: the latest, or a random one without ``times``.

    Ties in time are broken at random too.

    Examples
    --------
    >>> leave_one_out([0, 0, 0, 1, 2, 2], times=[3, 9, 1, 5, 2, 1])
    (array([0, 2, 3, 5]), array([1, 4]))
    """
    u, t = _check(users, times)
    rng = np.random.default_rng(random_state)
    key = rng.permutation(u.size)  # random tie-break
    key = key if t is None else np.lexsort((key, t)).argsort()
    return _split(u, key, lambda c: np.ones_like(c))


def per_user_time_split(users: Any, times: Any, *, test_fraction: float = 0.2
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Hold out each user's latest ``round(test_fraction * n_u)`` interactions.

    Equal times keep their row order (a stable sort).

    Examples
    --------
    >>> tr, te = per_user_time_split([0] * 5 + [1] * 2, times=[5, 4, 3, 2, 1, 1, 2],
    ...                              test_fraction=0.4)
    >>> te.tolist()   # user 0: its 2 latest (times 5, 4); user 1: round(0.8) = 1
    [0, 1, 6]
    """
    _check_fraction(test_fraction)
    u, t = _check(users, times)
    assert t is not None
    key = np.lexsort((np.arange(u.size), t)).argsort()
    return _split(u, key, lambda c: np.round(test_fraction * c).astype(np.int64))


def per_user_split(users: Any, *, test_fraction: float = 0.2, random_state: Any = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Hold out a random ``round(test_fraction * n_u)`` of each user's interactions (80/20).

    Examples
    --------
    >>> tr, te = per_user_split([0] * 10 + [1] * 5, random_state=0)
    >>> int((te < 10).sum()), int((te >= 10).sum())
    (2, 1)
    """
    _check_fraction(test_fraction)
    u, _ = _check(users)
    key = np.random.default_rng(random_state).permutation(u.size)
    return _split(u, key, lambda c: np.round(test_fraction * c).astype(np.int64))
