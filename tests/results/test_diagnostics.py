"""Convergence checks on identifiable quantities."""

import arviz as az
import numpy as np

from bayesfm.results import check_convergence, convergence_summary


def _tree(n_chains, seed=0):
    rng = np.random.default_rng(seed)
    return az.from_dict({"posterior": {
        "w0": rng.normal(size=(n_chains, 400)),
        "tau": np.cumsum(rng.normal(size=(n_chains, 400)), axis=1),   # a random walk
        "v": rng.normal(size=(n_chains, 400, 3, 2)),
    }}, dims={"v": ["feature", "factor"]})


def test_single_chain_is_split_so_r_hat_is_finite():
    problems = check_convergence(_tree(1), warn=False)
    assert [p.split(":")[0] for p in problems] == ["tau"]
    assert "inf" not in problems[0] and "nan" not in problems[0]


def test_raw_v_is_never_judged():
    problems = check_convergence(_tree(2), warn=False)
    assert all(not p.startswith("v") for p in problems)
    assert "v" not in {i.split("[")[0] for i in convergence_summary(_tree(2)).index}
