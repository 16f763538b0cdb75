"""Tests of the data layer: Design round trips, FMEncoder, libFM I/O and the data set loaders."""

from __future__ import annotations

import io
import json
import os
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import NotFittedError

from bayesfm.data import (
    Design,
    FMEncoder,
    from_sparse,
    load_frappe,
    load_movielens_1m_half,
    load_movielens_100k,
    read_libffm,
    read_libfm,
    write_libfm,
)
from bayesfm.data import _fetch as fetch
from bayesfm.data import datasets as ds

# Derandomized: the same examples every run, so CI is reproducible (seeds fixed, as elsewhere).
HYPO = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
REAL_DATA = os.environ.get("BAYESFM_DATA")
needs_real_data = pytest.mark.skipif(not REAL_DATA, reason="set BAYESFM_DATA to the data folder")


def fm_predict(d: Design, w0: float, w: np.ndarray, V: np.ndarray) -> np.ndarray:
    """Plain numpy FM score from the padded design (padding has value 0)."""
    val = d.values.astype(np.float64)
    lin = (w[d.indices] * val).sum(1)
    xv = V[d.indices] * val[..., None]
    return w0 + lin + 0.5 * (xv.sum(1) ** 2 - (xv**2).sum(1)).sum(1)


# --- Design -----------------------------------------------------------------------------------


@st.composite
def sparse_matrices(draw: st.DrawFn) -> sp.csr_matrix:
    n = draw(st.integers(1, 12))
    p = draw(st.integers(1, 10))
    dense = draw(hnp.arrays(np.float64, (n, p), elements=st.sampled_from([0.0, 0.0, 1.0, -2.5])))
    mask = draw(hnp.arrays(np.bool_, (n, p)))
    return sp.csr_matrix(np.where(mask, dense, 0.0))


@HYPO
@given(sparse_matrices())
def test_design_round_trip(X: sp.csr_matrix) -> None:
    d = from_sparse(X)
    assert (d.n_rows, d.n_features) == X.shape
    assert d.nnz == X.nnz
    assert (d.to_csr() != X).nnz == 0
    assert d.max_nnz == max(int(np.diff(X.indptr).max()), 1)
    # with_rows keeps the layout; take selects rows.
    assert (d.with_rows(X[::-1]).to_csr() != X[::-1]).nnz == 0
    assert (d.take(np.arange(X.shape[0])[::2]).to_csr() != X[::2]).nnz == 0


# --- FMEncoder --------------------------------------------------------------------------------


def small_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "user": [1, 2, 1, 3],
        "age": [20.0, 30.0, 40.0, 50.0],
        "genres": [["a"], ["a", "b"], [], None],
        "city": ["x", None, "y", "x"],
        "flag": [True, False, True, True],
    })


