"""Posterior predictions for new rows, chunked so memory stays at one chunk times the draws.

Pure functions over arrays; the estimators call them with draws taken from the DataTree.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from bayesfm.model import fm_predict
from bayesfm.model_variants import variant_predict

__all__ = [
    "FMDraws",
    "PredictiveSummary",
    "chunk_size",
    "eta_chunks",
    "factor_width",
    "inverse_link",
    "posterior_predictive",
    "subset_draws",
    "summarize_predictions",
]


class FMDraws(NamedTuple):
    """Flattened posterior draws of the parameters that make a prediction.

    Attributes
    ----------
    w0 : array of shape (S,)
    w : array of shape (S, p)
    v : array of shape (S, p, k), or (S, p, G, k) for the field-aware FM
    tau : array of shape (S,) or None
    cutpoints : array of shape (S, C-1) or None
        Ordinal likelihood only.
    v3 : array of shape (S, p, k) or None
        Factors of the order-3 term (``degree=3``).
    group_of_feature : int array of shape (p,) or None
        Needed by the field-aware FM.
    """

    w0: jax.Array
    w: jax.Array
    v: jax.Array
    tau: jax.Array | None
    cutpoints: jax.Array | None = None
    v3: jax.Array | None = None
    group_of_feature: jax.Array | None = None


def factor_width(draws: FMDraws) -> int:
    """Factor values gathered per stored entry and draw (``k``, ``G k`` for FFM, ``+ k``)."""
    width = int(np.prod(draws.v.shape[2:]))
    return width + (0 if draws.v3 is None else int(draws.v3.shape[-1]))


class PredictiveSummary(NamedTuple):
    """Per-row summaries of the posterior draws of a predicted quantity."""

    mean: np.ndarray
    sd: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def inverse_link(likelihood: str) -> Callable[[np.ndarray], np.ndarray]:
    """Map from FM scores to the mean of ``y`` (NumPy): identity, ``Phi`` or the logistic."""
    if likelihood == "gaussian":
        return lambda eta: eta
    if likelihood == "probit":
        return scipy.special.ndtr
    if likelihood == "logit":
        return scipy.special.expit
    raise ValueError(f"unknown likelihood {likelihood!r}")


def chunk_size(n_draws: int, width: int, rank: int, budget_bytes: int = 256 * 2**20) -> int:
    """Rows per chunk so that the ``(draws, rows, width, rank)`` gather fits in the budget."""
    per_row = max(n_draws * max(width, 1) * max(rank, 1) * 4 * 2, 1)
    return int(max(1, min(65536, budget_bytes // per_row)))


@jax.jit
def _eta_block(draws: FMDraws, indices: jax.Array, values: jax.Array) -> jax.Array:
    draws = draws._replace(cutpoints=None)  # one compiled program whatever the likelihood
    if draws.v3 is None and draws.v.ndim == 3:
        return jax.vmap(lambda w0, w, v: fm_predict(w0, w, v, indices, values))(
            draws.w0, draws.w, draws.v
        )
    return jax.vmap(
        lambda w0, w, v, v3: variant_predict(
            w0, w, v, indices, values, group_of_feature=draws.group_of_feature, v3=v3
        ),
        in_axes=(0, 0, 0, None if draws.v3 is None else 0),
    )(draws.w0, draws.w, draws.v, draws.v3)


def eta_chunks(
    draws: FMDraws, indices: np.ndarray, values: np.ndarray, rows_per_chunk: int
) -> Iterator[tuple[slice, jax.Array]]:
    """Yield ``(row slice, eta draws of shape (S, rows))`` chunk after chunk.

    Every chunk is padded to ``rows_per_chunk`` rows so that one compiled function serves
    them all.
    """
    n = indices.shape[0]
    for start in range(0, n, rows_per_chunk):
        stop = min(start + rows_per_chunk, n)
        idx = indices[start:stop]
        val = values[start:stop]
        pad = rows_per_chunk - (stop - start)
        if pad and n > rows_per_chunk:
            idx = np.concatenate([idx, np.zeros((pad, idx.shape[1]), idx.dtype)])
            val = np.concatenate([val, np.zeros((pad, val.shape[1]), val.dtype)])
        eta = _eta_block(draws, jnp.asarray(idx), jnp.asarray(val))
        yield slice(start, stop), eta[:, : stop - start]


def summarize_predictions(
    draws: FMDraws,
    indices: np.ndarray,
    values: np.ndarray,
    *,
    likelihood: str,
    prob: float | None = 0.9,
    kind: str = "mean",
    rng_key: jax.Array | None = None,
    budget_bytes: int = 256 * 2**20,
) -> PredictiveSummary:
    """Posterior mean, sd and equal-tailed ``prob`` interval of the predicted mean of ``y``.

    Parameters
    ----------
    draws : FMDraws
    indices, values : ndarray of shape (n, L)
    likelihood : {"gaussian", "probit", "logit"}
        Picks the inverse link: for binary likelihoods the summaries are of the click
        probability.
    prob : float or None
        Mass of the equal-tailed credible interval; ``None`` skips the interval (``lower``
        and ``upper`` are NaN), which saves a sort per row.
    kind : {"mean", "predictive"}
        ``"mean"`` summarises the regression function ``E[y | x]`` (what the posterior
        knows); ``"predictive"`` adds the observation noise of a Gaussian likelihood (where a
        new ``y`` will fall).
    rng_key : jax.Array, optional
        Needed for ``kind="predictive"``.
    budget_bytes : int
        Memory for one chunk of rows times draws.

    Returns
    -------
    PredictiveSummary
    """
    if kind not in ("mean", "predictive"):
        raise ValueError(f"unknown kind {kind!r}; valid: mean, predictive")
    if prob is not None and (isinstance(prob, bool) or not isinstance(prob, numbers.Real)):
        raise TypeError(f"prob must be a number in (0, 1), got {prob!r}")
    if prob is not None and not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    predictive = kind == "predictive" and likelihood == "gaussian" and draws.tau is not None
    seed = 0 if rng_key is None else int(jax.random.randint(rng_key, (), 0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    noise_sd = None if not predictive else 1.0 / np.sqrt(np.asarray(draws.tau, np.float64))
    n = indices.shape[0]
    n_draws = int(draws.w0.shape[0])
    rows = chunk_size(n_draws, indices.shape[1], factor_width(draws), budget_bytes)
    out = [np.empty(n, dtype=np.float64) for _ in range(4)]
    transform = inverse_link(likelihood)
    q = None if prob is None else [(1 - prob) / 2, (1 + prob) / 2]
    # Reductions over draws run in float64 NumPy, column by column, so a row's summary does
    # not depend on which other rows share its chunk.
    for sl, eta in eta_chunks(draws, indices, values, rows):
        mu = transform(np.asarray(eta, dtype=np.float64))
        if noise_sd is not None:
            mu = mu + rng.standard_normal(mu.shape) * noise_sd[:, None]
        # A sort per row: skipped when only the mean and sd are wanted.
        lo, hi = np.quantile(mu, q, axis=0) if q is not None else (np.nan, np.nan)
        for o, stat in zip(out, (mu.mean(axis=0), mu.std(axis=0), lo, hi), strict=True):
            o[sl] = stat
    return PredictiveSummary(*out)



def subset_draws(draws: FMDraws, keep: np.ndarray) -> FMDraws:
    """Keep the posterior draws at positions ``keep`` (an index array over the draws)."""
    def take(a: Any) -> Any:
        return None if a is None else a[keep]

    return draws._replace(w0=draws.w0[keep], w=draws.w[keep], v=draws.v[keep],
                          tau=take(draws.tau), cutpoints=take(draws.cutpoints),
                          v3=take(draws.v3))


def posterior_predictive(
    draws: FMDraws,
    indices: np.ndarray,
    values: np.ndarray,
    *,
    likelihood: str,
    rng: np.random.Generator,
    budget_bytes: int = 256 * 2**20,
) -> np.ndarray:
    """Replicated observations: one simulated ``y`` per posterior draw and row.

    Gaussian: ``eta + noise / sqrt(tau)``; probit / logit: a 0/1 draw with the draw's click
    probability. The result holds ``S x n`` numbers: thin the draws first for many rows.

    Parameters
    ----------
    draws : FMDraws
    indices, values : ndarray of shape (n, L)
    likelihood : {"gaussian", "probit", "logit"}
    rng : numpy.random.Generator
    budget_bytes : int
        Memory for one chunk of rows times draws.

    Returns
    -------
    ndarray of shape (S, n)
        float64 for the Gaussian likelihood, int64 labels 0/1 otherwise.

    Examples
    --------
    >>> import numpy as np, jax.numpy as jnp
    >>> from bayesfm.predict import FMDraws, posterior_predictive
    >>> d = FMDraws(jnp.zeros(4), jnp.zeros((4, 2)), jnp.zeros((4, 2, 1)), None)
    >>> idx, val = np.array([[0, 1]]), np.array([[1.0, 1.0]], dtype=np.float32)
    >>> rep = posterior_predictive(d, idx, val, likelihood="probit",
    ...                            rng=np.random.default_rng(0))
    >>> rep.shape, rep.dtype.kind
    ((4, 1), 'i')
    """
    transform = inverse_link(likelihood)
    gaussian = likelihood == "gaussian"
    if gaussian and draws.tau is None:
        raise ValueError("a Gaussian likelihood needs the noise precision tau in the draws")
    n_draws = int(draws.w0.shape[0])
    n = indices.shape[0]
    out = np.empty((n_draws, n), dtype=np.float64 if gaussian else np.int64)
    noise_sd = 1.0 / np.sqrt(np.asarray(draws.tau, np.float64)) if gaussian else None
    rows = chunk_size(n_draws, indices.shape[1], int(draws.v.shape[-1]), budget_bytes)
    for sl, eta in eta_chunks(draws, indices, values, rows):
        mu = transform(np.asarray(eta, dtype=np.float64))
        if noise_sd is not None:
            out[:, sl] = mu + rng.standard_normal(mu.shape) * noise_sd[:, None]
        else:
            out[:, sl] = rng.uniform(size=mu.shape) < mu
    return out
