"""Gibbs with relation blocks: the same model as the materialised design, drawn exactly."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from bayesfm.data import from_sparse
from bayesfm.data.relations import (
    implicit_item_users,
    implicit_user_items,
    materialize,
    relation_from_sparse,
)
from bayesfm.engines.gibbs import FMGibbs, init, prepare_data, run_gibbs, step
from bayesfm.engines.gibbs.relations import (
    relation_columns,
    relation_noise_size,
    relation_scores,
)
from bayesfm.model import fm_predict
from tests._helpers import gibbs_parts

N_USERS, N_ITEMS, RANK = 25, 15, 3


def _problem(n_rows=300, seed=0, n_test=0):
    """User/item one-hot rows, implicit user and item sets, and a side table per user."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, N_USERS, n_rows + n_test)
    items = rng.integers(0, N_ITEMS, n_rows + n_test)
    tr = slice(0, n_rows)
    by_user = implicit_user_items(users[tr], items[tr], N_USERS, N_ITEMS)
    by_item = implicit_item_users(items[tr], users[tr], N_ITEMS, N_USERS)
    side = sp.random(N_USERS, 4, density=0.5, random_state=seed, format="csr")
    side.data = np.round(side.data * 3, 2) + 0.5

    def rels(rows):
        return [by_user.with_index(users[rows]), by_item.with_index(items[rows]),
                relation_from_sparse(users[rows], side, name="side")]

    def onehot(rows):
        return sp.hstack([sp.eye(N_USERS, format="csr")[users[rows]],
                          sp.eye(N_ITEMS, format="csr")[items[rows]]], format="csr")

    X = onehot(tr)
    relations = rels(tr)
    full = materialize(X, relations, group_sizes=[N_USERS, N_ITEMS])
    row = from_sparse(X, group_sizes=[N_USERS, N_ITEMS])
    te = slice(n_rows, n_rows + n_test)
    return dict(row=row, full=full, relations=relations, gof=full.group_of_feature,
                n_groups=full.n_groups, test_row=from_sparse(onehot(te)) if n_test else None,
                test_relations=rels(te) if n_test else None,
                test_full=materialize(onehot(te), rels(te)) if n_test else None)


def _random_params(p, seed=1):
    rng = np.random.default_rng(seed)
    return {"w0": jnp.asarray(0.3, jnp.float32),
            "w": jnp.asarray(rng.normal(size=p), jnp.float32),
            "v": jnp.asarray(rng.normal(size=(p, RANK)), jnp.float32)}