def test_one_hot_numeric_and_multi_hot_values() -> None:
    df = small_frame()
    enc = FMEncoder(categorical=["user"])
    d = enc.fit_transform(df)
    assert enc.feature_names_out == (
        "user=1", "user=2", "user=3", "age", "genres=a", "genres=b",
        "city=x", "city=y", "flag=False", "flag=True",
    )
    assert enc.group_names == ("user", "age", "genres", "city", "flag")
    assert enc.n_features == d.n_features == 10
    assert d.group_of_feature.tolist() == [0, 0, 0, 1, 2, 2, 3, 3, 4, 4]
    X = d.to_csr().toarray()
    np.testing.assert_array_equal(X[:, :3], [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    age = (df["age"] - df["age"].mean()) / df["age"].std(ddof=0)
    np.testing.assert_allclose(X[:, 3], age, rtol=1e-6)
    np.testing.assert_allclose(X[:, 4:6], [[1, 0], [0.5, 0.5], [0, 0], [0, 0]])
    np.testing.assert_array_equal(X[:, 6:8], [[1, 0], [0, 0], [0, 1], [1, 0]])  # None: none


def test_multi_hot_repeats_and_unseen_labels_normalise_over_known() -> None:
    enc = FMEncoder().fit(pd.DataFrame({"tags": [("a", "b"), {"c"}, ["a"]]}))
    X = enc.transform_csr(pd.DataFrame({"tags": [["a", "a", "b"], ["a", "zzz"], ["zzz"]]}))
    np.testing.assert_allclose(X.toarray(), [[2 / 3, 1 / 3, 0], [1, 0, 0], [0, 0, 0]])


def test_constant_numeric_column_has_unit_scale() -> None:
    enc = FMEncoder().fit(pd.DataFrame({"z": [5.0, 5.0]}))
    assert enc.columns_[0]["sd"] == 1.0
    assert enc.transform_csr(pd.DataFrame({"z": [7.0]})).toarray().tolist() == [[2.0]]


def test_categorical_dtype_keeps_its_order_and_drops_unobserved() -> None:
    col = pd.Categorical(["lo", "hi", "hi"], categories=["lo", "mid", "hi"])
    enc = FMEncoder().fit(pd.DataFrame({"level": col}))
    assert enc.feature_names_out == ("level=lo", "level=hi")


def test_unseen_category_gives_no_feature_and_leaves_the_prediction_path_intact() -> None:
    rng = np.random.default_rng(0)
    enc = FMEncoder(categorical=["user"]).fit(small_frame())
    new = small_frame().iloc[:2].assign(user=[99, 2])
    d = enc.transform(new)
    assert d.n_features == enc.n_features
    row = d.to_csr().toarray()[0]
    assert row[:3].tolist() == [0, 0, 0]  # the unseen user maps to no column ...
    assert row[3:].tolist() == enc.transform(new.iloc[:1]).to_csr().toarray()[0, 3:].tolist()
    # ... and the score is that of the same row with the user missing altogether.
    w, V = rng.normal(size=enc.n_features), rng.normal(size=(enc.n_features, 3))
    missing = enc.transform(new.assign(user=[None, 2]).astype({"user": object}))
    np.testing.assert_allclose(fm_predict(d, 0.3, w, V), fm_predict(missing, 0.3, w, V))
    assert np.all(np.isfinite(fm_predict(d, 0.3, w, V)))


def test_min_frequency_and_max_categories() -> None:
    df = pd.DataFrame({"x": list("aabbbcd")})
    assert FMEncoder(min_frequency=2).fit(df).feature_names_out == ("x=a", "x=b")
    assert FMEncoder(max_categories=2).fit(df).feature_names_out == ("x=a", "x=b")
    assert FMEncoder(max_categories=1).fit(df).feature_names_out == ("x=b",)
    with pytest.raises(ValueError, match="min_frequency"):
        FMEncoder(min_frequency=0).fit(df)
    with pytest.raises(ValueError, match="no category left"):
        FMEncoder(min_frequency=9).fit(df)


def test_state_json_round_trip_gives_identical_transform() -> None:
    df = small_frame().assign(
        when=pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-01", None]).astype(object),
        level=pd.Categorical(["lo", "hi", "hi", "lo"], categories=["lo", "hi"]),
    )
    enc = FMEncoder(categorical=["user", "when"], min_frequency=1).fit(df)
    state = json.loads(json.dumps(enc.get_state(), allow_nan=False))
    back = FMEncoder.from_state(state)
    assert back.get_params() == {**enc.get_params(), "categorical": ["user", "when"]}
    assert back.feature_names_out == enc.feature_names_out
    a, b = enc.transform(df), back.transform(df)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.values, b.values)
    assert a.group_names == b.group_names


def test_encoder_errors() -> None:
    df = small_frame()
    with pytest.raises(NotFittedError):
        FMEncoder().transform(df)
    with pytest.raises(NotFittedError):
        _ = FMEncoder().feature_names_out
    enc = FMEncoder(categorical=["user"]).fit(df)
    with pytest.raises(ValueError, match=r"missing.*\['age', 'city'\]"):
        enc.transform(df.drop(columns=["age", "city"]))
    bad = df.assign(age=[1.0, 2.0, np.nan, 3.0])
    with pytest.raises(ValueError, match=r"'age' has NaN.*row 2"):
        enc.transform(bad)
    with pytest.raises(ValueError, match=r"'age' has infinity.*row 0"):
        enc.transform(df.assign(age=[np.inf, 2.0, 1.0, 3.0]))
    with pytest.raises(ValueError, match="'age' has NaN"):
        FMEncoder().fit(bad)
    with pytest.raises(ValueError, match="not in the DataFrame"):
        FMEncoder(numeric=["nope"]).fit(df)
    with pytest.raises(TypeError, match="mixes lists"):
        FMEncoder().fit(pd.DataFrame({"t": [["a"], "b"]}))
    with pytest.raises(TypeError, match="multi_hot"):
        FMEncoder(categorical=["t"]).fit(pd.DataFrame({"t": [["a"], ["b"]]}))
    with pytest.raises(TypeError, match="list of column names"):
        FMEncoder(categorical="user").fit(df)
    with pytest.raises(TypeError, match="DataFrame"):
        FMEncoder().fit(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="not an FMEncoder state"):
        FMEncoder.from_state({"format": "pickle"})


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 15))
    labels = st.sampled_from(["a", "b", "c", None])
    return pd.DataFrame({
        "cat": draw(st.lists(labels, min_size=n, max_size=n)),
        "id": draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)),
        "num": draw(st.lists(st.floats(-1e3, 1e3), min_size=n, max_size=n)),
        "tags": draw(st.lists(st.lists(st.sampled_from("xyz"), max_size=3), min_size=n,
                              max_size=n)),
    }).assign(cat=lambda f: f["cat"].astype(object))


