"""The vectorised R-hat, ESS and MCSE agree with arviz-stats on the same draws.

bayesfm computes the diagnostics of every identifiable quantity in one pass
(:mod:`bayesfm.results.convergence`); arviz-stats, the reference, loops over them. Both run
in float64 and differ only in the order of a few sums, so they agree to far better than the
1e-6 asserted here.
"""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr

from bayesfm.results import convergence_summary
from bayesfm.results.convergence import (
    ess_bulk,
    ess_mean,
    ess_tail,
    mcse_mean,
    mcse_sd,
    rhat_rank,
)


def _ar1(n_chains: int, n_draws: int, rhos: np.ndarray, seed: int) -> np.ndarray:
    """AR(1) chains, one column per autocorrelation in ``rhos``, chains offset a little."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_chains, n_draws, rhos.size))
    out[:, 0] = rng.normal(size=(n_chains, rhos.size))
    for t in range(1, n_draws):
        out[:, t] = rhos * out[:, t - 1] + rng.normal(size=(n_chains, rhos.size))
    return out + rng.normal(0.0, 0.3, size=(n_chains, 1, rhos.size))


def _reference(draws: np.ndarray) -> dict[str, np.ndarray]:
    ds = xr.Dataset({"x": (("chain", "draw", "k"), draws)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "rhat": az.rhat(ds)["x"].values,
            "bulk": az.ess(ds, method="bulk")["x"].values,
            "tail": az.ess(ds, method="tail")["x"].values,
            "mean": az.ess(ds, method="mean")["x"].values,
            "mcse_mean": az.mcse(ds, method="mean")["x"].values,
            "mcse_sd": az.mcse(ds, method="sd")["x"].values,
        }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("n_chains", "n_draws"), [(4, 200), (2, 7), (3, 6), (1, 101), (2, 5)])
def test_every_diagnostic_agrees_with_arviz(n_chains, n_draws, dtype):
    # float32 draws (what fits store) are folded and centred in float32 by arviz-stats: its
    # ties then differ from float64's, so both dtypes are checked.
    rhos = np.array([0.0, 0.5, 0.9, 0.99, -0.3])
    draws = _ar1(n_chains, n_draws, rhos, seed=n_draws).astype(dtype)
    # Ties and constants, which rank normalisation and ESS treat specially.
    draws = np.concatenate([draws, np.round(draws[..., :1]), np.full_like(draws[..., :1], 2.0)],
                           axis=2)
    ref = _reference(draws)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        mine = {"rhat": rhat_rank(draws), "bulk": ess_bulk(draws), "tail": ess_tail(draws),
                "mean": ess_mean(draws), "mcse_mean": mcse_mean(draws),
                "mcse_sd": mcse_sd(draws)}
    for key, value in mine.items():
        np.testing.assert_allclose(value, ref[key], rtol=1e-6, atol=1e-9, equal_nan=True,
                                   err_msg=f"{key} {np.dtype(dtype).name}")


def test_many_columns_at_once_match_one_column_at_a_time():
    draws = _ar1(2, 300, np.linspace(-0.5, 0.98, 400), seed=1)
    together = ess_bulk(draws)
    alone = np.array([ess_bulk(draws[..., j:j + 1])[0] for j in range(0, 400, 37)])
    np.testing.assert_allclose(together[::37], alone, rtol=1e-12)


def test_summary_equals_arviz_summary():
    rng = np.random.default_rng(3)
    post = {"w0": _ar1(2, 120, np.array([0.7]), 0)[..., 0].astype(np.float32),
            "w": _ar1(2, 120, np.array([0.1, 0.8, 0.95]), 1),
            "v": rng.normal(size=(2, 120, 3, 2))}
    dt = az.from_dict({"posterior": post}, dims={"w": ["feature"], "v": ["feature", "factor"]},
                      coords={"feature": ["a", "b", "c"]})
    mine = convergence_summary(dt, ci_prob=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.summary(dt["posterior"].to_dataset()[["w0", "w"]], ci_prob=0.9,
                         round_to="none")
    assert list(mine.index) == list(ref.index) and list(mine.columns) == list(ref.columns)
    np.testing.assert_allclose(mine.to_numpy(float), ref.to_numpy(float), rtol=1e-6)
