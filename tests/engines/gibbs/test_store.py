"""What a Gibbs run keeps: every draw, thinned draws, moments (bayesfm.engines.store)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from bayesfm.engines.gibbs import FMGibbs, keep_plan, run_gibbs
from bayesfm.model import fm_predict
from tests._helpers import simulate

# Short chains on purpose: these tests compare draws, not posteriors.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# 25 post-warmup sweeps: with thinning 3, MCMC's kept sweeps start at an offset (25 % 3 = 1).
WARMUP, SAMPLES, THIN = 7, 25, 3
SMALL_SITES = ("w0", "mu_w", "lambda_w", "mu_v", "lambda_v", "log_likelihood")


@pytest.fixture(scope="module")
def problem():
    d, eta, rng = simulate(80, [6, 5], 3)
    return d, eta + rng.normal(0.0, 0.5, eta.shape)


def _run(problem, likelihood="gaussian", **kw):
    d, y = problem
    if likelihood == "probit":
        y = (y > np.median(y)).astype(np.float64)
    kw = {"num_warmup": WARMUP, "num_samples": SAMPLES, "num_chains": 2, **kw}
    return run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=2, rank=3,
                     likelihood=likelihood, rng_key=jax.random.key(5), progress_bar=False, **kw)


@pytest.fixture(scope="module")
def full(problem):
    return _run(problem)


@pytest.fixture(scope="module")
def thinned(problem):
    return _run(problem, thinning=THIN)


def _scores(design, rows, draws):
    f = jax.vmap(jax.vmap(lambda w0, w, v: fm_predict(w0, w, v, design.indices[rows],
                                                      design.values[rows])))
    return np.asarray(f(draws["w0"], draws["w"], draws["v"]))


def test_thinned_draws_are_every_t_th_draw_of_the_full_run(full, thinned):
    # MCMC keeps sweeps offset + m * t - 1 (m >= 1), offset = num_samples % t.
    pick = np.arange(SAMPLES % THIN + THIN - 1, SAMPLES, THIN)
    assert thinned["v"].shape[:2] == (2, SAMPLES // THIN) and pick.size == SAMPLES // THIN
    for name, draws in thinned.items():
        np.testing.assert_array_equal(draws, full[name][:, pick], err_msg=name)


def test_moments_mode_runs_the_same_chain_and_its_moments_match_every_sweep(
        problem, full, thinned):
    ref = np.array([0, 5, 79])
    mom = _run(problem, thinning=THIN, store="moments", max_kept=3, ref_rows=ref)
    assert "w" not in mom and "v" not in mom
    # Same seed, same chain: the small sites are the thinned run's draws bit for bit.
    for name in (*SMALL_SITES, "tau"):
        np.testing.assert_array_equal(mom[name], thinned[name], err_msg=name)
    # The moments run over every post-warmup sweep, whatever the thinning. Welford in float32
    # over 25 draws of values O(1) agrees with float64 NumPy to a few ulps; a missed or
    # doubled sweep would move a mean by ~ sd / 25 (about 1e-2 here), far above 1e-5.
    m = mom["posterior_moments"]
    np.testing.assert_array_equal(m["n_sweeps"], [SAMPLES, SAMPLES])
    for name in ("w", "v"):
        draws = full[name].astype(np.float64)
        np.testing.assert_allclose(m[f"{name}_mean"], draws.mean(1), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(m[f"{name}_var"], draws.var(1), rtol=1e-4, atol=1e-6)
    # Kept prediction draws: at most 3, evenly spread, among the thinned draws, the last
    # sweep included.
    kept = mom["prediction_draws"]
    # The 8 thinned draws are sweeps 3, 6, ..., 24; every third of them from the end is kept.
    np.testing.assert_array_equal(kept["draw"], [6, 15, 24])
    for name in ("w0", "w", "v", "tau"):
        np.testing.assert_array_equal(kept[name], full[name][:, kept["draw"]], err_msg=name)
    # eta_ref is every draw's score of the reference rows, from the cached residuals.
    np.testing.assert_allclose(mom["eta_ref"], _scores(problem[0], ref, thinned), atol=1e-4)


def test_probit_single_chain_moments(problem):
    full = _run(problem, "probit", num_chains=1)
    mom = _run(problem, "probit", num_chains=1, store="moments", max_kept=100, ref_rows=[2, 3])
    for name in SMALL_SITES:
        np.testing.assert_array_equal(mom[name], full[name], err_msg=name)
    assert "tau" not in mom and "tau" not in mom["prediction_draws"]
    # One chain still has a chain dimension; max_kept above num_samples keeps every sweep.
    np.testing.assert_array_equal(mom["prediction_draws"]["v"], full["v"])
    assert mom["posterior_moments"]["v_mean"].shape == (1, 11, 3)
    np.testing.assert_allclose(mom["posterior_moments"]["v_var"],
                               full["v"].astype(np.float64).var(1), rtol=1e-4, atol=1e-6)
    # Probit scores come from the latent utilities: z - e.
    np.testing.assert_allclose(mom["eta_ref"], _scores(problem[0], [2, 3], full), atol=1e-4)


@pytest.mark.parametrize(("num_samples", "thinning", "max_kept"),
                         [(25, 3, 3), (11, 2, 5), (10, 1, 5), (1000, 7, 100), (5, 1, 9)])
def test_keep_plan_spreads_at_most_max_kept_among_the_stored_draws(num_samples, thinning,
                                                                   max_kept):
    stride, first, n_keep = keep_plan(num_samples, thinning, max_kept)
    kept = first + stride * np.arange(n_keep)
    stored = np.arange(num_samples % thinning + thinning - 1, num_samples, thinning)
    assert 1 <= n_keep <= max_kept and kept[-1] == num_samples - 1
    assert set(kept) <= set(stored) and stride % thinning == 0
    # The spacing is the smallest that fits: one stored draw closer would keep too many.
    every = stride // thinning
    assert every == 1 or (stored.size - 1) // (every - 1) + 1 > max_kept


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"store": "all"}, "store"),
    ({"store": "moments", "num_samples": None}, "num_samples"),
    ({"store": "moments", "num_samples": 10, "max_kept": 0}, "max_kept"),
    ({"store": "moments", "num_samples": 10, "thinning": -1}, "thinning"),
    ({"store": "moments", "num_samples": 10, "ref_rows": [80]}, "ref_rows"),
])
def test_kernel_rejects_bad_memory_options(problem, kwargs, name):
    d, y = problem
    with pytest.raises(ValueError, match=name):
        FMGibbs(d, y, rank=2, **kwargs)