@HYPO
@given(frames(), frames())
def test_encoder_properties_on_random_frames(train: pd.DataFrame, test: pd.DataFrame) -> None:
    if train["cat"].isna().all() or train["tags"].map(len).sum() == 0:
        return  # nothing to learn in a column: fit rightly refuses (tested above)
    enc = FMEncoder(categorical=["id"]).fit(train)
    sizes = dict(zip(enc.group_names, enc.group_sizes, strict=True))
    assert sizes["cat"] == train["cat"].dropna().nunique()
    assert sizes["id"] == train["id"].nunique() and sizes["num"] == 1
    d = enc.transform(test)
    X = d.to_csr()
    assert X.shape == (len(test), enc.n_features)
    # The design stores float32: values below its range (|x| < 1e-38) become 0.
    np.testing.assert_allclose(X.toarray(), enc.transform_csr(test).toarray(), rtol=1e-6,
                               atol=1e-30)
    g = d.group_of_feature
    per_group = np.stack([np.asarray(X[:, g == k].sum(1)).ravel() for k in range(d.n_groups)], 1)
    one_hot = [enc.group_names.index(c) for c in ("cat", "id", "tags")]
    assert np.all(np.isclose(per_group[:, one_hot], 0) | np.isclose(per_group[:, one_hot], 1))
    back = FMEncoder.from_state(json.loads(json.dumps(enc.get_state())))
    assert (back.transform_csr(test) != enc.transform_csr(test)).nnz == 0


# --- libFM ------------------------------------------------------------------------------------


@HYPO
@given(sparse_matrices(), st.booleans())
def test_libfm_write_read_round_trip(X: sp.csr_matrix, zero_based: bool) -> None:
    X = X.multiply(1.0 / 3.0).tocsr()  # values that need full precision in text
    y = np.arange(X.shape[0]) * 0.7 - 1
    buf = io.StringIO()
    write_libfm(buf, X, y, zero_based=zero_based)
    buf.seek(0)
    X2, y2 = read_libfm(buf, n_features=X.shape[1], zero_based=zero_based)
    assert (X2 != X).nnz == 0 and X2.shape == X.shape
    np.testing.assert_array_equal(y2, y)


def test_libfm_file_round_trip_comments_and_blank_lines(tmp_path: Path) -> None:
    f = tmp_path / "a.libfm"
    write_libfm(f, sp.csr_matrix(np.array([[0, 1.5, 0], [2, 0, 1]])), [1, -1])
    assert f.read_text() == "1 1:1.5\n-1 0:2 2:1\n"
    f.write_text("# header\n1 1:1.5\n\n-1 2:1 0:2  # unsorted indices\n")
    X, y = read_libfm(f)
    assert X.toarray().tolist() == [[0, 1.5, 0], [2, 0, 1]] and y.tolist() == [1, -1]
    X, _ = read_libfm(io.BytesIO(b"3 1:1\n"), n_features=5)
    assert X.shape == (1, 5)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 3", "malformed token '3'"),
        ("1 3:1:2", "malformed token '3:1:2'"),
        ("1 a:1", "token 'a:1' is not an integer"),
        ("1 2.5:1", "token '2.5:1' is not an integer"),
        ("1 3:x", "value in token '3:x' is not a number"),
        ("1 3:nan", "token '3:nan' is not finite"),
        ("x 3:1", "label 'x' is not a number"),
        ("1 -1:1", "index -1 in token '-1:1' is below 0"),
        ("1 3:1 4:1 3:2", "duplicate feature index in token '3:2'"),
        ("1 9:1", "out of range for n_features=5"),
    ],
)
def test_libfm_errors_name_file_line_and_token(tmp_path: Path, line: str, message: str) -> None:
    f = tmp_path / "bad.libfm"
    f.write_text(f"1 0:1\n\n-1 1:1 2:0.5\n{line}\n1 0:1\n")
    with pytest.raises(ValueError, match="line 4") as err:
        read_libfm(f, n_features=5)
    assert message in str(err.value) and str(f) in str(err.value)


