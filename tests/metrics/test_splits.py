"""The splits hold out what they say, per user, on hand-made interactions."""

from __future__ import annotations

import numpy as np
import pytest

from bayesfm.metrics import leave_one_out, per_user_split, per_user_time_split

USERS = np.array([2, 0, 0, 1, 0, 2, 2, 2, 0, 3])
TIMES = np.array([5, 1, 7, 3, 2, 9, 1, 6, 4, 8])


def _is_partition(tr, te, n):
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(n))


def test_leave_one_out_holds_out_each_users_latest():
    tr, te = leave_one_out(USERS, TIMES)
    _is_partition(tr, te, USERS.size)
    # user 0: rows 1, 2, 4, 8 at times 1, 7, 2, 4 -> row 2; user 1 and 3: one row, kept;
    # user 2: rows 0, 5, 6, 7 at times 5, 9, 1, 6 -> row 5.
    assert te.tolist() == [2, 5]


def test_leave_one_out_without_times_is_random_and_seeded():
    tr, te = leave_one_out(USERS, random_state=0)
    _is_partition(tr, te, USERS.size)
    assert sorted(USERS[te].tolist()) == [0, 2]
    assert np.array_equal(te, leave_one_out(USERS, random_state=0)[1])
    picks = {tuple(leave_one_out(USERS, random_state=s)[1]) for s in range(20)}
    assert len(picks) > 1


def test_time_split_holds_out_the_latest_fifth_rounded():
    users = np.repeat([0, 1], [10, 3])
    times = np.r_[np.arange(10)[::-1], [3, 1, 2]]
    tr, te = per_user_time_split(users, times, test_fraction=0.2)
    _is_partition(tr, te, users.size)
    # user 0: times 9..0 at rows 0..9, the 2 latest are rows 0, 1; user 1: round(0.6) = 1,
    # the latest (time 3) is row 10.
    assert te.tolist() == [0, 1, 10]


def test_random_split_takes_a_fifth_of_every_user():
    users = np.repeat([0, 1, 2], [10, 5, 1])
    tr, te = per_user_split(users, test_fraction=0.2, random_state=1)
    _is_partition(tr, te, users.size)
    assert np.bincount(users[te], minlength=3).tolist() == [2, 1, 0]
    with pytest.raises(ValueError, match="test_fraction must be in"):
        per_user_split(users, test_fraction=1.0)