def test_same_draw_same_prediction_as_the_materialised_design():
    # Float32 sums of at most ~40 products of O(1) terms: rounding stays near 1e-6, so a
    # relative 1e-5 separates exact agreement from any wrong term (which is O(1)).
    pr = _problem()
    y = np.zeros(pr["row"].n_rows)
    params = _random_params(pr["full"].n_features)
    parts = gibbs_parts(n_groups=pr["n_groups"], rank=RANK)
    d_rel = prepare_data(pr["row"].indices, pr["row"].values, pr["gof"], y,
                         n_groups=pr["n_groups"], relations=pr["relations"])
    s = init(jax.random.key(0), d_rel, params=params, **parts)
    expected = fm_predict(params["w0"], params["w"], params["v"], pr["full"].indices,
                          pr["full"].values)
    scale = float(jnp.max(jnp.abs(expected)))
    np.testing.assert_allclose(-s.e / scale, expected / scale, atol=1e-5)
    scores = relation_scores(params, pr["row"].indices, pr["row"].values, d_rel.relations)
    np.testing.assert_allclose(scores / scale, expected / scale, atol=1e-5)
    q = pr["full"].to_csr() @ np.asarray(params["v"])
    np.testing.assert_allclose(s.q, q.T, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("likelihood", ["gaussian", "probit", "ordinal"])
def test_sweeps_keep_the_caches_exact(likelihood):
    pr = _problem()
    rng = np.random.default_rng(2)
    n_classes = 4 if likelihood == "ordinal" else None
    y = {"gaussian": rng.normal(size=300), "probit": rng.integers(0, 2, 300).astype(float),
         "ordinal": rng.integers(0, 4, 300).astype(float)}[likelihood]
    weight = rng.uniform(0.5, 2.0, 300) if likelihood == "gaussian" else None
    parts = gibbs_parts(likelihood, n_groups=pr["n_groups"], rank=RANK, n_classes=n_classes)
    data = prepare_data(pr["row"].indices, pr["row"].values, pr["gof"], y,
                        n_groups=pr["n_groups"], relations=pr["relations"],
                        sample_weight=weight)
    s = init(jax.random.key(0), data, **parts)
    for _ in range(8):
        s = step(s, data, **parts)
    p = s.params
    yhat = fm_predict(p["w0"], p["w"], p["v"], pr["full"].indices, pr["full"].values)
    # The caches are updated incrementally in float32 over 8 sweeps: 2e-4 is ~100 ulps of
    # the O(1) scores, while any missed update moves them by O(0.1) or more.
    np.testing.assert_allclose(parts["latent"].yhat(s, data), yhat, atol=2e-4)
    np.testing.assert_allclose(s.q, (pr["full"].to_csr() @ np.asarray(p["v"])).T, atol=2e-4)
    assert np.all(np.isfinite(np.asarray(p["v"])))


def test_relation_draws_are_the_exact_sequential_conditionals():
    """Draw for draw: each feature's (w_j, v_j) is the conditional given the rows, in turn.

    A float64 NumPy reference recomputes, for every relation feature in the sweep's order,
    ``h_i = x_ij (1, q_i - x_ij v_j)`` on the materialised rows and the Gaussian conditional
    ``N(P^-1 b, P^-1)``, applying the same standard normals. Agreement to 1e-3 (float32 sweep,
    conditionals of precision O(10-100)) is only possible if every conditional is exact.
    """
    pr = _problem(n_rows=120)
    rng = np.random.default_rng(3)
    y = rng.normal(size=120)
    a = rng.uniform(0.5, 2.0, 120)
    params = _random_params(pr["full"].n_features, seed=4)
    params = {k: v * 0.5 for k, v in params.items()}
    data = prepare_data(pr["row"].indices, pr["row"].values, pr["gof"], y,
                        n_groups=pr["n_groups"], relations=pr["relations"], sample_weight=a)
    parts = gibbs_parts(n_groups=pr["n_groups"], rank=RANK)
    s = init(jax.random.key(0), data, params=params, **parts)
    width = RANK + 1
    lam = jnp.asarray(rng.uniform(1.0, 3.0, (pr["n_groups"], width)), jnp.float32)
    mu = jnp.asarray(rng.normal(0, 0.3, (pr["n_groups"], width)), jnp.float32)
    tau = jnp.asarray(1.7, jnp.float32)
    noise = jax.random.normal(jax.random.key(5), (relation_noise_size(data.relations, width),))
    theta = jnp.concatenate([params["w"][:, None], params["v"]], axis=1)
    got, e_new, q_new = relation_columns(theta, s.e, s.q, data.weight, data.relations,
                                         data.group_of_feature, lam, mu, tau, noise)

    X = pr["full"].to_csr().toarray().astype(np.float64)
    th = np.asarray(theta, np.float64)
    z = np.asarray(noise, np.float64).reshape(-1, width)
    gof = np.asarray(pr["gof"])
    first = pr["row"].n_features
    for t, j in enumerate(range(first, pr["full"].n_features)):  # the sweep's order
        v = th[:, 1:]
        q = X @ v
        yhat = 0.3 * 0.5 + X @ th[:, 0] + 0.5 * np.sum(q * q - (X * X) @ (v * v), axis=1)
        e = y - yhat
        x = X[:, j]
        h = x[:, None] * np.concatenate([np.ones((120, 1)), q - x[:, None] * v[j]], axis=1)
        lj, mj = np.asarray(lam[gof[j]], np.float64), np.asarray(mu[gof[j]], np.float64)
        prec = np.diag(lj) + float(tau) * (h * a[:, None]).T @ h
        rhs = lj * mj + float(tau) * (h * a[:, None]).T @ (e + h @ th[j])
        chol = np.linalg.cholesky(prec)
        th[j] = np.linalg.solve(chol.T, np.linalg.solve(chol, rhs) + z[t])
    np.testing.assert_allclose(np.asarray(got), th, atol=1e-3, rtol=1e-3)
    v = th[:, 1:]
    q = X @ v
    yhat = 0.15 + X @ th[:, 0] + 0.5 * np.sum(q * q - (X * X) @ (v * v), axis=1)
    np.testing.assert_allclose(e_new, y - yhat, atol=1e-3)
    np.testing.assert_allclose(q_new, q.T, atol=1e-3)


def _test_predictions(draws, pr):
    data = prepare_data(pr["test_row"].indices, pr["test_row"].values, pr["gof"],
                        np.zeros(pr["test_row"].n_rows), n_groups=pr["n_groups"],
                        relations=pr["test_relations"])
    score = jax.jit(jax.vmap(lambda p: relation_scores(p, pr["test_row"].indices,
                                                       pr["test_row"].values, data.relations)))
    return np.stack([np.asarray(score({k: draws[k][c] for k in ("w0", "w", "v")}))
                     for c in range(draws["w0"].shape[0])])  # (chain, draw, row)


def _batch_means(x, n_batches=20):
    """Posterior mean and its Monte Carlo standard error from batch means, per row."""
    flat = [c[: c.shape[0] // n_batches * n_batches] for c in x]
    means = np.concatenate([f.reshape(n_batches, -1, f.shape[-1]).mean(1) for f in flat])
    return means.mean(0), means.std(0, ddof=1) / np.sqrt(means.shape[0])


@pytest.mark.slow
def test_posterior_agrees_with_the_materialised_design():
    """Posterior means of held-out predictions agree within Monte Carlo error.

    Two samplers of one posterior (relation blocks, blocked Gibbs on the materialised rows)
    give means whose difference is Normal with sd ``sqrt(mcse_a^2 + mcse_b^2)`` (batch
    means over 2 chains x 20 batches); 4.5 sd on each of 40 rows keeps a false alarm below
    1e-3 for the fixed seed, while a wrong conditional (say, a missing cross term) shifts
    the means by many sd. The sds of the predictions are compared the same loose way.
    """
    pr = _problem(n_rows=300, n_test=40, seed=6)
    rng = np.random.default_rng(7)
    truth = _random_params(pr["full"].n_features, seed=8)
    y = np.asarray(fm_predict(truth["w0"], 0.3 * truth["w"], 0.3 * truth["v"],
                              pr["full"].indices, pr["full"].values)) + rng.normal(0, 0.5, 300)
    common = dict(n_groups=pr["n_groups"], rank=RANK, num_warmup=300, num_samples=2000,
                  num_chains=2, progress_bar=False)
    rel = run_gibbs(pr["row"].indices, pr["row"].values, pr["gof"], y, **common,
                    rng_key=jax.random.key(0), relations=pr["relations"])
    mat = run_gibbs(pr["full"].indices, pr["full"].values, pr["gof"], y, **common,
                    rng_key=jax.random.key(1))
    m_rel, se_rel = _batch_means(_test_predictions(rel, pr))
    m_mat, se_mat = _batch_means(_test_predictions(mat, pr))
    z = (m_rel - m_mat) / np.sqrt(se_rel**2 + se_mat**2)
    assert np.max(np.abs(z)) < 4.5, (np.max(np.abs(z)), m_rel[:5], m_mat[:5])
    sd_rel = _test_predictions(rel, pr).std(axis=(0, 1))
    sd_mat = _test_predictions(mat, pr).std(axis=(0, 1))
    np.testing.assert_allclose(sd_rel, sd_mat, rtol=0.25)
    np.testing.assert_allclose(rel["tau"].mean(), mat["tau"].mean(), rtol=0.1)


def test_errors_name_what_is_unsupported():
    pr = _problem(n_rows=60)
    y = np.zeros(60)
    data = (pr["row"].indices, pr["row"].values, pr["gof"])
    for model in ("ffm", "fm3"):
        interaction, degree = ("ffm", 2) if model == "ffm" else ("fm", 3)
        with pytest.raises(NotImplementedError, match="plain FM"):
            FMGibbs(data, y, rank=2, interaction=interaction, degree=degree,
                    relations=pr["relations"])
    with pytest.raises(NotImplementedError, match="rescale groups"):
        FMGibbs(data, y, rank=2, moves="groups", relations=pr["relations"])
    short = [r.with_index(r.index[:30]) for r in pr["relations"]]
    with pytest.raises(ValueError, match="indexes 30 rows, but the design has 60"):
        FMGibbs(data, y, rank=2, relations=short)
