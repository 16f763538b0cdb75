"""The Polya-Gamma sampler against the ``polyagamma`` package and the exact moments.

Seeds are fixed, so every check is deterministic. What they can detect: a two-sample KS test
of 10^5 against 10^5 draws rejects at p < 0.01 once the two CDFs differ by about
``1.63 sqrt(2 / 10^5) = 0.0073`` anywhere; the mean is held to 3 standard errors of the exact
mean (``sd / sqrt(10^5)``, e.g. 0.26% of the mean at ``c = 0``), so a bias of about 1% of the
mean fails. A correct sampler passes each check for all but about 1% (KS) and 0.3% (mean) of
seeds; the fixed seeds were not chosen, only fixed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from bayesfm.engines.polyagamma import pg_mean, polya_gamma

polyagamma = pytest.importorskip("polyagamma")  # test-only dependency (the "dev" extra)

N = 100_000
CS = (0.0, 1.0, 5.0, 20.0)


def pg_sd(c: float, b: int = 1) -> float:
    """Exact sd of ``PG(b, c)``: ``b (sinh c - c) / (4 c^3 cosh^2(c/2))``, ``b/24`` at 0."""
    if abs(c) < 1e-3:  # sinh c - c cancels; the series' first term
        return np.sqrt(b / 24.0)
    c = abs(c)  # (sinh c - c) / cosh^2(c/2), written so that it does not overflow
    sech2 = 0.0 if c > 700 else 1.0 / np.cosh(c / 2) ** 2
    return float(np.sqrt(b * (2 * np.tanh(c / 2) - c * sech2) / (4 * c**3)))


@pytest.fixture(scope="module")
def draws() -> np.ndarray:
    """10^5 float32 draws at every ``c`` of ``CS``, from one jit-compiled, vectorised call."""
    c = jnp.repeat(jnp.asarray(CS, jnp.float32), N).reshape(len(CS), N)
    out = jax.jit(polya_gamma)(jax.random.key(20260), c)
    assert out.dtype == jnp.float32 and out.shape == c.shape
    return np.asarray(out, np.float64)


@pytest.mark.parametrize("i", range(len(CS)))
def test_matches_polyagamma_package(draws: np.ndarray, i: int) -> None:
    c = CS[i]
    ref = polyagamma.random_polyagamma(1, c, size=N, random_state=np.random.default_rng(7 + i))
    assert stats.ks_2samp(draws[i], ref).pvalue > 0.01


@pytest.mark.parametrize("i", range(len(CS)))
def test_mean_is_exact(draws: np.ndarray, i: int) -> None:
    c = CS[i]
    assert np.all(draws[i] > 0) and np.all(np.isfinite(draws[i]))
    exact = float(pg_mean(c))
    assert exact == pytest.approx(0.25 if c == 0 else np.tanh(c / 2) / (2 * c), rel=1e-6)
    assert abs(draws[i].mean() - exact) < 3 * pg_sd(c) / np.sqrt(N)


def test_integer_shape_is_a_sum_of_draws() -> None:
    """``PG(b, c)`` for integer ``b`` (frequency weights): ``b = 0`` is 0; ``b = 3`` matches."""
    n = 20_000
    c = jnp.concatenate([jnp.full(n, 2.0), jnp.full(4, -1.0)])
    b = jnp.concatenate([jnp.full(n, 3), jnp.zeros(4, jnp.int32)])
    out = np.asarray(jax.jit(polya_gamma)(jax.random.key(3), c, b), np.float64)
    assert np.all(out[n:] == 0)
    ref = polyagamma.random_polyagamma(3, 2.0, size=n, random_state=np.random.default_rng(1))
    assert stats.ks_2samp(out[:n], ref).pvalue > 0.01
    assert abs(out[:n].mean() - 3 * float(pg_mean(2.0))) < 3 * pg_sd(2.0, 3) / np.sqrt(n)


def test_extreme_tilts_and_vmap() -> None:
    """Huge ``|c|`` (scores far from 0) stay finite and exact in float32; keys vmap."""
    c = jnp.asarray([-1e4, -300.0, 1e-8, 60.0, 1e4], jnp.float32)
    keys = jax.random.split(jax.random.key(0), 4000)
    out = np.asarray(jax.jit(jax.vmap(polya_gamma, (0, None)))(keys, c), np.float64)
    assert np.all(np.isfinite(out)) and np.all(out > 0)
    means = np.asarray(pg_mean(np.asarray(c, np.float64)))
    sds = np.array([pg_sd(abs(float(x))) for x in np.asarray(c, np.float64)])
    assert np.all(np.abs(out.mean(0) - means) < 4 * sds / np.sqrt(out.shape[0]))