def test_libfm_one_based_and_missing_file(tmp_path: Path) -> None:
    f = tmp_path / "one.svm"
    f.write_text("1 1:1 3:2\n")
    assert read_libfm(f, zero_based=False)[0].toarray().tolist() == [[1, 0, 2]]
    f.write_text("1 0:1\n")
    with pytest.raises(ValueError, match="below 1"):
        read_libfm(f, zero_based=False)
    with pytest.raises(FileNotFoundError, match="nope.libfm"):
        read_libfm(tmp_path / "nope.libfm")


def test_libffm_fields_and_conflicts() -> None:
    X, y, field = read_libffm(io.StringIO("1 0:0:1 1:3:0.5\n0 0:1:1 2:4:1\n"), n_features=6)
    assert X.toarray().tolist() == [[1, 0, 0, 0.5, 0, 0], [0, 1, 0, 0, 1, 0]]
    assert field.tolist() == [0, 0, -1, 1, 2, -1] and y.tolist() == [1, 0]
    clash = "1 0:0:1 1:3:1\n0 2:0:1\n"
    with pytest.raises(ValueError, match=r"line 2: feature 0 occurs under field 2"):
        read_libffm(io.StringIO(clash))
    X, _, field = read_libffm(io.StringIO(clash + "1 0:5:1 1:5:2\n"), on_conflict="first")
    assert field.tolist() == [0, -1, -1, 1, -1, 0] and X.toarray()[2].tolist() == [0, 0, 0, 0, 0, 3]
    with pytest.raises(ValueError, match="line 1: duplicate"):
        read_libffm(io.StringIO("1 0:5:1 0:5:2\n"))


# --- Loaders on tiny fake files with the real layout ------------------------------------------


def write_fake_data(root: Path) -> None:
    ml = root / "ml-100k"
    ml.mkdir(parents=True)
    (ml / "u.info").write_text("4 users\n5 items\n6 ratings\n")
    (ml / "u1.base").write_text("1\t1\t5\t100\n2\t3\t3\t101\n4\t5\t1\t102\n")
    (ml / "u1.test").write_text("3\t2\t4\t103\n1\t5\t2\t104\n")
    half = root / "ml-1m-half"
    half.mkdir()
    lines = [f"{u}::{m}::{(u * m) % 5 + 1}::97830{u}" for u, m in
             [(1, 1193), (1, 661), (2, 1193), (5, 3), (5, 661), (7, 10), (7, 3), (2, 10),
              (9, 1193), (9, 3), (1, 10)]]
    (half / "ratings.dat").write_text("\n".join(lines) + "\n")
    frappe = root / "frappe"
    (frappe / "full").mkdir(parents=True)
    row = "{} 3:1 1000:1 5040:1 5047:1 5053:1 5056:1 5059:1 5061:1 5100:1 5381:1\n"
    (frappe / "frappe.validation.libfm").write_text(row.format(1) + row.format(-1))
    (frappe / "frappe.test.libfm").write_text(row.format(-1))
    (frappe / "full" / "frappe.train.libfm").write_text(row.format(1) * 3)
    (frappe / "full" / "frappe.test.libfm").write_text(row.format(-1) * 2)


