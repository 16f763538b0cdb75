"""Estimators with the field-aware and degree-3 FMs: settings, fitting, prediction, saving."""

from __future__ import annotations

import numpy as np
import pytest

from bayesfm import BayesianFMClassifier, BayesianFMRegressor, load
from tests._model_helpers import dense_degree3, dense_ffm, random_design


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": "ffx"}, "unknown model 'ffx'"),
    ({"degree": 4}, "degree must be one of"),
    ({"model": "ffm", "degree": 3}, "model='fm' only"),
])
def test_bad_variant_settings_are_refused(kwargs, match):
    X, d = random_design(20, [3, 4], 0)
    with pytest.raises(ValueError, match=match):
        BayesianFMRegressor(rank=2, **kwargs).fit(X, np.zeros(20), groups=d.group_of_feature)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("variant", [{"model": "ffm"}, {"degree": 3},
                                     {"degree": 3, "method": "gibbs"}])
def test_fitted_variant_predicts_like_the_dense_reference_and_round_trips(tmp_path, variant):
    X, d = random_design(40, [4, 5, 3], 3)
    y = np.random.default_rng(0).normal(size=40)
    fm = BayesianFMRegressor(rank=2, num_warmup=20, num_samples=4, num_chains=1,
                             random_state=0, progress_bar=False, **({"method": "nuts"} | variant))
    fm.fit(X, y, groups=d.group_of_feature)
    post = fm.idata_["posterior"]
    if "model" in variant:
        assert post["v"].dims == ("chain", "draw", "feature", "other_group", "factor")
        assert post["mu_v"].dims == ("chain", "draw", "group", "other_group", "factor")
    else:
        assert post["v3"].dims == ("chain", "draw", "feature", "factor")
    assert "log_likelihood" in fm.idata_.children
    Xt = X[:7].toarray()
    draws = fm.predict_draws(Xt)
    for s in range(4):
        w0, w, v = (post[k].values[0, s] for k in ("w0", "w", "v"))
        if "model" in variant:
            want = dense_ffm(w0, w, v, d.group_of_feature, Xt)
        else:
            want = dense_degree3(w0, w, v, post["v3"].values[0, s], Xt)
        np.testing.assert_allclose(draws[s], want, rtol=1e-4, atol=1e-4)
    path = tmp_path / "model.bayesfm"
    fm.save(path)
    back = load(path)
    assert back.get_params() == fm.get_params()
    np.testing.assert_allclose(back.predict(Xt), fm.predict(Xt))
    np.testing.assert_allclose(back.predict_interval(Xt), fm.predict_interval(Xt))


def test_ffm_classifier_with_svi_runs():
    X, d = random_design(60, [4, 5, 3], 4)
    y = (np.random.default_rng(1).uniform(size=60) < 0.4).astype(int)
    clf = BayesianFMClassifier(rank=2, model="ffm", method="svi", svi_steps=200,
                               num_samples=20, random_state=0, progress_bar=False)
    clf.fit(X, y, groups=d.group_of_feature)
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 2) and np.all((proba > 0) & (proba < 1))
    assert clf.idata_["posterior"]["v"].shape == (1, 20, 12, 3, 2)
