"""Relation blocks in the data layer: constructors, implicit sets, materialisation, errors."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from bayesfm.data.relations import (
    combined_names,
    implicit_item_users,
    implicit_user_items,
    materialize,
    relation_from_frame,
    relation_from_sparse,
)


def _pairs():
    users = np.array([0, 0, 1, 2, 2, 2, 0])
    items = np.array([0, 1, 1, 0, 2, 3, 1])  # (0, 1) twice: a set counts it once
    return users, items


def test_implicit_user_items_sqrt_normalisation():
    users, items = _pairs()
    rel = implicit_user_items(users, items, n_users=4, n_items=4)
    dense = rel.data.toarray()
    expected = np.zeros((4, 4))
    expected[0, [0, 1]] = 1 / np.sqrt(2)
    expected[1, 1] = 1.0
    expected[2, [0, 2, 3]] = 1 / np.sqrt(3)  # user 3 has no rows: an empty sub-row
    np.testing.assert_allclose(dense, expected)
    assert rel.index.tolist() == [0, 1, 2, 3]
    assert rel.feature_names[1] == "implicit_items:item=1"
    assert rel.group_names == ("implicit_items",)


@pytest.mark.parametrize(("norm", "value"), [("count", 1 / 3), ("none", 1.0)])
def test_implicit_norms(norm, value):
    users, items = _pairs()
    rel = implicit_user_items(users, items, 3, 4, norm=norm)
    np.testing.assert_allclose(rel.data.toarray()[2, [0, 2, 3]], value)


def test_implicit_item_users_is_the_transpose_pattern():
    users, items = _pairs()
    by_user = implicit_user_items(users, items, 3, 4, norm="none")
    by_item = implicit_item_users(items, users, 4, 3)
    np.testing.assert_array_equal(by_item.data.toarray() > 0, by_user.data.toarray().T > 0)
    # item 1 was rated by users 0 and 1: 1/sqrt(2) each
    np.testing.assert_allclose(by_item.data.toarray()[1], [2**-0.5, 2**-0.5, 0])


def test_materialize_equals_hand_built_rows():
    users, items = _pairs()
    X = sp.hstack([sp.eye(3, format="csr")[users], sp.eye(4, format="csr")[items]])
    imp = implicit_user_items(users, items, 3, 4).with_index(users)
    side = relation_from_sparse(users, np.array([[1.0, 0.5], [0.0, 2.0], [3.0, 0.0]]),
                                feature_names=["a", "b"], name="side")
    d = materialize(X, [imp, side], group_sizes=[3, 4], group_names=["user", "item"])
    got = d.to_csr().toarray()
    hand = np.zeros((7, 3 + 4 + 4 + 2))
    for n, (u, i) in enumerate(zip(users, items, strict=True)):
        hand[n, u] = 1.0
        hand[n, 3 + i] = 1.0
        rated = np.unique(items[users == u])
        hand[n, 7 + rated] = 1 / np.sqrt(rated.size)
        hand[n, 11:] = [[1.0, 0.5], [0.0, 2.0], [3.0, 0.0]][u]
    np.testing.assert_allclose(got, hand, rtol=1e-6)
    assert d.group_names == ("user", "item", "implicit_items", "side")
    assert d.group_of_feature.tolist() == [0] * 3 + [1] * 4 + [2] * 4 + [3] * 2
    assert d.feature_names[-2:] == ("a", "b")


def test_relation_from_frame_joins_on_key():
    users = pd.DataFrame({"uid": [7, 3, 5], "gender": ["F", "M", "F"],
                          "age": [20.0, 30.0, 40.0]})
    rel = relation_from_frame([3, 3, 5, 7], users, on="uid", name="user_side")
    assert rel.index.tolist() == [1, 1, 2, 0]
    assert rel.feature_names == ("gender=F", "gender=M", "age")
    assert rel.group_names == ("gender", "age")
    assert rel.groups.tolist() == [0, 0, 1]
    rows = rel.rows().toarray()
    np.testing.assert_array_equal(rows[:, :2], [[0, 1], [0, 1], [1, 0], [1, 0]])
    np.testing.assert_allclose(rows[:, 2], (np.array([30.0, 30, 40, 20]) - 30) / np.std(
        [20.0, 30, 40], ddof=0), rtol=1e-6, atol=1e-12)


def test_errors():
    table = sp.eye(3, format="csr")
    with pytest.raises(ValueError, match="out of range"):
        relation_from_sparse([0, 3], table)
    with pytest.raises(ValueError, match="out of range"):
        relation_from_sparse([-1, 0], table)
    with pytest.raises(ValueError, match="integer"):
        relation_from_sparse([0.5, 1], table)
    with pytest.raises(ValueError, match="NaN"):
        relation_from_sparse([0], np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="infinity"):
        relation_from_sparse([0], np.array([[np.inf, 1.0]]))
    with pytest.raises(ValueError, match="unknown norm"):
        implicit_user_items([0], [0], 1, 1, norm="l2")
    with pytest.raises(ValueError, match="one length"):
        implicit_user_items([0, 1], [0], 2, 1)
    with pytest.raises(ValueError, match="out of range"):
        implicit_user_items([0, 2], [0, 0], 2, 1)
    rel = relation_from_sparse([0, 1], table)
    with pytest.raises(ValueError, match="indexes 2 rows, but X has 3 rows"):
        materialize(np.eye(3), [rel])
    with pytest.raises(ValueError, match="feature_names has 1 names"):
        relation_from_sparse([0], table, feature_names=["a"])
    with pytest.raises(ValueError, match="not in column"):
        relation_from_frame([1, 9], pd.DataFrame({"k": [1, 2], "c": ["a", "b"]}), on="k")
    with pytest.raises(ValueError, match="unique"):
        relation_from_frame([1], pd.DataFrame({"k": [1, 1], "c": ["a", "b"]}), on="k")


def test_name_clashes_are_reported():
    users, items = _pairs()
    a = implicit_user_items(users, items, 3, 4).with_index(users)
    d = materialize(np.eye(7), [])
    with pytest.raises(ValueError, match="repeats the feature name"):
        combined_names(d, [a, a])
