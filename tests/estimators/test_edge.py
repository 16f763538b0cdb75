"""The user's edge: unseen levels, names on every input path, predictive groups for ArviZ."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from bayesfm import BayesianFMClassifier, BayesianFMRegressor
from bayesfm.data import DatasetInfo, UnseenLevelWarning

FAST = dict(rank=2, num_warmup=100, num_samples=100, num_chains=2, random_state=0,
            progress_bar=False)


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The chains")
        return est.fit(*args, **kwargs)


@pytest.fixture(scope="module")
def sex_and_item():
    """A field present in every row with a large common effect: dropping it biases."""
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({"sex": rng.choice(["M", "F"], n), "item": rng.choice(list("abcdef"), n)})
    eff = {"M": 2.0, "F": 2.3, **dict(zip("abcdef", rng.normal(0, 0.5, 6), strict=True))}
    y = df["sex"].map(eff) + df["item"].map(eff) + rng.normal(0, 0.3, n)
    fm = _quiet_fit(BayesianFMRegressor(**FAST), df, y.to_numpy())
    return fm, df, y.to_numpy()


def test_unseen_level_keeps_the_mean_and_widens_the_interval(sex_and_item):
    fm, df, y = sex_and_item
    X = df.head(50)
    new = X.assign(sex="X")
    with pytest.warns(UnseenLevelWarning, match=r"50 of 50 rows.*'sex' \(50 rows\)"):
        s_new = fm.predict_summary(new)
    s = fm.predict_summary(X)
    dropped = fm.predict(X.assign(sex=np.nan))        # a missing cell gives no feature
    # Dropping the level loses mu_w[sex], which holds much of the mean 2.15 with w0's default
    # N(0, 1) prior; the group-prior draw keeps it (up to the shrinkage of mu_w, see the
    # guide's cold-start section). That shrinkage leaves a shift of about a third of the
    # dropped one: over seeds 0-4 of this fit the ratio is 2.5-3.7 (0.27-0.45 against
    # 0.85-1.29), so twice leaves room for the short chains' noise and still fails at once if
    # the level were dropped (ratio 1).
    assert abs(dropped.mean() - s.mean.mean()) > 0.8
    assert abs(dropped.mean() - s.mean.mean()) > 2 * abs(s_new.mean.mean() - s.mean.mean())
    assert np.mean(s_new.upper - s_new.lower >= s.upper - s.lower) >= 0.99
    # Repeated calls agree: the new levels' draws are seeded.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnseenLevelWarning)
        np.testing.assert_array_equal(fm.predict(new), s_new.mean)


def test_a_weak_w0_prior_puts_a_new_level_at_the_fields_typical_level(sex_and_item):
    _, df, y = sex_and_item
    fm = _quiet_fit(BayesianFMRegressor(priors={"reg0": 0.01}, **FAST), df, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnseenLevelWarning)
        shift = fm.predict(df.assign(sex="X")).mean() - fm.predict(df).mean()
    assert abs(shift) < 0.15


def test_no_warning_for_known_levels(sex_and_item):
    fm, df, _ = sex_and_item
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenLevelWarning)
        fm.predict(df.head(5))


def test_exact_predictive_interval_contains_the_mean_interval(sex_and_item):
    fm, df, _ = sex_and_item
    mean_iv = fm.predict_interval(df, 0.9)
    pred_iv = fm.predict_interval(df, 0.9, kind="predictive")
    assert np.all(pred_iv[:, 0] <= mean_iv[:, 0]) and np.all(pred_iv[:, 1] >= mean_iv[:, 1])
    np.testing.assert_array_equal(pred_iv, fm.predict_interval(df, 0.9, kind="predictive"))


def test_names_on_sparse_input_from_info_and_from_a_design():
    rng = np.random.default_rng(0)
    n = 200
    X = sp.random(n, 6, density=0.4, random_state=0, format="csr")
    y = rng.normal(size=n)
    info = DatasetInfo("toy", ("user=1", "user=2", "user=42", "item=a", "item=b", "item=c"),
                       np.array([0, 0, 0, 1, 1, 1]), ("user", "item"))
    fm = _quiet_fit(BayesianFMRegressor(**FAST), X, y, groups=info)
    w = fm.idata_["posterior"]["w"]
    assert w.sel(feature="user=42").shape == (2, 100)
    assert list(fm.idata_["posterior"]["mu_w"].group.values) == ["user", "item"]
    fm2 = _quiet_fit(BayesianFMRegressor(**FAST), info.design(X), y)
    np.testing.assert_array_equal(fm2.predict(X), fm.predict(X))
    fm3 = _quiet_fit(BayesianFMRegressor(**FAST), X, y, groups=info.group_of_feature,
                     feature_names=info.feature_names, group_names=info.group_names)
    np.testing.assert_array_equal(fm3.predict(X), fm.predict(X))
    with pytest.raises(ValueError, match="feature_names has 2 names for 6 features"):
        BayesianFMRegressor(**FAST).fit(X, y, feature_names=["a", "b"])


def test_all_numeric_frame_keeps_its_column_names():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"age": rng.normal(size=100), "height": rng.normal(size=100)})
    fm = _quiet_fit(BayesianFMRegressor(**FAST), df, rng.normal(size=100))
    assert list(fm.idata_["posterior"]["w"].feature.values) == ["age", "height"]


def test_declarations_need_a_dataframe():
    with pytest.raises(TypeError, match="categorical= / numeric= name DataFrame columns"):
        BayesianFMRegressor(categorical=["user"], **FAST).fit(np.ones((3, 2)), [1, 2, 3])
    with pytest.raises(TypeError, match="not the string 'user'"):
        BayesianFMRegressor(categorical="user", **FAST).fit(
            pd.DataFrame({"user": [1, 2, 3]}), [1, 2, 3])


@pytest.mark.parametrize("cls", [BayesianFMRegressor, BayesianFMClassifier])
def test_posterior_predictive_group_feeds_arviz_ppc_and_loo_pit(cls):
    import arviz as az
    import arviz_plots

    rng = np.random.default_rng(0)
    n = 150
    X = sp.random(n, 8, density=0.3, random_state=1, format="csr")
    y = rng.normal(size=n) if cls is BayesianFMRegressor else rng.integers(0, 2, n)
    fm = _quiet_fit(cls(**FAST), X, y)
    rep = fm.sample_posterior_predictive(X, random_state=0)
    pp = fm.idata_["posterior_predictive"]["y"]
    assert pp.dims == ("chain", "draw", "obs") and pp.shape == (2, 100, n)
    np.testing.assert_array_equal(pp.values.reshape(200, n), rep)
    arviz_plots.plot_ppc_dist(fm.idata_, backend="none")
    pit = az.loo_pit(fm.idata_)
    assert np.all((pit["y"].values >= 0) & (pit["y"].values <= 1))
    fm.sample_posterior_predictive(X[:7], random_state=0)    # new rows: predictions
    assert fm.idata_["predictions"]["y"].dims == ("chain", "draw", "pred_obs")
    assert fm.idata_["posterior_predictive"]["y"].shape == (2, 100, n)   # untouched


def test_classifier_takes_any_two_labels_and_saves_them(tmp_path):
    import bayesfm

    rng = np.random.default_rng(0)
    X = sp.random(120, 6, density=0.4, random_state=2, format="csr")
    y = np.where(rng.random(120) < 0.5, "yes", "no").astype(object)
    clf = _quiet_fit(BayesianFMClassifier(**{**FAST, "num_samples": 20, "num_warmup": 20}),
                     X, y)
    assert clf.classes_.tolist() == ["no", "yes"]
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert set(np.unique(clf.sample_posterior_predictive(X, num_draws=3))) <= {"no", "yes"}
    clf.save(tmp_path / "c.bfm")
    back = bayesfm.load(tmp_path / "c.bfm")
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    pm = _quiet_fit(BayesianFMClassifier(**{**FAST, "num_samples": 20, "num_warmup": 20}),
                    X, np.where(y == "yes", 1, -1))
    assert pm.classes_.tolist() == [-1, 1]
