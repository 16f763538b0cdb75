"""Posterior predictions for new rows, chunked so memory stays at one chunk times the draws.

Pure functions over :class:`PosteriorDraws` (the flattened draws that make a prediction, with
the likelihood and interaction term that give them meaning); the estimators call them with
draws taken from the DataTree. Scores are computed in JAX, one compiled program per chunk
shape; reductions over draws run in float64 NumPy, column by column, so a row's summary does
not depend on which other rows share its chunk.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from functools import partial
from typing import Any, NamedTuple

import jax
import numpy as np

from bayesfm.model import Interaction, Likelihood, fm_score
from bayesfm.results.intervals import class_summary, normal_mixture_summary

__all__ = [
    "PosteriorDraws",
    "PredictiveSummary",
    "chunk_size",
    "class_probabilities",
    "eta_chunks",
    "mean_draws",
    "posterior_predictive",
    "summarize_predictions",
]

#: Memory for one chunk of rows times draws.
BUDGET_BYTES = 256 * 2**20


class PosteriorDraws(NamedTuple):
    """Flattened posterior draws of the sites that make a prediction.

    Attributes
    ----------
    params : dict of str to array
        ``w0`` (S,), ``w`` (S, p), the factor matrices (S, p, ...), a neural part's weight
        arrays (S, ...) and the likelihood's prediction sites (``tau`` (S,), ``cutpoints``
        (S, C-1)).
    likelihood : Likelihood
    interaction : Interaction
    group_of_feature : int array of shape (p,)
    """

    params: dict[str, jax.Array]
    likelihood: Likelihood
    interaction: Interaction
    group_of_feature: jax.Array

    @property
    def n_groups(self) -> int:
        """Number of groups ``G`` (every group holds at least one feature)."""
        return max(int(np.max(np.asarray(self.group_of_feature), initial=-1)) + 1, 1)

    @property
    def n_draws(self) -> int:
        """Number of draws ``S``."""
        return int(self.params["w0"].shape[0])

    def subset(self, keep: np.ndarray) -> PosteriorDraws:
        """Return the draws at positions ``keep`` (an index array over the draws)."""
        return self._replace(params={k: a[keep] for k, a in self.params.items()})

    def likelihood_params(self) -> dict[str, np.ndarray]:
        """Return the likelihood's own sites in float64 NumPy (for host-side transforms)."""
        return {k: np.asarray(self.params[k], np.float64)
                for k in self.likelihood.prediction_sites}

    def rows_per_chunk(self, max_nnz: int, extra: int = 1, budget_bytes: int = BUDGET_BYTES) -> int:
        """Rows per chunk so that the gathered factors of a chunk fit in ``budget_bytes``."""
        p = self.group_of_feature.shape[0]
        shapes = self.interaction.site_shapes(p, self.n_groups, 1)
        # Factor values gathered per stored entry: the event sizes, with the rank read off
        # the draws themselves (site_shapes at rank 1 gives the size per factor).
        width = 0
        for fs in self.interaction.factor_sets:
            per_factor = int(np.prod(shapes[fs.name][1:]))
            width += per_factor * int(self.params[fs.name].shape[-1])
        if self.interaction.network:
            # A network's activations per row and draw (the CFM cube) can dwarf the
            # gathered factors: count them, spread over the row's stored entries.
            k = int(self.params[self.interaction.factor_names[0]].shape[-1])
            acts = self.interaction.activations_per_row(self.n_groups, k)
            width += -(-acts // max(max_nnz, extra, 1))
        return chunk_size(self.n_draws, max(max_nnz, extra), width, budget_bytes)


class PredictiveSummary(NamedTuple):
    """Per-row summaries of the posterior draws of a predicted quantity."""

    mean: np.ndarray
    sd: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def chunk_size(n_draws: int, width: int, rank: int, budget_bytes: int = BUDGET_BYTES) -> int:
    """Rows per chunk so that the ``(draws, rows, width, rank)`` gather fits in the budget."""
    per_row = max(n_draws * max(width, 1) * max(rank, 1) * 4 * 2, 1)
    return int(max(1, min(65536, budget_bytes // per_row)))


@partial(jax.jit, static_argnames=("interaction", "n_groups"))
def _eta_block(
    params: dict[str, jax.Array], indices: jax.Array, values: jax.Array,
    group_of_feature: jax.Array, interaction: Interaction, n_groups: int,
) -> jax.Array:
    """Scores ``(draws, rows)`` of a chunk, one draw after another.

    ``lax.map``, not ``vmap``: batched over the draws, the gather of the factor rows became
    one large gather that XLA's CPU backend runs 5x slower than the per-draw loop (195 draws
    x 8,192 rows x rank 10: 0.36 s against 0.07 s).
    """
    return jax.lax.map(
        lambda p: fm_score(p, interaction, indices, values, group_of_feature, n_groups), params)


def _bucket(n: int, cap: int) -> int:
    """Rows a chunk of ``n`` rows is padded to: a power of two (at least 32), at most ``cap``."""
    return min(cap, max(32, 1 << (max(n, 1) - 1).bit_length()))


def eta_chunks(
    draws: PosteriorDraws, indices: np.ndarray, values: np.ndarray, rows_per_chunk: int
) -> Iterator[tuple[slice, jax.Array]]:
    """Yield ``(row slice, eta draws of shape (S, rows))`` chunk after chunk, on the host.

    Chunks are padded to ``rows_per_chunk`` rows, or a few rows to a power of two, so that
    one compiled function serves every chunk and calls with similar row counts share one.
    The padding is cut off on the host (cutting a device array compiles a slice per shape).
    """
    fm_params = {k: a for k, a in draws.params.items()
                 if k not in draws.likelihood.prediction_sites}
    n = indices.shape[0]
    width = _bucket(n, rows_per_chunk)
    for start in range(0, n, width):
        stop = min(start + width, n)
        idx = indices[start:stop]
        val = values[start:stop]
        pad = width - (stop - start)
        if pad:  # padding rows point at feature 0 with value 0 and are dropped below
            idx = np.concatenate([idx, np.zeros((pad, idx.shape[1]), idx.dtype)])
            val = np.concatenate([val, np.zeros((pad, val.shape[1]), val.dtype)])
        eta = _eta_block(fm_params, jax.device_put(idx), jax.device_put(val),
                         draws.group_of_feature, draws.interaction, draws.n_groups)
        yield slice(start, stop), np.asarray(eta)[:, : stop - start]


def _check_prob(prob: Any) -> None:
    if prob is not None and (isinstance(prob, bool) or not isinstance(prob, numbers.Real)):
        raise TypeError(f"prob must be a number in (0, 1), got {prob!r}")
    if prob is not None and not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be in (0, 1), got {prob}")


def _n_outputs(draws: PosteriorDraws) -> int:
    return int(getattr(draws.likelihood, "n_classes", None) or 1)


def summarize_predictions(
    draws: PosteriorDraws,
    indices: np.ndarray,
    values: np.ndarray,
    *,
    prob: float | None = 0.9,
    kind: str = "mean",
    budget_bytes: int = BUDGET_BYTES,
) -> PredictiveSummary:
    """Posterior mean, sd and equal-tailed ``prob`` interval of every row's prediction.

    Parameters
    ----------
    draws : PosteriorDraws
    indices, values : ndarray of shape (n, L)
    prob : float or None
        Mass of the equal-tailed credible interval; ``None`` skips the interval (``lower``
        and ``upper`` are NaN), which saves a sort per row.
    kind : {"mean", "predictive"}
        ``"mean"`` summarises the regression function ``E[y | x]`` (what the posterior
        knows: the click probability of a binary likelihood, the expected class value of an
        ordinal one); ``"predictive"`` summarises a new ``y`` exactly, from the predictive
        mixture over the draws (Gaussian: quantiles of the mixture of normals
        ``N(mu_s, 1/tau_s)``; binary and ordinal: the mean class probabilities, the interval
        the central range of classes; see :mod:`bayesfm.results.intervals`).
    budget_bytes : int
        Memory for one chunk of rows times draws.

    Returns
    -------
    PredictiveSummary
    """
    if kind not in ("mean", "predictive"):
        raise ValueError(f"unknown kind {kind!r}; valid: mean, predictive")
    _check_prob(prob)
    lik = draws.likelihood
    lp = draws.likelihood_params()
    task = lik.task
    noise_sd = None
    if kind == "predictive" and task == "regression":
        noise_sd = lik.noise_sd(lp)  # type: ignore[attr-defined]
    n = indices.shape[0]
    rows = draws.rows_per_chunk(indices.shape[1], _n_outputs(draws), budget_bytes)
    out = [np.empty(n, dtype=np.float64) for _ in range(4)]
    q = None if prob is None else [(1 - prob) / 2, (1 + prob) / 2]
    stats: tuple[Any, ...]
    for sl, eta in eta_chunks(draws, indices, values, rows):
        eta64 = np.asarray(eta, dtype=np.float64)
        if kind == "predictive" and task == "ordinal":
            stats = class_summary(lik.probabilities(eta64, lp).mean(axis=0),  # type: ignore[attr-defined]
                                  np.asarray(lik.values(), np.float64), q)  # type: ignore[attr-defined]
        elif kind == "predictive" and task == "binary":
            p1 = lik.mean(eta64, lp).mean(axis=0)
            stats = class_summary(np.column_stack([1.0 - p1, p1]), np.array([0.0, 1.0]), q)
        elif noise_sd is not None:
            stats = normal_mixture_summary(lik.mean(eta64, lp), noise_sd, q)
        else:
            mu = lik.mean(eta64, lp)
            # A sort per row: skipped when only the mean and sd are wanted.
            lo, hi = np.quantile(mu, q, axis=0) if q is not None else (np.nan, np.nan)
            stats = (mu.mean(axis=0), mu.std(axis=0), lo, hi)
        for o, stat in zip(out, stats, strict=True):
            o[sl] = stat
    return PredictiveSummary(*out)


def class_probabilities(
    draws: PosteriorDraws, indices: np.ndarray, values: np.ndarray,
    budget_bytes: int = BUDGET_BYTES,
) -> np.ndarray:
    """Posterior mean of the class probabilities ``(n, C)`` of a discrete likelihood.

    Binary: columns ``P(y=0), P(y=1)``; ordinal: the classes in order (the posterior
    predictive distribution of the class).
    """
    lik = draws.likelihood
    if lik.task == "regression":
        raise ValueError("class probabilities need a binary or ordinal likelihood")
    lp = draws.likelihood_params()
    n = indices.shape[0]
    n_classes = 2 if lik.task == "binary" else _n_outputs(draws)
    out = np.empty((n, n_classes))
    rows = draws.rows_per_chunk(indices.shape[1], n_classes, budget_bytes)
    for sl, eta in eta_chunks(draws, indices, values, rows):
        eta64 = np.asarray(eta, dtype=np.float64)
        if lik.task == "binary":
            p1 = lik.mean(eta64, lp).mean(axis=0)
            out[sl] = np.column_stack([1.0 - p1, p1])
        else:
            out[sl] = lik.probabilities(eta64, lp).mean(axis=0)  # type: ignore[attr-defined]
    return out


def mean_draws(
    draws: PosteriorDraws, indices: np.ndarray, values: np.ndarray,
    budget_bytes: int = BUDGET_BYTES,
) -> np.ndarray:
    """Draws of ``E[y | x]``, shape ``(S, n)`` (the click probability for binary)."""
    lp = draws.likelihood_params()
    out = np.empty((draws.n_draws, indices.shape[0]))
    rows = draws.rows_per_chunk(indices.shape[1], _n_outputs(draws), budget_bytes)
    for sl, eta in eta_chunks(draws, indices, values, rows):
        out[:, sl] = draws.likelihood.mean(np.asarray(eta, dtype=np.float64), lp)
    return out


def posterior_predictive(
    draws: PosteriorDraws,
    indices: np.ndarray,
    values: np.ndarray,
    *,
    rng: np.random.Generator,
    budget_bytes: int = BUDGET_BYTES,
) -> np.ndarray:
    """Replicated observations: one simulated ``y`` per posterior draw and row.

    Gaussian: ``eta + noise / sqrt(tau)``; binary: a 0/1 draw with the draw's click
    probability; ordinal: a class code. The result holds ``S x n`` numbers: thin the draws
    first for many rows.

    Returns
    -------
    ndarray of shape (S, n)
        float64 for the Gaussian likelihood, int64 labels or class codes otherwise.

    Examples
    --------
    >>> import numpy as np, jax.numpy as jnp
    >>> from bayesfm.model import get_interaction, get_likelihood
    >>> from bayesfm.results import PosteriorDraws, posterior_predictive
    >>> d = PosteriorDraws({"w0": jnp.zeros(4), "w": jnp.zeros((4, 2)),
    ...                     "v": jnp.zeros((4, 2, 1))}, get_likelihood("probit"),
    ...                    get_interaction("fm"), jnp.array([0, 1]))
    >>> idx, val = np.array([[0, 1]]), np.array([[1.0, 1.0]], dtype=np.float32)
    >>> rep = posterior_predictive(d, idx, val, rng=np.random.default_rng(0))
    >>> rep.shape, rep.dtype.kind
    ((4, 1), 'i')
    """
    lik = draws.likelihood
    lp = draws.likelihood_params()
    gaussian = lik.task == "regression"
    out = np.empty((draws.n_draws, indices.shape[0]), dtype=np.float64 if gaussian else np.int64)
    rows = draws.rows_per_chunk(indices.shape[1], _n_outputs(draws), budget_bytes)
    for sl, eta in eta_chunks(draws, indices, values, rows):
        out[:, sl] = lik.sample(rng, np.asarray(eta, dtype=np.float64), lp)
    return out
