"""The model function, the pointwise log likelihood and the O(k * nnz) identity."""

import jax
import numpy as np
import pytest
import scipy.sparse as sp
from numpyro.infer import Predictive

from bayesfm.data import from_sparse
from bayesfm.model import (
    Gaussian,
    Probit,
    fm_model,
    fm_pairwise,
    fm_predict,
    pointwise_log_likelihood,
    probit_logits,
)


def _dense_pairwise(v, X):
    """Explicit double sum over feature pairs i < j of <v_i, v_j> x_i x_j."""
    out = np.zeros(X.shape[0])
    for n in range(X.shape[0]):
        for i in range(X.shape[1]):
            for j in range(i + 1, X.shape[1]):
                out[n] += v[i] @ v[j] * X[n, i] * X[n, j]
    return out


def _random_rows(rng, n_rows=40):
    # Three groups: one-hot (8 features), multi-hot without duplicates (6), numeric (2).
    X = np.zeros((n_rows, 16), dtype=np.float32)
    for n in range(n_rows):
        X[n, rng.integers(0, 8)] = 1.0
        tags = rng.choice(6, size=rng.integers(0, 4), replace=False)
        X[n, 8 + tags] = 1.0 / max(len(tags), 1)
        X[n, 14:16] = rng.normal(size=2) * (rng.uniform(size=2) < 0.7)
    return X


def test_pairwise_identity_equals_double_sum():
    rng = np.random.default_rng(0)
    X = _random_rows(rng)
    v = rng.normal(size=(16, 5)).astype(np.float32)
    d = from_sparse(sp.csr_matrix(X), groups=[0] * 8 + [1] * 6 + [2] * 2)
    assert d.max_nnz > 2 and (d.values == 0).any(), "the data must contain padding"
    got = np.asarray(fm_pairwise(v, d.indices, d.values))
    want = _dense_pairwise(v.astype(np.float64), X.astype(np.float64))
    # float32 arithmetic on O(1) values: 1e-5 absolute (relative to the scale) is attainable.
    np.testing.assert_allclose(got, want, atol=1e-5 * max(1.0, np.abs(want).max()))


def test_predict_includes_bias_and_linear_term():
    rng = np.random.default_rng(1)
    X = _random_rows(rng, 10)
    d = from_sparse(sp.csr_matrix(X))
    w = rng.normal(size=16).astype(np.float32)
    v = rng.normal(size=(16, 3)).astype(np.float32)
    got = np.asarray(fm_predict(0.3, w, v, d.indices, d.values))
    want = 0.3 + X @ w + _dense_pairwise(v.astype(np.float64), X.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_prior_sites_and_shapes():
    idx = np.array([[0, 2], [1, 3], [0, 3]])
    val = np.ones((3, 2), np.float32)
    draws = Predictive(fm_model, num_samples=4)(
        jax.random.key(0), idx, val, np.array([0, 0, 1, 1]), n_groups=2, rank=3
    )
    shapes = {k: v.shape for k, v in draws.items()}
    assert shapes == {
        "w0": (4,), "w": (4, 4), "v": (4, 4, 3), "mu_w": (4, 2), "lambda_w": (4, 2),
        "mu_v": (4, 2, 3), "lambda_v": (4, 2, 3), "tau": (4,), "y": (4, 3),
    }


def test_probit_logits_are_stable_in_the_tails():
    eta = np.array([-40.0, -5.0, 0.0, 5.0, 40.0], dtype=np.float32)
    logits = np.asarray(probit_logits(eta))
    assert np.all(np.isfinite(logits))
    assert np.all(np.diff(logits) > 0)
    ll = np.asarray(pointwise_log_likelihood(Probit(), np.array([0, 0, 1, 1, 1.0]), eta, {}))
    assert np.all(np.isfinite(ll)) and np.all(ll <= 0)


def test_weights_are_frequency_weights():
    # A row of weight 3 contributes what three copies of it would.
    eta = np.zeros(2, np.float32)
    y = np.ones(2, np.float32)
    ll = np.asarray(pointwise_log_likelihood(Gaussian(), y, eta, {"tau": 2.0},
                                             weight=np.array([1.0, 3.0])))
    one = 0.5 * np.log(2 / (2 * np.pi)) - 2 / 2
    np.testing.assert_allclose(ll, [one, 3 * one], rtol=1e-5)


@pytest.mark.parametrize("bad", [{"likelihood": "poisson"}, {"parameterization": "wild"}])
def test_model_rejects_unknown_options(bad):
    with pytest.raises(ValueError, match="unknown"):
        Predictive(fm_model, num_samples=1)(
            jax.random.key(0), np.zeros((1, 1), int), np.ones((1, 1)), np.zeros(1, int),
            n_groups=1, rank=1, **bad,
        )
