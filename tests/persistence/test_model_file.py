"""Saved models are data (JSON plus netCDF), never pickle: round trips, corruption, atomicity."""

from __future__ import annotations

import copy
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.exceptions import NotFittedError

import bayesfm
from bayesfm import BayesianFMClassifier, BayesianFMRegressor
from bayesfm import persistence as P
from bayesfm.data import simulate_fm
from bayesfm.persistence import MAGIC, ModelFileError, container, model_file, save_model
from tests._helpers import assert_same_tree, join_model_file, split_model_file

FAST = dict(method="svi", rank=2, svi_steps=200, num_samples=20, random_state=0,
            progress_bar=False)


@pytest.fixture(scope="module")
def sim():
    return simulate_fm(n_rows=120, group_sizes=(6, 5), rank=2, seed=0)


@pytest.fixture(scope="module")
def regressor(sim):
    return BayesianFMRegressor(**FAST).fit(sim.X, sim.y, groups=sim.groups)


@pytest.fixture(scope="module")
def classifier():
    sim = simulate_fm(n_rows=120, group_sizes=(6, 5), rank=2, task="binary", seed=1)
    clf = BayesianFMClassifier(link="logit", **FAST).fit(sim.X, sim.y, groups=sim.groups)
    return clf, sim.X


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "user": rng.choice(["ann", "bob", "cy", "dee"], size=n),
        "item": pd.Categorical(rng.choice(["i1", "i2", "i3"], size=n)),
        "age": rng.normal(40.0, 10.0, size=n),
    })


@pytest.fixture(scope="module")
def frame_regressor():
    df = _frame(80, 0)
    y = (df["user"] == "ann") * 1.0 + 0.02 * df["age"]
    return BayesianFMRegressor(**FAST).fit(df, y)


@pytest.fixture(scope="module")
def saved(regressor, tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("saved") / "fm.bayesfm"
    regressor.save(path)
    return path.read_bytes()


def test_regressor_round_trip_is_bit_identical(regressor, sim, tmp_path):
    path = tmp_path / "fm.bayesfm"
    regressor.save(path)
    loaded = bayesfm.load(path)
    assert type(loaded) is BayesianFMRegressor
    assert loaded.get_params() == regressor.get_params()
    X = sim.X[:40]
    for a, b in [
        (regressor.predict(X), loaded.predict(X)),
        (regressor.predict(X, return_std=True)[1], loaded.predict(X, return_std=True)[1]),
        (regressor.predict_interval(X), loaded.predict_interval(X)),
        (regressor.predict_interval(X, 0.5, kind="predictive"),
         loaded.predict_interval(X, 0.5, kind="predictive")),
        (regressor.predict_draws(X), loaded.predict_draws(X)),
    ]:
        np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(regressor.summary(), loaded.summary(), check_exact=True)
    np.testing.assert_array_equal(regressor.summary().to_numpy(), loaded.summary().to_numpy())
    assert_same_tree(regressor.idata_, loaded.idata_)
    assert loaded.idata_.attrs == regressor.idata_.attrs
    t, u = regressor.design_template_, loaded.design_template_
    np.testing.assert_array_equal(t.group_of_feature, u.group_of_feature)
    assert t.group_of_feature.dtype == u.group_of_feature.dtype
    assert (t.feature_names, t.group_names) == (u.feature_names, u.group_names)
    assert t.indices.shape == u.indices.shape and t.values.dtype == u.values.dtype
    assert loaded.encoder_ is None and not hasattr(loaded, "feature_names_in_")
    assert loaded.n_features_in_ == regressor.n_features_in_
    assert loaded.convergence_problems_ == regressor.convergence_problems_


def test_classifier_round_trip_is_bit_identical(classifier, tmp_path):
    clf, X = classifier
    path = tmp_path / "clf.bayesfm"
    save_model(clf, path)
    loaded = bayesfm.load(str(path))
    assert type(loaded) is BayesianFMClassifier and loaded.link == "logit"
    np.testing.assert_array_equal(clf.classes_, loaded.classes_)
    assert clf.classes_.dtype == loaded.classes_.dtype
    np.testing.assert_array_equal(clf.predict_proba(X), loaded.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X), loaded.predict(X))
    np.testing.assert_array_equal(clf.predict_interval(X), loaded.predict_interval(X))
    pd.testing.assert_frame_equal(clf.summary(), loaded.summary(), check_exact=True)
    assert_same_tree(clf.idata_, loaded.idata_)