def test_loaders_on_fake_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fake_data(tmp_path)
    Xtr, ytr, Xte, yte, info = load_movielens_100k("u1", path=tmp_path)
    assert Xtr.shape == (3, 9) and Xte.shape == (2, 9)
    assert info.feature_names[:2] == ("user=1", "user=2") and info.feature_names[4] == "item=1"
    assert info.group_sizes == (4, 5) and info.group_names == ("user", "item")
    assert Xte.toarray()[0].nonzero()[0].tolist() == [2, 5] and yte.tolist() == [4, 2]
    assert info.design(Xtr).group_names == ("user", "item")
    ftr, _, fte, _, _ = load_movielens_100k("u1", path=tmp_path / "ml-100k", as_frame=True)
    assert fte["item"].tolist() == [2, 5] and len(ftr["user"].cat.categories) == 4

    monkeypatch.setenv("BAYESFM_DATA", str(tmp_path))
    Xtr, ytr, Xte, yte, info = load_movielens_1m_half(seed=3)
    raw = np.array([line.split("::")[:3] for line in
                    (tmp_path / "ml-1m-half" / "ratings.dat").read_text().splitlines()], dtype=int)
    perm = np.random.default_rng(3).permutation(len(raw))
    tr = perm[: int(0.9 * len(raw))]
    assert Xtr.shape == (9, 5 + 4) and Xte.shape[0] == 2
    np.testing.assert_array_equal(ytr, raw[tr, 2])
    users = np.unique(raw[:, 0])
    assert info.feature_names[:5] == tuple(f"user={u}" for u in users)
    np.testing.assert_array_equal(Xtr.indices[::2], np.searchsorted(users, raw[tr, 0]))

    for kind, n_train in (("published", 2), ("full", 3)):
        Xtr, ytr, Xte, yte, info = load_frappe(kind)
        assert Xtr.shape == (n_train, 5382) and Xte.shape[1] == 5382
        assert set(ytr.tolist()) <= {0, 1} and yte.tolist() == [0] * Xte.shape[0]
        fields = info.group_of_feature[Xtr.indices].reshape(-1, 10)
        assert (fields == np.arange(10)).all() and info.group_names[1] == "item"


def test_loader_errors_and_offline_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAYESFM_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with pytest.raises(ValueError, match="fold must be one of"):
        load_movielens_100k("u9", path=tmp_path)
    with pytest.raises(ValueError, match="kind must be"):
        load_frappe("half")  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="BAYESFM_DATA"):
        load_movielens_100k(path=tmp_path)

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", offline)
    with pytest.raises(FileNotFoundError, match=r"download failed.*ml-100k\.zip.*BAYESFM_DATA"):
        load_movielens_100k()
    with pytest.raises(FileNotFoundError, match="BAYESFM_DATA"):
        load_frappe("full")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_movielens_1m_half(download=False)
    bad = tmp_path / "ml-1m-half"
    bad.mkdir()
    (bad / "ratings.dat").write_text("1::2::3::4\n1::x::3::4\n")
    with pytest.raises(ValueError, match="line 2"):
        load_movielens_1m_half(path=tmp_path)


def test_download_path_with_a_fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAYESFM_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-100k/u.info", "2 users\n2 items\n")
        zf.writestr("ml-100k/u1.base", "1\t1\t5\t0\n2\t2\t4\t0\n")
        zf.writestr("ml-100k/u1.test", "2\t1\t3\t0\n")
    urls = []

    def serve(url: str, timeout: float) -> io.BytesIO:
        urls.append(url)
        return io.BytesIO(archive.getvalue())

    monkeypatch.setattr(fetch.urllib.request, "urlopen", serve)
    Xtr, ytr, Xte, yte, info = load_movielens_100k()
    assert urls == [ds.GROUPLENS + "ml-100k.zip"] and Xtr.shape == (2, 4) and yte.tolist() == [3]
    assert (tmp_path / ".cache" / "bayesfm" / "ml-100k" / "u1.base").is_file()
    load_movielens_100k()  # now served from the cache
    assert len(urls) == 1


# --- Loaders on the real data (only with BAYESFM_DATA) ----------------------------------------


@needs_real_data
def test_real_movielens_100k() -> None:
    Xtr, ytr, Xte, yte, info = load_movielens_100k("u1")
    assert Xtr.shape == (80_000, 2625) and Xte.shape == (20_000, 2625)
    assert info.group_sizes == (943, 1682) and set(np.unique(ytr)) == {1, 2, 3, 4, 5}
    assert np.all(np.diff(Xtr.indptr) == 2)


@needs_real_data
def test_real_movielens_1m_half() -> None:
    Xtr, ytr, Xte, yte, info = load_movielens_1m_half()
    assert Xtr.shape[0] + Xte.shape[0] == 487_515 and Xte.shape[0] == 48_752
    assert info.group_sizes == (2998, 3615)


@needs_real_data
def test_real_frappe() -> None:
    Xtr, ytr, Xte, yte, info = load_frappe("published")
    assert Xtr.shape == (57_722, 5382) and Xte.shape == (28_860, 5382)
    assert (info.group_of_feature[Xtr.indices].reshape(-1, 10) == np.arange(10)).all()
    assert 0.3 < ytr.mean() < 0.36
