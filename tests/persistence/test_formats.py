"""Format version 2: small files that lose nothing, and version-1 files that still load.

Version 2 compresses the arrays (gzip + shuffle, lossless) and leaves the pointwise
``log_likelihood`` group out, recomputing it on load from the saved draws and training rows.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import bayesfm
from bayesfm import BayesianFMClassifier, BayesianFMOrdinal, BayesianFMRegressor
from bayesfm import persistence as P
from bayesfm.data import simulate_fm
from bayesfm.persistence import ModelFileError, container, save_model
from bayesfm.results import recompute_log_likelihood, recomputes_log_likelihood
from tests._helpers import assert_same_tree, join_model_file, split_model_file

DATA = Path(__file__).parent / "data"
KINDS = {"regressor": (BayesianFMRegressor, "regression"),
         "classifier": (BayesianFMClassifier, "binary"),
         "ordinal": (BayesianFMOrdinal, "ordinal")}
GIBBS = dict(rank=2, num_warmup=20, num_samples=30, random_state=0, progress_bar=False)
SVI = dict(rank=2, method="svi", svi_steps=100, num_samples=30, random_state=0,
           progress_bar=False)


def _fit(kind: str, **params):
    cls, task = KINDS[kind]
    sim = simulate_fm(n_rows=150, group_sizes=(6, 5), rank=2, task=task, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of the short chains
        return cls(**params).fit(sim.X, sim.y, groups=sim.groups), sim.X


@pytest.fixture(scope="module", params=list(KINDS))
def gibbs_fit(request):
    return _fit(request.param, **GIBBS)


@pytest.fixture(scope="module", params=list(KINDS))
def svi_fit(request):
    return _fit(request.param, **SVI)


def _predictions(model, X) -> list[np.ndarray]:
    out = [model.predict(X), model.predict_interval(X)]
    if hasattr(model, "predict_proba"):
        out.append(model.predict_proba(X))
    return out


def _loo(tree):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto-k warnings of the short chains
        return bayesfm.results.psis_loo(tree)


# -- every kind round trips; the log likelihood is recomputed --------------------------------


def test_svi_log_likelihood_is_recomputed_bit_for_bit(svi_fit, tmp_path):
    # NUTS and SVI fits compute the group with the function load uses: same bits.
    model, X = svi_fit
    path = tmp_path / "fm.bfm"
    model.save(path)
    loaded = bayesfm.load(path)
    assert_same_tree(model.idata_, loaded.idata_)
    for a, b in zip(_predictions(model, X), _predictions(loaded, X), strict=True):
        np.testing.assert_array_equal(a, b)
    a, b = _loo(model.idata_), _loo(loaded.idata_)
    assert (a.elpd, a.se, a.p) == (b.elpd, b.se, b.p)


def test_gibbs_round_trip_of_every_kind(gibbs_fit, tmp_path):
    model, X = gibbs_fit
    save_model(model, tmp_path / "small.bfm")
    save_model(model, tmp_path / "kept.bfm", log_likelihood="keep")
    small, kept = bayesfm.load(tmp_path / "small.bfm"), bayesfm.load(tmp_path / "kept.bfm")
    assert type(small) is type(model) and type(kept) is type(model)
    for loaded in (small, kept):
        for a, b in zip(_predictions(model, X), _predictions(loaded, X), strict=True):
            np.testing.assert_array_equal(a, b)
        for group in ("posterior", "sample_stats", "observed_data", "constant_data"):
            assert_same_tree(model.idata_[group], loaded.idata_[group])
    assert_same_tree(model.idata_, kept.idata_)  # "keep": every bit, the group included
    # "recompute": the values computed from the draws, exactly what the function gives on
    # this machine; the Gibbs sampler's own values come from its running residuals, whose
    # float32 rounding over a few dozen sweeps is within 1e-4 relative (1e-5 absolute where
    # the log likelihood is near 0), which is what the tolerance allows.
    ll = small.idata_["log_likelihood"]["y"]
    assert ll.dtype == np.float32 and ll.dims == ("chain", "draw", "obs")
    np.testing.assert_array_equal(ll.values, recompute_log_likelihood(model.idata_))
    np.testing.assert_allclose(ll.values, model.idata_["log_likelihood"]["y"].values,
                               rtol=1e-4, atol=1e-5)
    fitted = model.idata_["log_likelihood"].to_dataset(inherit=False)
    assert small.idata_["log_likelihood"].to_dataset(inherit=False).identical(
        fitted.assign(y=fitted["y"].copy(data=ll.values)))  # same coords, attrs and dims
    a, b = _loo(model.idata_), _loo(small.idata_)
    assert b.elpd == pytest.approx(a.elpd, rel=1e-6) and b.se == pytest.approx(a.se, rel=1e-4)
    assert (tmp_path / "small.bfm").stat().st_size < (tmp_path / "kept.bfm").stat().st_size


def test_compare_is_the_same_after_load(tmp_path):
    fits = {f"rank {k}": _fit("regressor", **dict(SVI, rank=k))[0] for k in (1, 2)}
    for name, model in fits.items():
        model.save(tmp_path / f"{name}.bfm")
    loaded = {name: bayesfm.load(tmp_path / f"{name}.bfm") for name in fits}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before, after = bayesfm.compare(fits), bayesfm.compare(loaded)
    assert before.equals(after)


def test_the_file_leaves_the_log_likelihood_out(svi_fit, tmp_path):
    model, _ = svi_fit
    path = tmp_path / "fm.bfm"
    model.save(path)
    header, config, payload = split_model_file(path.read_bytes())
    assert header["format_version"] == P.FORMAT_VERSION == 2
    assert json.loads(config)["recomputed"] == {
        "/log_likelihood": {"y": {"dims": ["chain", "draw", "obs"], "dtype": "<f4"}}}
    tree = xr.open_datatree(io.BytesIO(payload), engine="h5netcdf").load()
    assert "y" not in tree["log_likelihood"].data_vars  # only its coordinates are written
    np.testing.assert_array_equal(tree["constant_data"]["obs_indices"].values,
                                  model.idata_["constant_data"]["obs_indices"].values)


def test_an_edited_log_likelihood_is_kept(svi_fit, tmp_path):
    # A group that is no longer the function of the draws (here: sliced) is written as is.
    model, _ = svi_fit
    edited = copy.copy(model)
    edited.idata_ = model.idata_.copy()
    ll = model.idata_["log_likelihood"].to_dataset(inherit=False)
    edited.idata_["log_likelihood"] = xr.DataTree(ll.isel(obs=slice(0, 10)))
    assert not recomputes_log_likelihood(edited.idata_)
    edited.save(tmp_path / "edited.bfm")
    assert_same_tree(edited.idata_, bayesfm.load(tmp_path / "edited.bfm").idata_)


# -- version 1 still loads ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_version_1_files_load_and_predict_as_saved(kind, tmp_path):
    path = DATA / f"v1_{kind}.bfm"
    assert split_model_file(path.read_bytes())[0]["format_version"] == 1
    expected = np.load(DATA / "v1_expected.npz")
    model = bayesfm.load(path)
    assert type(model) is KINDS[kind][0]
    X = expected[f"{kind}_X"]
    names = ["predict", "interval"] + (["proba"] if kind != "regressor" else [])
    # The predictions are today's code applied to the stored draws: float32 scores, whose
    # summation order a later version of the prediction code may change (lax.map over the
    # draws instead of vmap moved them by up to 1e-7 relative). A lost or altered draw moves
    # them by orders of magnitude more; what the file stores is compared bit for bit below.
    for name, got in zip(names, _predictions(model, X), strict=True):
        np.testing.assert_allclose(got, expected[f"{kind}_{name}"], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(model.idata_["log_likelihood"]["y"].values,
                                  expected[f"{kind}_log_likelihood"])
    # Saved again, as version 2: the group cannot be recomputed (version 1 has no training
    # rows), so it is kept, bit for bit.
    model.save(tmp_path / "again.bfm")
    assert_same_tree(model.idata_, bayesfm.load(tmp_path / "again.bfm").idata_)


@pytest.mark.parametrize("keep", [0.5, -1])
def test_truncated_version_1_file_is_refused(keep, tmp_path):
    raw = (DATA / "v1_regressor.bfm").read_bytes()
    path = tmp_path / "cut.bfm"
    path.write_bytes(raw[:int(len(raw) * keep) if isinstance(keep, float) else keep])
    with pytest.raises(ModelFileError, match="truncated"):
        bayesfm.load(path)


def test_corrupted_version_1_file_is_refused(tmp_path):
    raw = bytearray((DATA / "v1_classifier.bfm").read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path = tmp_path / "flipped.bfm"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="checksum"):
        bayesfm.load(path)


# -- what the checksum and the checks cover ----------------------------------------------------


def test_edited_training_rows_are_refused(svi_fit, tmp_path):
    # The rows the log likelihood is recomputed from are in the digest of the arrays.
    model, _ = svi_fit
    path = tmp_path / "fm.bfm"
    model.save(path)
    header, config, payload = split_model_file(path.read_bytes())
    tree = xr.open_datatree(io.BytesIO(payload), engine="h5netcdf").load()
    values = tree["constant_data"]["obs_values"].values.copy()
    values[0, 0] *= 2
    tree["constant_data"] = xr.DataTree(
        tree["constant_data"].to_dataset(inherit=False).assign(
            obs_values=(("obs", "slot"), values)))
    container._write_tree(tree, tmp_path / "edited.nc")
    path.write_bytes(join_model_file(header, config, (tmp_path / "edited.nc").read_bytes()))
    with pytest.raises(ModelFileError, match="decoded arrays differ"):
        bayesfm.load(path)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c.update(recomputed={"/posterior": {"v": {}}}), "recomputes only"),
    (lambda c: c.pop("recomputed"), "not a valid bayesfm model"),
])
def test_crafted_recompute_claims_are_refused(svi_fit, tmp_path, edit, message):
    model, _ = svi_fit
    path = tmp_path / "fm.bfm"
    model.save(path)
    header, config, payload = split_model_file(path.read_bytes())
    cfg = json.loads(config)
    edit(cfg)
    path.write_bytes(join_model_file(header, container._dumps(cfg), payload))
    with pytest.raises(ModelFileError, match=message):
        bayesfm.load(path)


def test_a_kept_group_claimed_recomputed_is_refused(svi_fit, tmp_path):
    model, _ = svi_fit
    path = tmp_path / "fm.bfm"
    save_model(model, path, log_likelihood="keep")
    header, config, payload = split_model_file(path.read_bytes())
    cfg = json.loads(config)
    assert cfg["recomputed"] == {}
    cfg["recomputed"] = {"/log_likelihood": {"y": {"dims": ["chain", "draw", "obs"],
                                                   "dtype": "<f4"}}}
    path.write_bytes(join_model_file(header, container._dumps(cfg), payload))
    with pytest.raises(ModelFileError, match="holds the log likelihood"):
        bayesfm.load(path)


def test_bad_log_likelihood_option_is_refused(svi_fit, tmp_path):
    with pytest.raises(ValueError, match="'recompute' or 'keep'"):
        save_model(svi_fit[0], tmp_path / "fm.bfm", log_likelihood="drop")
    assert not (tmp_path / "fm.bfm").exists()
