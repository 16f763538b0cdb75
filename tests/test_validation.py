"""Bad inputs get clear errors that name the problem."""

import numpy as np
import pytest
import scipy.sparse as sp

from bayesfm import BayesianFMClassifier, BayesianFMRegressor

FAST = dict(method="svi", rank=2, svi_steps=200, num_samples=20, random_state=0,
            progress_bar=False)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = sp.random(60, 6, density=0.4, random_state=0, format="csr")
    y = rng.normal(size=60)
    labels = (rng.uniform(size=60) < 0.5).astype(int)
    return X, y, labels


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _ = data
    return BayesianFMRegressor(**FAST).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_X(data, bad):
    X, y, _ = data
    Xd = X.toarray()
    Xd[3, 2] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        BayesianFMRegressor(**FAST).fit(Xd, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_y(data, bad):
    X, y, _ = data
    y = y.copy()
    y[5] = bad
    with pytest.raises(ValueError, match=r"y contains (NaN|infinity)"):
        BayesianFMRegressor(**FAST).fit(X, y)


def test_y_wrong_length(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="y has 59 values, but X has 60 rows"):
        BayesianFMRegressor(**FAST).fit(X, y[:-1])


def test_labels_outside_0_1(data):
    X, _, labels = data
    bad = labels.copy()
    bad[7] = 2
    msg = r"labels must be 0 or 1; found \[2.0\] \(first at row 7\)"
    with pytest.raises(ValueError, match=msg):
        BayesianFMClassifier(**FAST).fit(X, bad)


def test_single_class(data):
    X, _, _ = data
    with pytest.raises(ValueError, match="one class only"):
        BayesianFMClassifier(**FAST).fit(X, np.ones(60))


def test_feature_count_mismatch_at_predict(data, fitted):
    X, _, _ = data
    with pytest.raises(ValueError, match="7 features.*6 features"):
        fitted.predict(sp.hstack([X, X[:, :1]]).tocsr())


def test_unknown_method(data):
    X, y, _ = data
    with pytest.raises(ValueError, match=r"unknown method 'gibs'; valid methods: gibbs, nuts, svi"):
        BayesianFMRegressor(method="gibs").fit(X, y)


@pytest.mark.parametrize("rank, err", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_rank_must_be_positive_integer(data, rank, err):
    X, y, _ = data
    with pytest.raises(err, match="rank"):
        BayesianFMRegressor(rank=rank).fit(X, y)


@pytest.mark.parametrize("name", ["num_samples", "num_chains"])
def test_draw_counts_must_be_positive(data, name):
    X, y, _ = data
    with pytest.raises(ValueError, match=name):
        BayesianFMRegressor(**{**FAST, name: 0}).fit(X, y)


def test_negative_sample_weight(data):
    X, y, _ = data
    w = np.ones(60)
    w[4] = -1
    with pytest.raises(ValueError, match="sample_weight must be non-negative"):
        BayesianFMRegressor(**FAST).fit(X, y, sample_weight=w)


def test_unknown_prior_constant(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="unknown prior constants"):
        BayesianFMRegressor(**FAST, priors={"alpha": 1.0}).fit(X, y)


def test_unknown_link(data):
    X, _, labels = data
    with pytest.raises(ValueError, match="unknown link 'cloglog'"):
        BayesianFMClassifier(**FAST, link="cloglog").fit(X, labels)


def test_groups_of_wrong_length(data):
    X, y, _ = data
    with pytest.raises(ValueError, match="groups must give one group per feature"):
        BayesianFMRegressor(**FAST).fit(X, y, groups=[0, 1])


def test_predict_before_fit(data):
    from sklearn.exceptions import NotFittedError

    X, _, _ = data
    with pytest.raises(NotFittedError):
        BayesianFMRegressor().predict(X)


def test_interval_prob_out_of_range(data, fitted):
    X, _, _ = data
    with pytest.raises(ValueError, match=r"prob must be in \(0, 1\)"):
        fitted.predict_interval(X, prob=1.5)


def test_probit_gibbs_refuses_weights_and_svi_takes_them(data):
    X, _, labels = data
    w = np.linspace(0.5, 2.0, 60)
    with pytest.raises(ValueError, match="sample_weight with link='probit'.*method='gibbs'"):
        BayesianFMClassifier(rank=2, num_warmup=5, num_samples=5, num_chains=1,
                             progress_bar=False).fit(X, labels, sample_weight=w)
    clf = BayesianFMClassifier(**FAST).fit(X, labels, sample_weight=w)
    assert clf.predict_proba(X).shape == (60, 2)


def test_logit_gibbs_is_refused(data):
    X, _, labels = data
    with pytest.raises(ValueError, match="method='gibbs' needs a conjugate likelihood"):
        BayesianFMClassifier(link="logit", num_warmup=5, num_samples=5,
                             progress_bar=False).fit(X, labels)
