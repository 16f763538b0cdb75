"""Property-based tests of the FM score (hypothesis, derandomized).

The FM score of a padded design equals the O(p^2) double sum of DESIGN section 1 on the dense
matrix, by every path that computes it: the model's function, the chunked prediction path and
the Gibbs engine's caches.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from bayesfm.data import from_sparse
from bayesfm.engines.gibbs import prepare_data, term_for
from bayesfm.model import Gaussian, PairwiseFM, fm_predict
from bayesfm.results import PosteriorDraws, eta_chunks
from tests._model_helpers import HYPO, grouped_matrices

pytestmark = pytest.mark.battery


def dense_fm(X: np.ndarray, w0: float, w: np.ndarray, V: np.ndarray) -> np.ndarray:
    """DESIGN section 1 read literally: w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j."""
    n, p = X.shape
    out = np.full(n, w0) + X @ w
    for i in range(p):
        for j in range(i + 1, p):
            out += (V[i] @ V[j]) * X[:, i] * X[:, j]
    return out


# A fixed shape (only the padded width varies), so the jitted paths compile a few times only.
@settings(HYPO, max_examples=30)
@given(grouped_matrices(shape=(9, 7)), st.integers(0, 2**31 - 1))
def test_fm_score_equals_the_dense_double_sum(Xg, seed):
    rank = 3
    X, groups = Xg
    X = X.multiply(1e-3).tocsr()  # values within +-1, so float32 scores stay well scaled
    d = from_sparse(X, groups=groups)
    rng = np.random.default_rng(seed)
    w0, w, V = rng.normal(), rng.normal(size=X.shape[1]), rng.normal(size=(X.shape[1], rank))
    Xd = d.to_csr().toarray().astype(np.float64)  # the float32-rounded values, exactly
    want = dense_fm(Xd, w0, w, V)
    # float32 arithmetic: error about 1e-6 times the sum of the terms' magnitudes.
    scale = 1.0 + np.abs(Xd) @ np.abs(w) + 0.5 * (np.abs(Xd) @ np.abs(V)).__pow__(2).sum(1)
    tol = 1e-5 * scale
    f32 = [np.float32(w0), w.astype(np.float32), V.astype(np.float32)]
    got = np.asarray(fm_predict(*f32, jnp.asarray(d.indices), jnp.asarray(d.values)))
    assert np.all(np.abs(got - want) <= tol)
    # The prediction path (chunked, batched over draws) and the Gibbs caches agree too.
    params = {k: jnp.asarray(a) for k, a in zip(("w0", "w", "v"), f32, strict=True)}
    draws = PosteriorDraws({k: a[None] for k, a in params.items()}, Gaussian(), PairwiseFM(),
                           jnp.asarray(d.group_of_feature))
    chunks = list(eta_chunks(draws, d.indices, d.values, rows_per_chunk=4))
    assert np.all(np.abs(np.concatenate([np.asarray(e)[0] for _, e in chunks]) - want) <= tol)
    gd = prepare_data(d.indices, d.values, d.group_of_feature, np.zeros(d.n_rows),
                      n_groups=d.n_groups, dtype=np.float32)
    yhat, q = term_for(PairwiseFM(), d.n_groups, rank).predict_cache(params, gd)
    assert np.all(np.abs(np.asarray(yhat) - want) <= tol)
    assert np.all(np.abs(np.asarray(q).T - Xd @ V) <= tol[:, None])


def test_fm_score_is_jit_and_vmap_invariant():
    """The score of one row does not depend on batching (jit, vmap, chunking)."""
    rng = np.random.default_rng(0)
    X = sp.random(50, 20, density=0.2, random_state=1, format="csr")
    d = from_sparse(X)
    w, V = rng.normal(size=20).astype(np.float32), rng.normal(size=(20, 3)).astype(np.float32)
    full = np.asarray(jax.jit(fm_predict)(0.5, w, V, d.indices, d.values))
    rows = np.stack([np.asarray(fm_predict(0.5, w, V, d.indices[i:i + 1], d.values[i:i + 1]))[0]
                     for i in range(50)])
    np.testing.assert_allclose(full, rows, rtol=1e-6, atol=1e-6)
