"""Property-based tests of the data layer (hypothesis, derandomized).

Any sparse matrix, DataFrame or libFM text gives the same design by every route (the FM
score's properties are in tests/model/test_properties.py).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bayesfm.data import Design, FMEncoder, from_sparse, read_libfm, write_libfm
from tests._model_helpers import HYPO, grouped_matrices

pytestmark = pytest.mark.battery

def same_design(a: Design, b: Design) -> None:
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.values.dtype == b.values.dtype
    np.testing.assert_array_equal(a.group_of_feature, b.group_of_feature)
    assert (a.feature_names, a.group_names) == (b.feature_names, b.group_names)


@HYPO
@given(grouped_matrices(), st.booleans(), st.sampled_from(["csr", "csc", "coo", "dense"]))
def test_sparse_and_libfm_text_give_the_same_design(Xg, zero_based, fmt):
    X, groups = Xg
    d = from_sparse(X, groups=groups)
    assert (d.to_csr() != X.astype(np.float32)).nnz == 0
    # Any input format of the same matrix: the same design.
    other = X.toarray() if fmt == "dense" else X.asformat(fmt)
    same_design(d, from_sparse(other, groups=groups))
    # Through libFM text and back.
    buf = io.StringIO()
    write_libfm(buf, X, np.arange(X.shape[0], dtype=float), zero_based=zero_based)
    buf.seek(0)
    X2, y2 = read_libfm(buf, n_features=X.shape[1], zero_based=zero_based)
    same_design(d, from_sparse(X2, groups=groups))
    np.testing.assert_array_equal(y2, np.arange(X.shape[0]))
    # And through the design's own CSR.
    same_design(d, from_sparse(d.to_csr(), groups=groups))


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(2, 12))
    lab = st.sampled_from(["a", "b", "c", "d"])
    return pd.DataFrame({
        "user": draw(st.lists(lab, min_size=n, max_size=n)),
        "age": draw(st.lists(st.floats(-1e3, 1e3, width=32), min_size=n, max_size=n)),
        "tags": draw(st.lists(st.lists(st.sampled_from("xyz"), min_size=1, max_size=3),
                              min_size=n, max_size=n)),
    })


def reference_encoding(df: pd.DataFrame) -> np.ndarray:
    """Dense encoding written out by hand: one-hot user, standardised age, normalised tags."""
    users = sorted(set(df["user"]))
    tags = sorted({t for ts in df["tags"] for t in ts})
    age = df["age"].to_numpy(np.float64)
    sd = age.std() if age.std() > 0 else 1.0
    out = np.zeros((len(df), len(users) + 1 + len(tags)))
    for n, row in enumerate(df.itertuples()):
        out[n, users.index(row.user)] = 1.0
        out[n, len(users)] = (row.age - age.mean()) / sd
        for t in row.tags:
            out[n, len(users) + 1 + tags.index(t)] += 1.0 / len(row.tags)
    return out


@HYPO
@given(frames())
def test_dataframe_gives_the_reference_design_by_every_route(df):
    enc = FMEncoder().fit(df)
    d = enc.transform(df)
    # float32 storage: relative error below 1e-6 of each value (plus float32 flush to 0).
    np.testing.assert_allclose(d.to_csr().toarray(), reference_encoding(df), rtol=1e-6,
                               atol=1e-6)
    assert d.group_names == ("user", "age", "tags")
    # The same frame through JSON records, the encoder through its JSON state: same design.
    df2 = pd.DataFrame(json.loads(json.dumps(df.to_dict("records"))))
    enc2 = FMEncoder.from_state(json.loads(json.dumps(enc.get_state())))
    same_design(d, enc2.transform(df2))
    # Rows shuffled: the same rows, shuffled.
    perm = np.random.default_rng(len(df)).permutation(len(df))
    same_design(d.take(perm), enc.transform(df.iloc[perm]))
    # The encoder's CSR and from_sparse agree.
    same_design(d, from_sparse(enc.transform_csr(df), groups=np.repeat(
        np.arange(3), enc.group_sizes), feature_names=enc.feature_names_out,
        group_names=enc.group_names))
