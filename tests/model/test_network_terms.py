"""The input-aware and convolutional FMs: scores against the papers' equations written out.

The references (tests/_model_helpers.py: ``dense_ifm``, ``dense_cfm``) are explicit loops in
float64 NumPy over rows, fields, pairs and kernel offsets, sharing no code with bayesfm; the
scores are computed in float32, as fits run, and must agree to 1e-5 (relative and absolute:
float32 carries 7 digits, and the scores are sums of a few dozen terms of order 1).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
import scipy.sparse as sp

from bayesfm.data import from_sparse
from bayesfm.engines import check_supported
from bayesfm.model import fm_model, fm_score, get_interaction, get_likelihood
from tests._model_helpers import dense_cfm, dense_ifm, random_design


def _draw(term, d, rank, seed, scale=0.7):  # noqa: ANN001, ANN202
    """Random float32 values for every site the score reads."""
    rng = np.random.default_rng(seed)
    shapes = term.site_shapes(d.n_features, d.n_groups, rank)
    names = term.score_sites(d.n_groups, rank)
    params = {n: rng.normal(0.0, scale, size=shapes[n]).astype(np.float32) for n in names}
    params["w"] = rng.normal(size=d.n_features).astype(np.float32)
    params["w0"] = np.float32(0.3)
    return params


def _score32(term, params, d):  # noqa: ANN001, ANN202
    return np.asarray(fm_score({k: jnp.asarray(a) for k, a in params.items()}, term,
                               jnp.asarray(d.indices), jnp.asarray(d.values, jnp.float32),
                               jnp.asarray(d.group_of_feature), d.n_groups))


def _one_hot_design(n_rows, sizes, seed, values="real"):  # noqa: ANN001, ANN202
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cols = np.stack([o + rng.integers(0, s, n_rows) for o, s in zip(offsets, sizes,
                                                                     strict=True)], 1)
    vals = rng.normal(size=cols.shape) if values == "real" else np.ones(cols.shape)
    X = sp.csr_matrix((vals.ravel(), cols.ravel(), np.arange(0, cols.size + 1, len(sizes))),
                      shape=(n_rows, sum(sizes)))
    return X, from_sparse(X, group_sizes=sizes)


@pytest.mark.parametrize(("hidden", "temperature", "seed"),
                         [((6,), 1.0, 0), ((5, 3), 0.5, 1), ((), 2.0, 2)])
def test_ifm_score_equals_the_papers_equations(hidden, temperature, seed):
    # Multi-hot rows with real values and empty fields: the general case of the term.
    X, d = random_design(30, [4, 5, 3], seed)
    d = from_sparse(X.astype(np.float32), group_sizes=[4, 5, 3])
    term = get_interaction("ifm", options={"hidden_units": hidden, "temperature": temperature})
    params = _draw(term, d, 3, seed + 10)
    got = _score32(term, params, d)
    p64 = {k: np.asarray(a, np.float64) for k, a in params.items()}
    net = {k: a for k, a in p64.items() if k.startswith("fen_")}
    want = dense_ifm(float(p64["w0"]), p64["w"], p64["v"], net, hidden, temperature,
                     d.group_of_feature, X.toarray().astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.ptp(want) > 1.0  # the rows differ: the check is not vacuous


def test_ifm_at_a_high_temperature_is_the_plain_fm():
    # t -> infinity: every factor -> 1, the FM on the raw inputs.
    X, d = random_design(20, [3, 4], 3)
    d = from_sparse(X.astype(np.float32), group_sizes=[3, 4])
    term = get_interaction("ifm", options={"temperature": 1e7})
    params = _draw(term, d, 2, 4)
    fm = get_interaction("fm")
    np.testing.assert_allclose(_score32(term, params, d), _score32(fm, params, d),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("sizes", "rank", "channels", "seed"),
                         [((4, 3, 5), 3, 2, 0), ((3, 3, 2, 4), 4, 3, 1), ((5, 2), 2, 1, 2)])
def test_cfm_score_equals_the_papers_equations(sizes, rank, channels, seed):
    # Odd cube axes (3 pairs, rank 3) exercise the zero padding; 6 pairs x 4 x 4 three layers.
    X, d = _one_hot_design(25, sizes, seed)
    term = get_interaction("cfm", options={"channels": channels})
    params = _draw(term, d, rank, seed + 10, scale=1.0)
    got = _score32(term, params, d)
    p64 = {k: np.asarray(a, np.float64) for k, a in params.items()}
    net = {k: a for k, a in p64.items() if k.startswith("conv_")}
    want = dense_cfm(float(p64["w0"]), p64["w"], p64["v"], net, d.group_of_feature,
                     X.toarray().astype(np.float32).astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert np.ptp(want - (0.3 + X.toarray() @ p64["w"])) > 0.1  # the network contributes


def _prior_draw(idx, val, gof, term):  # noqa: ANN001, ANN202
    """One prior draw of every site (a trace, not Predictive: no compilation)."""
    model = numpyro.handlers.seed(fm_model, 0)
    tr = numpyro.handlers.trace(model).get_trace(idx, val, gof, n_groups=3, rank=2,
                                                 interaction=term)
    return {k: site["value"] for k, site in tr.items() if site["type"] == "sample"}


def test_network_sites_have_labelled_layer_dims_and_per_layer_precisions():
    idx = np.array([[0, 2, 4], [1, 3, 4]])
    val = np.ones((2, 3), np.float32)
    gof = np.array([0, 0, 1, 1, 2])
    ifm = get_interaction("ifm", options={"hidden_units": [4, 3]})
    draws = _prior_draw(idx, val, gof, ifm)
    assert draws["fen_w0"].shape == (3, 2, 4) and draws["fen_b1"].shape == (3,)
    assert draws["fen_w2"].shape == (3, 3) and draws["lambda_fen"].shape == (3,)
    dims = ifm.site_dims(3, 2)
    assert dims["fen_w0"] == ["group", "factor", "fen_unit0"]
    assert dims["fen_w2"] == ["fen_unit1", "out_group"] and dims["lambda_fen"] == ["fen_layer"]
    # The model samples what site_shapes declares (the same NetworkSite list), so the CFM's
    # shapes are read off the declaration; a model run is one more minute on a busy host.
    shapes = get_interaction("cfm").site_shapes(n_features=5, n_groups=3, rank=2)
    cfm = get_interaction("cfm")
    # 3 pairs x 2 x 2 -> (2, 1, 1) -> (1, 1, 1): two layers and the read-out.
    assert shapes["conv_w0"] == (2, 2, 2, 1, 4) and shapes["conv_w1"] == (2, 1, 1, 4, 4)
    assert shapes["conv_out"] == (4,) and shapes["lambda_conv"] == (3,)
    assert cfm.site_dims(3, 2)["conv_w1"][-2:] == ["conv_channel0", "conv_channel1"]


@pytest.mark.parametrize(("model", "options", "error", "match"), [
    ("ifm", {"hidden_units": [0]}, ValueError, "hidden_units must be positive integers"),
    ("ifm", {"hidden_units": "16"}, TypeError, "hidden_units must be a sequence"),
    ("ifm", {"temperature": -1.0}, ValueError, "temperature must be a finite number > 0"),
    ("ifm", {"temperature": float("inf")}, ValueError, "temperature must be a finite"),
    ("ifm", {"channels": 4}, ValueError, r"unknown model_options \['channels'\] for "
     r"model='ifm'; valid: hidden_units, temperature"),
    ("cfm", {"channels": 0}, ValueError, "channels must be a positive integer"),
    ("cfm", {"channels": 2.5}, ValueError, "channels must be a positive integer"),
    ("fm", {"hidden_units": [4]}, ValueError, "model='fm' takes no model_options"),
    ("ifm", [("temperature", 1.0)], TypeError, "model_options must be a dict"),
])
def test_bad_options_raise_errors_that_name_them(model, options, error, match):
    with pytest.raises(error, match=match):
        get_interaction(model, options=options)


def test_cfm_refuses_multi_hot_fields_and_single_field_designs():
    X = sp.csr_matrix(np.array([[1.0, 0, 1, 0], [1.0, 1, 0, 1]]))
    d = from_sparse(X, group_sizes=[2, 2], group_names=["user", "item"])
    cfm = get_interaction("cfm")
    with pytest.raises(ValueError, match="field 'user' has 2 nonzero features in row 1"):
        cfm.check_rows(d.indices, d.values, d.group_of_feature, d.group_names)
    with pytest.raises(ValueError, match="at least 2 fields"):
        cfm.check_rows(d.indices[:, :1], d.values[:, :1], np.zeros(4, int), ["all"])
    get_interaction("ifm").check_rows(d.indices, d.values, d.group_of_feature, d.group_names)


@pytest.mark.parametrize("model", ["ifm", "cfm"])
def test_gibbs_refuses_network_terms_naming_the_engines_that_fit_them(model):
    with pytest.raises(ValueError, match=f"no sampler for the '{model}' interaction term.*"
                                         "use method='nuts' or 'svi'"):
        check_supported(get_likelihood("probit"), get_interaction(model), "gibbs", "draws")
    check_supported(get_likelihood("probit"), get_interaction(model), "nuts", "draws")
