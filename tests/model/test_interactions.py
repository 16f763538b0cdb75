"""Interaction terms: field-aware and degree-3 scores against dense loops; the model's sites."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import Predictive

from bayesfm.engines import FitProblem
from bayesfm.model import (
    Degree3FM,
    FieldAwareFM,
    PairwiseFM,
    anova3,
    ffm_pairwise,
    fm_model,
    fm_score,
    get_interaction,
    get_likelihood,
)
from tests._model_helpers import dense_degree3, dense_ffm, random_design


def _score(interaction, w0, w, v, d, v3=None):  # noqa: ANN001, ANN202
    """fm_score of one draw with the named interaction term (v3 for degree 3)."""
    params = {"w0": w0, "w": jnp.asarray(w), "v": jnp.asarray(v)}
    if v3 is not None:
        params["v3"] = jnp.asarray(v3)
    return fm_score(params, interaction, d.indices, d.values, d.group_of_feature)


@pytest.mark.parametrize("seed", [0, 1])
def test_ffm_score_equals_dense_pair_loops(x64, seed):
    X, d = random_design(30, [4, 5, 3], seed)
    rng = np.random.default_rng(seed + 10)
    p, n_groups = d.n_features, d.n_groups
    w0, w, v = 0.3, rng.normal(size=p), rng.normal(size=(p, n_groups, 3))
    got = _score(FieldAwareFM(), w0, w, v, d)
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
    got = _score(Degree3FM(), w0, w, v, d, v3=v3)
    want = dense_degree3(w0, w, v, v3, X.toarray())
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_ffm_with_one_vector_per_feature_is_the_plain_fm(x64):
    # If v[i, h] does not depend on h, the field-aware FM reduces to the plain FM.
    X, d = random_design(20, [3, 4], 2)
    v = np.random.default_rng(0).normal(size=(d.n_features, 2))
    ffm = ffm_pairwise(jnp.asarray(np.repeat(v[:, None], 2, axis=1)), d.group_of_feature,
                       d.indices, d.values)
    fm = _score(PairwiseFM(), 0.0, jnp.zeros(d.n_features), v, d)
    np.testing.assert_allclose(ffm, fm, rtol=1e-10, atol=1e-12)
    assert float(jnp.max(jnp.abs(anova3(jnp.zeros((d.n_features, 2)), d.indices,
                                        d.values)))) == 0.0


def test_variant_model_sites_have_the_documented_shapes():
    idx = np.array([[0, 2, 4], [1, 3, 4]])
    val = np.ones((2, 3), np.float32)
    gof = np.array([0, 0, 1, 1, 2])
    ffm = Predictive(fm_model, num_samples=2)(
        jax.random.key(0), idx, val, gof, n_groups=3, rank=2, interaction="ffm")
    assert ffm["v"].shape == (2, 5, 3, 2) and ffm["mu_v"].shape == (2, 3, 3, 2)
    hofm = Predictive(fm_model, num_samples=2)(
        jax.random.key(0), idx, val, gof, n_groups=3, rank=2, degree=3)
    assert hofm["v"].shape == (2, 5, 2) and hofm["v3"].shape == (2, 5, 2)
    assert hofm["lambda_v3"].shape == (2, 3, 2)


LIKELIHOODS = ["gaussian", "probit", "logit", "ordinal"]
TERMS = [("fm", 2), ("ffm", 2), ("fm", 3)]


@pytest.mark.parametrize("likelihood", LIKELIHOODS)
@pytest.mark.parametrize(("model", "degree"), TERMS, ids=["fm", "ffm", "fm3"])
def test_prior_predictive_has_the_promised_sites_and_shapes(likelihood, model, degree):
    """Every likelihood x term: the sites of ``FitProblem.sites()``, shaped as promised.

    Ordinal x FFM and ordinal x degree 3 are new with the one model: nothing else checks that
    the model builds them.
    """
    n_rows, n_draws, rank, n_classes = 6, 3, 2, 4
    _, d = random_design(n_rows, [2, 3, 2], seed=5)
    p, n_groups = d.n_features, d.n_groups
    lik = get_likelihood(likelihood, n_classes=n_classes if likelihood == "ordinal" else None)
    term = get_interaction(model, degree)
    problem = FitProblem(d, np.zeros(n_rows), lik, term, rank)
    # parallel=True vmaps over the draws op by op: the dozen combinations share most of the
    # small compiled ops, where lax.map would compile one whole program per combination.
    draws = Predictive(fm_model, num_samples=n_draws, parallel=True)(
        jax.random.key(0), d.indices, d.values, d.group_of_feature, **problem.model_kwargs())
    want = {"w0": (), "w": (p,), "mu_w": (n_groups,), "lambda_w": (n_groups,),
            **term.site_shapes(p, n_groups, rank)}
    if likelihood == "gaussian":
        want["tau"] = ()
    if likelihood == "ordinal":
        want["cutpoints"] = (n_classes - 1,)
    assert set(want) == set(problem.sites())  # the test's own table is the promise
    extra = {"y"} | ({"cut_gaps"} if likelihood == "ordinal" else set())  # cut_gaps: internal
    assert set(draws) == set(problem.sites()) | extra
    assert {k: draws[k].shape for k in want} == {k: (n_draws, *s) for k, s in want.items()}
    y = np.asarray(draws["y"])
    assert y.shape == (n_draws, n_rows) and np.all(np.isfinite(y))
    if likelihood in ("probit", "logit"):
        assert set(np.unique(y)) <= {0, 1}
    if likelihood == "ordinal":
        assert set(np.unique(y)) <= set(range(n_classes))
        cut = np.asarray(draws["cutpoints"])
        assert np.all(cut[:, 0] == 0.0) and np.all(np.diff(cut, axis=1) > 0)
