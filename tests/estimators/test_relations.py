"""Estimators with relation blocks: fit, labels, every predicting method, errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bayesfm import BayesianFMClassifier, BayesianFMOrdinal, BayesianFMRegressor
from bayesfm.data.relations import implicit_item_users, implicit_user_items, materialize
from bayesfm.model import fm_predict

# Short chains: these tests check wiring and labels, not convergence.
pytestmark = pytest.mark.filterwarnings("ignore:The chains have not converged")

N_USERS, N_ITEMS = 20, 12
FAST = dict(rank=2, num_warmup=30, num_samples=40, num_chains=1, random_state=0,
            progress_bar=False)


def _rows(seed=0, n=200, n_test=30):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, N_USERS, n + n_test)
    items = rng.integers(0, N_ITEMS, n + n_test)
    tr, te = slice(0, n), slice(n, n + n_test)
    by_user = implicit_user_items(users[tr], items[tr], N_USERS, N_ITEMS)
    by_item = implicit_item_users(items[tr], users[tr], N_ITEMS, N_USERS)

    def onehot(s):
        return sp.hstack([sp.eye(N_USERS, format="csr")[users[s]],
                          sp.eye(N_ITEMS, format="csr")[items[s]]], format="csr")

    def rels(s):
        return [by_user.with_index(users[s]), by_item.with_index(items[s])]

    score = 0.3 * np.sin(users) + 0.2 * np.cos(items)
    return dict(X=onehot(tr), rel=rels(tr), X_test=onehot(te), rel_test=rels(te),
                score=score[tr] + rng.normal(0, 0.3, n), groups=[0] * N_USERS + [1] * N_ITEMS)


def test_regressor_fits_relations_and_predicts_through_them():
    d = _rows()
    fm = BayesianFMRegressor(**FAST).fit(d["X"], d["score"], groups=d["groups"],
                                         relations=d["rel"])
    post = fm.idata_.posterior
    n_feat = N_USERS + N_ITEMS + N_ITEMS + N_USERS
    assert post["w"].shape[-1] == n_feat
    features = [str(f) for f in post["w"].coords["feature"].values]
    assert "implicit_items:item=3" in features and "implicit_users:user=7" in features
    # Prediction materialises the rows: the mean over draws of the FM on [X | rel rows].
    full = materialize(d["X_test"], d["rel_test"])
    w0 = post["w0"].values.reshape(-1)
    w = post["w"].values.reshape(w0.size, -1)
    v = post["v"].values.reshape(w0.size, n_feat, -1)
    expected = np.mean([np.asarray(fm_predict(w0[t], w[t], v[t], full.indices, full.values))
                        for t in range(w0.size)], axis=0)
    got = fm.predict(d["X_test"], relations=d["rel_test"])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    mean, sd = fm.predict(d["X_test"], return_std=True, relations=d["rel_test"])
    assert np.all(sd > 0)
    assert fm.predict_interval(d["X_test"], relations=d["rel_test"]).shape == (30, 2)
    assert fm.predict_draws(d["X_test"], relations=d["rel_test"]).shape == (40, 30)
    assert fm.predict_summary(d["X_test"], relations=d["rel_test"]).mean.shape == (30,)
    assert fm.sample_posterior_predictive(d["X_test"], relations=d["rel_test"]).shape == (40, 30)
    assert "predictions" in fm.predict_idata(d["X_test"], relations=d["rel_test"]).children
    assert np.isfinite(fm.score(d["X_test"], mean, relations=d["rel_test"]))
    # Training rows fit better than noise: the relation features carry signal here.
    assert fm.score(d["X"], d["score"], relations=d["rel"]) > 0.3


def test_prediction_errors():
    d = _rows()
    fm = BayesianFMRegressor(**FAST).fit(d["X"], d["score"], relations=d["rel"])
    with pytest.raises(ValueError, match="fitted with 2 relation"):
        fm.predict(d["X_test"])
    with pytest.raises(ValueError, match="the fit had 2 relation"):
        fm.predict(d["X_test"], relations=d["rel_test"][:1])
    wrong = implicit_user_items([0, 1], [0, 1], N_USERS, N_ITEMS + 1).with_index(
        np.zeros(30, int))
    with pytest.raises(ValueError, match="has 13 features, but the fit's relation"):
        fm.predict(d["X_test"], relations=[wrong, d["rel_test"][1]])
    with pytest.raises(ValueError, match="indexes 200 rows, but X has 30"):
        fm.predict(d["X_test"], relations=d["rel"])
    with pytest.raises(NotImplementedError, match="saving"):
        fm.save("unused.bayesfm")
    plain = BayesianFMRegressor(**FAST).fit(d["X"], d["score"])
    with pytest.raises(ValueError, match="fitted without relations"):
        plain.predict(d["X_test"], relations=d["rel_test"])
    with pytest.raises(NotImplementedError, match="plain FM"):
        BayesianFMRegressor(model="ffm", **FAST).fit(d["X"], d["score"], groups=d["groups"],
                                                    relations=d["rel"])


def test_classifier_and_ordinal_take_relations():
    d = _rows()
    y_bin = (d["score"] > 0).astype(int)
    clf = BayesianFMClassifier(**FAST).fit(d["X"], y_bin, relations=d["rel"])
    proba = clf.predict_proba(d["X_test"], relations=d["rel_test"])
    assert proba.shape == (30, 2) and np.allclose(proba.sum(1), 1)
    assert 0 <= clf.score(d["X"], y_bin, relations=d["rel"]) <= 1
    y_ord = np.digitize(d["score"], [-0.3, 0.0, 0.3])
    ordm = BayesianFMOrdinal(**FAST).fit(d["X"], y_ord, relations=d["rel"])
    assert ordm.predict_proba(d["X_test"], relations=d["rel_test"]).shape == (30, 4)
    assert ordm.predict_expected(d["X_test"], relations=d["rel_test"]).shape == (30,)
    assert 0 <= ordm.score(d["X"], y_ord, relations=d["rel"]) <= 1


def test_svi_fits_the_materialised_design():
    d = _rows()
    fm = BayesianFMRegressor(rank=2, method="svi", svi_steps=200, num_samples=20,
                             random_state=0, progress_bar=False)
    fm.fit(d["X"], d["score"], relations=d["rel"])
    assert fm.idata_.posterior["w"].shape[-1] == 2 * (N_USERS + N_ITEMS)
    assert fm.predict(d["X_test"], relations=d["rel_test"]).shape == (30,)


def test_compressed_prediction_equals_the_materialised_rows(monkeypatch):
    """Sub-rows as virtual features score exactly what the materialised rows score.

    Same draws, two computations of each row's probabilities; float32 sums of a few dozen
    terms agree to ~1e-6, so 1e-5 separates exact agreement from any missing term.
    """
    import bayesfm.estimators._predict as predict_module

    d = _rows(seed=3)
    y_ord = np.digitize(d["score"], [-0.3, 0.0, 0.3])
    ordm = BayesianFMOrdinal(**FAST).fit(d["X"], y_ord, relations=d["rel"])
    clf = BayesianFMClassifier(**FAST).fit(d["X"], (d["score"] > 0).astype(int),
                                           relations=d["rel"])
    reg = BayesianFMRegressor(**FAST).fit(d["X"], d["score"], relations=d["rel"])
    got = [ordm.predict_proba(d["X_test"], relations=d["rel_test"]),
           clf.predict_proba(d["X_test"], relations=d["rel_test"]),
           reg.predict_interval(d["X_test"], kind="predictive", relations=d["rel_test"])]
    monkeypatch.setattr(predict_module, "compressible", lambda interaction: False)
    want = [ordm.predict_proba(d["X_test"], relations=d["rel_test"]),
            clf.predict_proba(d["X_test"], relations=d["rel_test"]),
            reg.predict_interval(d["X_test"], kind="predictive", relations=d["rel_test"])]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
