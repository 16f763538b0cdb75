"""Numerical robustness of the estimators: large feature values, a feature in a million rows,
separable labels.

No NaN, no overflow, and a :class:`bayesfm.PrecisionWarning` where float32 loses accuracy
(the likelihoods at extreme scores are checked in tests/model/test_likelihoods.py).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from bayesfm import BayesianFMClassifier, BayesianFMRegressor, PrecisionWarning
from bayesfm.data import from_sparse, simulate_fm

pytestmark = pytest.mark.battery

GIBBS = dict(rank=2, num_warmup=150, num_samples=150, num_chains=1, random_state=0,
             progress_bar=False)


def _quiet_fit(model, *args, **kwargs):
    """Fit, letting only PrecisionWarning through (short chains warn about convergence)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(*args, **kwargs)
    return model, [w for w in caught if issubclass(w.category, PrecisionWarning)]


@pytest.fixture(scope="module")
def scaled():
    sim = simulate_fm(n_rows=300, group_sizes=(8, 6), rank=2, seed=0)
    z = np.random.default_rng(1).normal(size=300)
    truth = sim.eta + 0.5 * z

    def fit(scale: float):
        X = sp.hstack([sim.X, sp.csr_matrix(z[:, None] * scale)]).tocsr()
        fm, warned = _quiet_fit(BayesianFMRegressor(**GIBBS), X, sim.y + 0.5 * z,
                                groups=np.r_[sim.groups, 2])
        pred = fm.predict(X)
        return float(np.sqrt(np.mean((pred - truth) ** 2))), pred, warned

    fit.z = z
    return fit


@pytest.mark.xdist_group("robust")
def test_feature_values_of_1e4_fit_as_well_as_unit_values(scaled):
    rmse1, _, warned1 = scaled(1.0)
    rmse4, pred, warned4 = scaled(1e4)
    assert np.all(np.isfinite(pred))
    assert not warned1 and not warned4
    # Same chain length and seed: measured 0.146 vs 0.145 (float32), so 10% is ample.
    assert rmse4 < 1.1 * rmse1


@pytest.mark.xdist_group("robust")
def test_feature_values_of_1e6_warn_and_stay_finite(scaled):
    _, pred, warned = scaled(1e6)
    assert np.all(np.isfinite(pred))
    assert len(warned) == 1
    msg = str(warned[0].message)
    big = int(np.argmax(np.abs(scaled.z)))
    assert f"X has values up to {abs(scaled.z[big]) * 1e6:.3g} (column 14, row {big})" in msg
    assert "float64" in msg


def test_value_beyond_the_float32_range_is_refused():
    X = np.ones((3, 2))
    X[2, 1] = 1e39
    with pytest.raises(ValueError, match="value 1e\\+39 at row 2, column 1, beyond the range "
                       "of float32"):
        BayesianFMRegressor(**GIBBS).fit(X, np.ones(3))
    with pytest.raises(ValueError, match="row 2, column 1"):
        from_sparse(X)


def test_a_feature_in_a_million_rows():
    """float32 sums over 10^6 rows: the posterior mean still matches the sample mean."""
    n = 1_000_000
    rng = np.random.default_rng(0)
    y = 2.0 + rng.normal(size=n)
    X = sp.csr_matrix(np.ones((n, 1)))
    fm, warned = _quiet_fit(
        BayesianFMRegressor(rank=1, num_warmup=30, num_samples=30, num_chains=1,
                            random_state=0, progress_bar=False, log_likelihood=False), X, y)
    assert not warned
    post = fm.idata_["posterior"]
    assert all(np.all(np.isfinite(post[k].values)) for k in post.data_vars)
    pred = fm.predict(X[:5])
    assert np.all(np.isfinite(pred))
    # The posterior sd of the mean is 1e-3; float32 accumulation error is far below it.
    assert abs(pred[0] - y.mean()) < 5e-3
    tau = float(post["tau"].mean())
    assert abs(tau - 1.0 / y.var()) < 0.01  # the noise precision, from a 10^6-term sum


@pytest.mark.parametrize("method, link", [("gibbs", "probit"), ("svi", "logit")])
def test_separable_labels_give_finite_probabilities(method, link):
    """Perfect separation drives scores to the extremes: no NaN anywhere."""
    rng = np.random.default_rng(0)
    feat = rng.integers(0, 6, 200)
    X = sp.csr_matrix((np.ones(200), (np.arange(200), feat)), shape=(200, 6))
    y = (feat < 3).astype(int)
    kw = dict(svi_steps=300, num_samples=50) if method == "svi" else {}
    clf, _ = _quiet_fit(BayesianFMClassifier(**{**GIBBS, **kw}, method=method, link=link), X, y)
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))
    assert np.all(np.isfinite(clf.predict_draws(X)))
    assert (clf.predict(X) == y).all()
