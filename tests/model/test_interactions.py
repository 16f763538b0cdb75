"""Field-aware and degree-3 FMs: scores against dense loops, fitting, prediction, saving."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from bayesfm import BayesianFMClassifier, BayesianFMRegressor, load
from bayesfm.data import from_sparse
from bayesfm.model_variants import anova3, ffm_pairwise, fm_variant_model, variant_predict


def random_design(n_rows: int, sizes: list[int], seed: int):
    """Multi-hot rows with real values, so that same-group pairs and triples occur."""
    rng = np.random.default_rng(seed)
    X = sp.random(n_rows, sum(sizes), density=0.3, random_state=seed, format="csr",
                  data_rvs=lambda n: rng.normal(size=n))
    return X, from_sparse(X, group_sizes=sizes, dtype=np.float64)


def dense_ffm(w0, w, v, gof, X):
    """sum_i w_i x_i + sum_{i<j} x_i x_j <v[i, g(j)], v[j, g(i)]> by explicit loops."""
    out = np.full(X.shape[0], w0, dtype=np.float64)
    for n, row in enumerate(X):
        out[n] += row @ w
        nz = np.flatnonzero(row)
        for i, j in itertools.combinations(nz, 2):
            out[n] += row[i] * row[j] * v[i, gof[j]] @ v[j, gof[i]]
    return out


def dense_degree3(w0, w, v, v3, X):
    """Plain FM plus sum_{i<j<l} x_i x_j x_l sum_f v3_if v3_jf v3_lf by explicit loops."""
    out = np.full(X.shape[0], w0, dtype=np.float64)
    for n, row in enumerate(X):
        out[n] += row @ w
        nz = np.flatnonzero(row)
        for i, j in itertools.combinations(nz, 2):
            out[n] += row[i] * row[j] * v[i] @ v[j]
        for i, j, m in itertools.combinations(nz, 3):
            out[n] += row[i] * row[j] * row[m] * np.sum(v3[i] * v3[j] * v3[m])
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_ffm_score_equals_dense_pair_loops(x64, seed):
    X, d = random_design(30, [4, 5, 3], seed)
    rng = np.random.default_rng(seed + 10)
    p, n_groups = d.n_features, d.n_groups
    w0, w, v = 0.3, rng.normal(size=p), rng.normal(size=(p, n_groups, 3))
    got = variant_predict(w0, jnp.asarray(w), jnp.asarray(v), d.indices, d.values,
                          group_of_feature=d.group_of_feature)
    want = dense_ffm(w0, w, v, d.group_of_feature, X.toarray())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.max(np.sum(X.toarray() != 0, axis=1)) >= 4  # the loops did see many pairs


@pytest.mark.parametrize("seed", [0, 1])
def test_degree3_score_equals_dense_triple_loops(x64, seed):
    X, d = random_design(30, [4, 5, 3], seed)
    rng = np.random.default_rng(seed + 20)
    p = d.n_features
    w0, w = -0.2, rng.normal(size=p)
    v, v3 = rng.normal(size=(p, 3)), rng.normal(size=(p, 3))
    got = variant_predict(w0, jnp.asarray(w), jnp.asarray(v), d.indices, d.values,
                          v3=jnp.asarray(v3))
    want = dense_degree3(w0, w, v, v3, X.toarray())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_ffm_with_one_vector_per_feature_is_the_plain_fm(x64):
    # If v[i, h] does not depend on h, the field-aware FM reduces to the plain FM.
    X, d = random_design(20, [3, 4], 2)
    v = np.random.default_rng(0).normal(size=(d.n_features, 2))
    ffm = ffm_pairwise(jnp.asarray(np.repeat(v[:, None], 2, axis=1)), d.group_of_feature,
                       d.indices, d.values)
    fm = variant_predict(0.0, jnp.zeros(d.n_features), jnp.asarray(v), d.indices, d.values)
    np.testing.assert_allclose(ffm, fm, rtol=1e-10, atol=1e-12)
    assert float(jnp.max(jnp.abs(anova3(jnp.zeros((d.n_features, 2)), d.indices,
                                        d.values)))) == 0.0


def test_variant_model_sites_have_the_documented_shapes():
    from numpyro.infer import Predictive

    idx = np.array([[0, 2, 4], [1, 3, 4]])
    val = np.ones((2, 3), np.float32)
    gof = np.array([0, 0, 1, 1, 2])
    ffm = Predictive(fm_variant_model, num_samples=2)(
        jax.random.key(0), idx, val, gof, n_groups=3, rank=2, variant="ffm")
    assert ffm["v"].shape == (2, 5, 3, 2) and ffm["mu_v"].shape == (2, 3, 3, 2)
    hofm = Predictive(fm_variant_model, num_samples=2)(
        jax.random.key(0), idx, val, gof, n_groups=3, rank=2, degree=3)
    assert hofm["v"].shape == (2, 5, 2) and hofm["v3"].shape == (2, 5, 2)
    assert hofm["lambda_v3"].shape == (2, 3, 2)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": "ffx"}, "unknown model 'ffx'"),
    ({"degree": 4}, "degree must be one of"),
    ({"model": "ffm", "degree": 3}, "model='fm' only"),
    ({"degree": 3, "store": "moments"}, "store='moments' is not available for degree=3"),
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
