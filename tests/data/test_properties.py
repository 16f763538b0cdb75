"""Property-based tests of the data layer and the FM score (hypothesis, derandomized).

Any sparse matrix, DataFrame or libFM text gives the same design by every route, and the FM
score of a padded design equals the O(p^2) double sum of DESIGN section 1 on the dense matrix.
"""

from __future__ import annotations

import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bayesfm.data import Design, FMEncoder, from_sparse, read_libfm, write_libfm
from bayesfm.engines.gibbs import predict_cache, prepare_data
from bayesfm.model import fm_predict
from bayesfm.predict import FMDraws, eta_chunks

pytestmark = pytest.mark.battery

# Derandomized: the same examples every run, so CI is reproducible.
HYPO = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32).filter(
    lambda x: x == 0 or abs(x) > 1e-30)  # float32 would flush smaller values to 0


@st.composite
def grouped_matrices(draw: st.DrawFn, shape: tuple[int, int] | None = None,
                     ) -> tuple[sp.csr_matrix, np.ndarray]:
    """A sparse matrix of any shape and density (empty rows included) and a group vector."""
    n, p = shape or (draw(st.integers(1, 15)), draw(st.integers(1, 12)))
    dense = draw(hnp.arrays(np.float64, (n, p), elements=finite))
    mask = draw(hnp.arrays(np.bool_, (n, p)))
    groups = draw(hnp.arrays(np.int64, p, elements=st.integers(0, 3)))
    return sp.csr_matrix(np.where(mask, dense, 0.0)), groups


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


def dense_fm(X: np.ndarray, w0: float, w: np.ndarray, V: np.ndarray) -> np.ndarray:
    """DESIGN section 1 read literally: w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j."""
    n, p = X.shape
    out = np.full(n, w0) + X @ w
    for i in range(p):
        for j in range(i + 1, p):
            out += (V[i] @ V[j]) * X[:, i] * X[:, j]
    return out


# A fixed shape (only the padded width varies), so the jitted paths compile a few times only.
@settings(HYPO, max_examples=30)
@given(grouped_matrices(shape=(9, 7)), st.integers(0, 2**31 - 1))
def test_fm_score_equals_the_dense_double_sum(Xg, seed):
    rank = 3
    X, groups = Xg
    X = X.multiply(1e-3).tocsr()  # values within +-1, so float32 scores stay well scaled
    d = from_sparse(X, groups=groups)
    rng = np.random.default_rng(seed)
    w0, w, V = rng.normal(), rng.normal(size=X.shape[1]), rng.normal(size=(X.shape[1], rank))
    Xd = d.to_csr().toarray().astype(np.float64)  # the float32-rounded values, exactly
    want = dense_fm(Xd, w0, w, V)
    # float32 arithmetic: error about 1e-6 times the sum of the terms' magnitudes.
    scale = 1.0 + np.abs(Xd) @ np.abs(w) + 0.5 * (np.abs(Xd) @ np.abs(V)).__pow__(2).sum(1)
    tol = 1e-5 * scale
    f32 = [np.float32(w0), w.astype(np.float32), V.astype(np.float32)]
    got = np.asarray(fm_predict(*f32, jnp.asarray(d.indices), jnp.asarray(d.values)))
    assert np.all(np.abs(got - want) <= tol)
    # The prediction path (chunked, batched over draws) and the Gibbs caches agree too.
    draws = FMDraws(jnp.asarray(f32[0])[None], jnp.asarray(f32[1])[None],
                    jnp.asarray(f32[2])[None], None)
    chunks = list(eta_chunks(draws, d.indices, d.values, rows_per_chunk=4))
    assert np.all(np.abs(np.concatenate([np.asarray(e)[0] for _, e in chunks]) - want) <= tol)
    gd = prepare_data(d.indices, d.values, d.group_of_feature, np.zeros(d.n_rows),
                      n_groups=d.n_groups, dtype=np.float32)
    yhat, q = predict_cache(*(jnp.asarray(a) for a in f32), gd)
    assert np.all(np.abs(np.asarray(yhat) - want) <= tol)
    assert np.all(np.abs(np.asarray(q).T - Xd @ V) <= tol[:, None])


def test_fm_score_is_jit_and_vmap_invariant():
    """The score of one row does not depend on batching (jit, vmap, chunking)."""
    rng = np.random.default_rng(0)
    X = sp.random(50, 20, density=0.2, random_state=1, format="csr")
    d = from_sparse(X)
    w, V = rng.normal(size=20).astype(np.float32), rng.normal(size=(20, 3)).astype(np.float32)
    full = np.asarray(jax.jit(fm_predict)(0.5, w, V, d.indices, d.values))
    rows = np.stack([np.asarray(fm_predict(0.5, w, V, d.indices[i:i + 1], d.values[i:i + 1]))[0]
                     for i in range(50)])
    np.testing.assert_allclose(full, rows, rtol=1e-6, atol=1e-6)
