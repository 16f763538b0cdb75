"""The sweep is traced once per shape for every likelihood x interaction term.

A retrace per draw (or per run) would make every fit pay the sweep's compile time again:
seconds on a CPU, for sweeps that run in milliseconds. The count is that of
``test_kernel.test_step_traces_once_per_shape`` (the plain Gaussian FM), for every latent part
and term part of the one engine, with two chains.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest

import bayesfm.engines.gibbs.sweep as sweep
from bayesfm.engines.gibbs import LATENTS, TERMS, run_gibbs
from tests._helpers import simulate

#: ``interaction`` and ``degree`` of run_gibbs for each term part.
TERM_ARGS = {"fm": {}, "ffm": {"interaction": "ffm"}, "fm3": {"degree": 3}}


def _targets(likelihood: str, eta: np.ndarray, seed: int) -> np.ndarray:
    """New data of the same shape for every run: values, 0/1 or three class codes."""
    noisy = eta + np.random.default_rng(seed).normal(size=eta.shape)
    if likelihood in ("probit", "logit"):
        return (noisy > 0).astype(np.float64)
    if likelihood == "ordinal":
        return np.digitize(noisy, [-0.5, 0.5]).astype(np.float64)
    return noisy


def test_every_latent_and_term_part_is_counted():
    assert sorted(LATENTS) == ["gaussian", "logit", "ordinal", "probit"]
    assert sorted(TERMS) == sorted(TERM_ARGS)


CASES = list(itertools.product(["gaussian", "probit", "logit", "ordinal"], TERM_ARGS))


@pytest.mark.parametrize(("likelihood", "term"), CASES)
def test_sweep_traces_once_per_shape(monkeypatch, request, likelihood, term):
    calls = []
    original = sweep._sweep

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(sweep, "_sweep", counting)
    # A shape no other test uses (29 rows, groups of 4 and 3), so the jit cache starts cold.
    d, eta, _ = simulate(29, [4, 3], 0)
    n_classes = 3 if likelihood == "ordinal" else None
    # The second run (new data, another warm-up length) compiles MCMC's loop again, several
    # seconds a case: it runs for the ordinal part, the one whose sweep reads the warm-up
    # length, and for all with --runslow.
    runs = [(0, (3, 4)), (1, (4, 6))]
    if likelihood != "ordinal" and not request.config.getoption("--runslow"):
        runs = runs[:1]
    for seed, (n_warmup, n_samples) in runs:
        out = run_gibbs(d.indices, d.values, d.group_of_feature, _targets(likelihood, eta, seed),
                        n_groups=2, rank=2, likelihood=likelihood, n_classes=n_classes,
                        num_warmup=n_warmup, num_samples=n_samples, num_chains=2,
                        rng_key=jax.random.key(seed), progress_bar=False, **TERM_ARGS[term])
        assert out["w0"].shape == (2, n_samples)
    # One trace in all: not one per sweep or chain, and new data of the same shapes reuse the
    # traced sweep, also in a run of another length (the warm-up length is data to the sweep:
    # the ordinal part adapts its proposals until then).
    assert len(calls) == 1
