"""model="ifm" and model="cfm" in every estimator: fit, predict, intervals, save and load.

Plumbing checks on tiny planted problems (the recovery criterion, coverage of held-out
``E[y | x]`` with NUTS on 2,000 rows, is benchmarks/recovery_ifm_cfm.py, too long for the
suite). Each model runs with every likelihood, alternating NUTS and SVI so that both engines
meet both models and every likelihood. A fit must predict the planted ``E[y | x]`` better
than its mean (skill > 0: a model that read the wrong sites or dims scores about 0 or less)
and reload from its file with the same predictions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesfm import BayesianFMClassifier, BayesianFMOrdinal, BayesianFMRegressor, load
from bayesfm.data import simulate_fm

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning",
                                        "ignore:The chains have not converged")

_ENGINE = {"nuts": dict(method="nuts", num_warmup=60, num_samples=60, num_chains=1),
           "svi": dict(method="svi", svi_steps=600, learning_rate=0.03, num_samples=100)}
CASES = [
    ("ifm", "gaussian", "nuts"), ("ifm", "probit", "svi"), ("ifm", "logit", "nuts"),
    ("ifm", "ordinal", "svi"),
    ("cfm", "gaussian", "svi"), ("cfm", "probit", "nuts"), ("cfm", "logit", "svi"),
    ("cfm", "ordinal", "nuts"),
]
#: Run by default: one case per model (the quickest measured). On the shared 2-core host
#: under load (2026-12-03) the cases took 44-149 s each, mostly compilation of the fit, the
#: log likelihood, the predictions and the reload; the others run with --runslow.
_DEFAULT = {("ifm", "logit", "nuts"), ("cfm", "ordinal", "nuts")}
PARAMS = [pytest.param(*c, id="-".join(c), marks=[] if c in _DEFAULT else [pytest.mark.slow])
          for c in CASES]
_OPTIONS = {"ifm": {"hidden_units": [4], "temperature": 1.0}, "cfm": {"channels": 2}}


def _estimator(likelihood: str, **settings):
    if likelihood == "gaussian":
        return BayesianFMRegressor(**settings)
    if likelihood == "ordinal":
        return BayesianFMOrdinal(**settings)
    return BayesianFMClassifier(link=likelihood, **settings)


@pytest.mark.parametrize(("model", "likelihood", "engine"), PARAMS)
def test_fit_predict_intervals_and_reload(model, likelihood, engine, tmp_path):
    task = {"gaussian": "regression", "ordinal": "ordinal"}.get(likelihood, "binary")
    sim = simulate_fm(300, group_sizes=(6, 5, 4), rank=2, task=task, model=model,
                      link="logit" if likelihood == "logit" else "probit",
                      model_options=_OPTIONS[model], seed=1)
    est = _estimator(likelihood, rank=2, model=model, model_options=_OPTIONS[model],
                     random_state=0, progress_bar=False, **_ENGINE[engine])
    est.fit(sim.X[:200], sim.y[:200], groups=sim.groups)
    X_test = sim.X[200:]
    s = est.predict_summary(X_test, prob=0.9)
    if task == "regression":
        truth = sim.eta[200:]
        assert np.allclose(est.predict(X_test), s.mean)
    elif task == "binary":
        truth = sim.prob[200:]
        assert np.allclose(est.predict_proba(X_test)[:, 1], s.mean)
        assert set(np.unique(est.predict(X_test))) <= {0.0, 1.0}
    else:
        truth = sim.prob[200:] @ np.arange(sim.prob.shape[1])
        assert est.predict_proba(X_test).shape == (100, sim.prob.shape[1])
    interval = est.predict_interval(X_test, prob=0.9)
    assert interval.shape == (100, 2) and np.all(interval[:, 0] <= interval[:, 1])
    skill = 1.0 - np.mean((s.mean - truth) ** 2) / np.var(truth)
    assert skill > 0.0, skill
    post = est.idata_["posterior"]
    net = "fen_w0" if model == "ifm" else "conv_w0"
    assert net in post and post[f"lambda_{'fen' if model == 'ifm' else 'conv'}"].ndim == 3
    path = tmp_path / "fit.bayesfm"
    est.save(path)
    back = load(path)
    assert back.get_params()["model_options"] == est.get_params()["model_options"]
    np.testing.assert_array_equal(back.predict_interval(X_test), interval)


@pytest.mark.parametrize(("options", "match"), [
    ({"hidden_units": [0]}, "hidden_units must be positive integers"),
    ({"depth": 2}, r"unknown model_options \['depth'\] for model='ifm'"),
    ("wide", "model_options must be a dict"),
])
def test_bad_model_options_are_refused_before_fitting(options, match):
    sim = simulate_fm(30, group_sizes=(3, 2), rank=1, seed=0)
    est = BayesianFMRegressor(method="svi", model="ifm", model_options=options)
    with pytest.raises((ValueError, TypeError), match=match):
        est.fit(sim.X, sim.y, groups=sim.groups)
    assert not hasattr(est, "idata_")


@pytest.mark.parametrize("model", ["ifm", "cfm"])
def test_the_default_gibbs_engine_refuses_network_models(model):
    sim = simulate_fm(30, group_sizes=(3, 2), rank=1, seed=0)
    with pytest.raises(ValueError, match=r"method='gibbs' has no sampler .* use method='nuts'"):
        BayesianFMRegressor(model=model).fit(sim.X, sim.y, groups=sim.groups)


def test_cfm_refuses_a_multi_hot_column():
    X = pd.DataFrame({"user": pd.Categorical(["a", "b", "a"]),
                      "tags": [["x", "y"], ["y"], ["x"]]})
    est = BayesianFMRegressor(method="svi", model="cfm")
    with pytest.raises(ValueError, match="model='cfm' needs one-hot fields, but field 'tags'"):
        est.fit(X, [1.0, 2.0, 3.0])