def test_dataframe_round_trip_keeps_the_encoder(frame_regressor, tmp_path):
    path = tmp_path / "df.bayesfm"
    frame_regressor.save(path)
    loaded = bayesfm.load(path)
    new = _frame(30, 1)
    new.loc[0, "user"] = "never-seen"  # an unseen category contributes no feature
    new["item"] = new["item"].cat.add_categories("i9")
    new.loc[1, "item"] = "i9"
    np.testing.assert_array_equal(frame_regressor.predict(new), loaded.predict(new))
    np.testing.assert_array_equal(frame_regressor.predict_interval(new),
                                  loaded.predict_interval(new))
    np.testing.assert_array_equal(frame_regressor.feature_names_in_, loaded.feature_names_in_)
    assert loaded.encoder_.get_state() == frame_regressor.encoder_.get_state()
    with pytest.raises(TypeError, match="DataFrame"):
        loaded.predict(new.to_numpy())


def test_loaded_model_saves_again_unchanged(regressor, tmp_path):
    regressor.save(tmp_path / "a.bayesfm")
    once = bayesfm.load(tmp_path / "a.bayesfm")
    once.save(tmp_path / "b.bayesfm")
    twice = bayesfm.load(tmp_path / "b.bayesfm")
    assert_same_tree(once.idata_, twice.idata_)
    assert twice.idata_.attrs == once.idata_.attrs


# -- corrupted, truncated, foreign and future files ------------------------------------------


def test_every_flipped_byte_is_refused(saved, tmp_path):
    header_end = saved.index(b"\n", len(MAGIC)) + 1
    payload_start = header_end + split_model_file(saved)[0]["config_length"]
    # Every byte of the magic, header, start of the config and HDF5 superblock; then a
    # sweep through the rest (HDF5 metadata and array data alike) and the very last byte.
    positions = sorted({*range(header_end + 200), *range(payload_start, payload_start + 200),
                        *range(header_end, len(saved), 211), len(saved) // 2, len(saved) - 1})
    path = tmp_path / "flipped.bayesfm"
    for pos in positions:
        for mask in (0x01, 0xFF):
            raw = bytearray(saved)
            raw[pos] ^= mask
            path.write_bytes(bytes(raw))
            with pytest.raises(ModelFileError):
                bayesfm.load(path)


@pytest.mark.parametrize("keep", [0, 5, len(MAGIC), len(MAGIC) + 40, 0.5, -1])
def test_truncated_file_is_refused(saved, tmp_path, keep):
    n = int(len(saved) * keep) if isinstance(keep, float) else keep % len(saved)
    path = tmp_path / "cut.bayesfm"
    path.write_bytes(saved[:n])
    with pytest.raises(ModelFileError):
        bayesfm.load(path)


def test_appended_bytes_are_refused(saved, tmp_path):
    path = tmp_path / "long.bayesfm"
    path.write_bytes(saved + b"\0")
    with pytest.raises(ModelFileError, match="truncated or has bytes appended"):
        bayesfm.load(path)


def test_newer_format_version_names_the_version(saved, tmp_path):
    header, config, payload = split_model_file(saved)
    path = tmp_path / "future.bayesfm"
    future = dict(header, format_version=P.FORMAT_VERSION + 1)
    path.write_bytes(join_model_file(future, config, payload))
    with pytest.raises(ModelFileError, match=f"format version {P.FORMAT_VERSION + 1}"):
        bayesfm.load(path)
    path.write_bytes(join_model_file(dict(header, format_version=0), config, payload))
    with pytest.raises(ModelFileError, match="format version 0, but bayesfm .* reads format "
                       f"versions {P.MIN_FORMAT_VERSION} to {P.FORMAT_VERSION}: load it with "
                       "a bayesfm that reads format version 0"):
        bayesfm.load(path)
    path.write_bytes(join_model_file(dict(header, format_version=True), config, payload))
    with pytest.raises(ModelFileError, match="header is corrupted"):
        bayesfm.load(path)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(estimator="os.system"), "unknown estimator 'os.system'"),
    (lambda c: c["params"].update(evil=1), "unknown parameters"),
    (lambda c: c.update(idata_sha256="0" * 64), "decoded arrays differ"),
    (lambda c: c["design_template"].update(values_dtype="O"), "unexpected dtype"),
    (lambda c: c.pop("encoder"), "not a valid bayesfm model"),
])
def test_crafted_config_with_valid_checksum_is_refused(saved, tmp_path, edit, message):
    header, config, payload = split_model_file(saved)
    cfg = json.loads(config)
    edit(cfg)
    path = tmp_path / "crafted.bayesfm"
    path.write_bytes(join_model_file(header, container._dumps(cfg), payload))
    with pytest.raises(ModelFileError, match=message):
        bayesfm.load(path)


