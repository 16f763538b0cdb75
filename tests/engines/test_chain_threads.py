"""Chains in threads (``drive._threaded``) make the draws of the one compiled batched loop."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from bayesfm.engines import drive
from bayesfm.engines.gibbs import FMGibbs


def _kernel(store: str = "draws", likelihood: str = "gaussian") -> FMGibbs:
    rng = np.random.default_rng(0)
    n = 40
    idx = np.stack([rng.integers(0, 6, n), rng.integers(6, 10, n)], axis=1)
    val = np.ones((n, 2), np.float32)
    y = rng.normal(size=n).astype(np.float32)
    if likelihood != "gaussian":
        y = (y > 0).astype(np.float32)
    return FMGibbs((idx, val, np.array([0] * 6 + [1] * 4)), y, rank=2, n_groups=2,
                   likelihood=likelihood, store=store, num_samples=12, max_kept=4)


def _both(monkeypatch, kernel_args: dict, **kw) -> tuple:
    monkeypatch.setenv("BAYESFM_CHAIN_THREADS", "0")
    batched = drive.sample_chains(_kernel(**kernel_args), jax.random.key(3), **kw)
    monkeypatch.setenv("BAYESFM_CHAIN_THREADS", "1")
    kernel = _kernel(**kernel_args)
    assert drive._threads_fit(kernel)
    threaded = drive.sample_chains(kernel, jax.random.key(3), **kw)
    return batched, threaded


@pytest.mark.parametrize("likelihood", ["gaussian", "probit"])
def test_threaded_chains_make_the_batched_draws(monkeypatch, likelihood):
    # Same keys per chain, same one-chain sweep: equal draws (to float rounding, since XLA
    # may fuse the one-chain program differently from the body of lax.map).
    (a, sa), (b, sb) = _both(monkeypatch, {"likelihood": likelihood}, num_warmup=5,
                             num_samples=12, num_chains=3, thinning=2, progress_bar=True)
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].shape == b[k].shape, k
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)
    for x, y in zip(jax.tree.leaves(sa.chain.params), jax.tree.leaves(sb.chain.params),
                    strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)


def test_threaded_chains_keep_the_moments_and_resume(monkeypatch):
    kw = dict(num_warmup=4, num_samples=12, num_chains=2)
    (a, sa), (b, sb) = _both(monkeypatch, {"store": "moments"}, **kw)
    kernel = _kernel("moments")
    ma, ka = kernel.collect_moments(sa.moments, 2)
    mb, kb = kernel.collect_moments(sb.moments, 2)
    for d1, d2 in ((ma, mb), (ka, kb)):
        assert sorted(d1) == sorted(d2)
        for k in d1:
            np.testing.assert_allclose(d1[k], d2[k], rtol=1e-5, atol=1e-6, err_msg=k)
    # Resuming the threaded state continues the batched chains.
    monkeypatch.setenv("BAYESFM_CHAIN_THREADS", "0")
    more_a, _ = drive.sample_chains(_kernel("moments"), jax.random.key(0), resume=sa, **kw)
    monkeypatch.setenv("BAYESFM_CHAIN_THREADS", "1")
    more_b, _ = drive.sample_chains(_kernel("moments"), jax.random.key(0), resume=sb, **kw)
    for k in more_a:
        np.testing.assert_allclose(more_a[k], more_b[k], rtol=1e-5, atol=1e-6, err_msg=k)
