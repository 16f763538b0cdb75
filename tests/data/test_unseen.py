"""Unseen levels found and mapped to their field; integer ID columns flagged."""

import warnings

import numpy as np
import pandas as pd
import pytest

from bayesfm.data import FMEncoder, IntegerColumnWarning, unseen_levels


def test_unseen_levels_map_cells_to_their_field_and_count_rows():
    enc = FMEncoder(numeric=["age"]).fit(pd.DataFrame(
        {"sex": ["M", "F", "M"], "job": ["a", "b", "a"], "age": [20, 30, 40]}))
    df = pd.DataFrame({"sex": ["X", "M", "X", None], "job": ["a", "c", "c", "a"],
                       "age": [1, 2, 3, 4]})
    u = unseen_levels(enc.columns_, df)
    assert u.level_names == ("sex=X", "job=c")
    assert u.level_group.tolist() == [0, 1]           # groups are the encoder's columns
    assert sorted(zip(u.rows.tolist(), u.level.tolist(), strict=True)) == [
        (0, 0), (1, 1), (2, 0), (2, 1)]
    assert u.rows_per_field == {"sex": 2, "job": 2}   # a missing cell is not unseen
    assert unseen_levels(enc.columns_, df.iloc[[3]]).n_new == 0


def test_integer_id_columns_warn_naming_them_and_declarations_silence():
    df = pd.DataFrame({"user": np.arange(50) % 25, "item": np.arange(50), "n": [1, 2] * 25})
    with pytest.warns(IntegerColumnWarning, match=r"'user', 'item'") as rec:
        FMEncoder().fit(df)
    assert "'n'" not in str(rec[0].message)         # few distinct values: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegerColumnWarning)
        enc = FMEncoder(categorical=["user"], numeric=["item"]).fit(df)
    assert enc.group_sizes == (25, 1, 1)