def test_payload_is_plain_netcdf(saved, regressor):
    header, config, payload = split_model_file(saved)
    assert header["format_version"] == P.FORMAT_VERSION
    assert json.loads(config)["estimator"] == "BayesianFMRegressor"
    tree = xr.open_datatree(io.BytesIO(payload), engine="h5netcdf").load()
    np.testing.assert_array_equal(tree["posterior"]["v"].values,
                                  regressor.idata_["posterior"]["v"].values)


def test_foreign_files_are_refused(regressor, tmp_path):
    nc = tmp_path / "plain.nc"
    regressor.idata_.to_netcdf(nc, engine="h5netcdf")
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(regressor))
    for path in (nc, pkl):
        with pytest.raises(ModelFileError, match="not a bayesfm model file"):
            bayesfm.load(path)
    with pytest.raises(FileNotFoundError):
        bayesfm.load(tmp_path / "missing.bayesfm")
    assert issubclass(ModelFileError, ValueError)


def test_load_never_unpickles(saved, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("load must never unpickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    path = tmp_path / "fm.bayesfm"
    path.write_bytes(saved)
    assert isinstance(bayesfm.load(path), BayesianFMRegressor)


# -- writing ------------------------------------------------------------------------------------


def test_crash_mid_save_leaves_the_previous_file(regressor, classifier, sim, tmp_path,
                                                 monkeypatch):
    path = tmp_path / "fm.bayesfm"
    regressor.save(path)
    before = path.read_bytes()

    def crash(src, dst, length):
        dst.write(src.read(1000))
        raise OSError("disk full")

    monkeypatch.setattr(model_file, "copyfileobj", crash)
    with pytest.raises(OSError, match="disk full"):
        classifier[0].save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fm.bayesfm"]  # no temp files left
    np.testing.assert_array_equal(bayesfm.load(path).predict(sim.X), regressor.predict(sim.X))


def test_save_replaces_an_existing_file(regressor, classifier, tmp_path):
    path = tmp_path / "fm.bayesfm"
    regressor.save(path)
    classifier[0].save(path)
    assert type(bayesfm.load(path)) is BayesianFMClassifier


def test_unfitted_model_is_not_saved(tmp_path):
    path = tmp_path / "fm.bayesfm"
    with pytest.raises(NotFittedError):
        BayesianFMRegressor().save(path)
    assert not path.exists()


def test_non_json_params_and_unknown_state_are_refused(regressor, tmp_path):
    path = tmp_path / "fm.bayesfm"
    model = copy.copy(regressor).set_params(random_state=np.random.RandomState(0))
    with pytest.raises(ValueError, match="random_state=RandomState"):
        model.save(path)
    model = copy.copy(regressor).set_params(priors={"a0": (1.0,)})
    with pytest.raises(ValueError, match="would load back as"):
        model.save(path)
    model = copy.copy(regressor)
    model.extra_state_ = 1
    with pytest.raises(ValueError, match="extra_state_"):
        model.save(path)

    class Sub(BayesianFMRegressor):
        pass

    model = copy.copy(regressor)
    model.__class__ = Sub
    with pytest.raises(TypeError, match="only BayesianFMRegressor, BayesianFMClassifier"):
        model.save(path)
    assert list(Path(tmp_path).iterdir()) == []


# -- reproducibility of what is saved -----------------------------------------------------------


def _posterior(model) -> dict[str, np.ndarray]:
    post = model.idata_["posterior"]
    return {name: post[name].values for name in post.data_vars}


def test_same_random_state_gives_identical_draws(regressor, sim):
    again = BayesianFMRegressor(**FAST).fit(sim.X, sim.y, groups=sim.groups)
    first = _posterior(regressor)
    assert _posterior(again).keys() == first.keys()
    for name, values in _posterior(again).items():
        np.testing.assert_array_equal(values, first[name])


def test_no_random_state_gives_fresh_draws(sim):
    fresh = dict(FAST, random_state=None)
    a = BayesianFMRegressor(**fresh).fit(sim.X, sim.y, groups=sim.groups)
    b = BayesianFMRegressor(**fresh).fit(sim.X, sim.y, groups=sim.groups)
    assert not np.array_equal(_posterior(a)["w"], _posterior(b)["w"])
