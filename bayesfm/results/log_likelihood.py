"""Every training row's log likelihood at every draw, computed from the draws.

One function computes the ``log_likelihood`` group of a fit from its draws and training
rows, chunk by chunk: :func:`~bayesfm.results.to_datatree` when the engine did not collect
the values itself, and :func:`~bayesfm.results.recompute_log_likelihood` when a model file
that left the group out is loaded. The same compiled code on the same inputs gives the
same bits, so a value recomputed on load equals one computed at fit time by this function.
"""

from __future__ import annotations

from functools import partial

import jax
import numpy as np

from bayesfm.model import Likelihood, pointwise_log_likelihood
from bayesfm.results.predict import PosteriorDraws, eta_chunks

__all__ = ["OBS_INDICES", "OBS_VALUES", "log_likelihood_draws"]

#: ``constant_data`` variables holding the training rows (``obs, slot``) beside a kept
#: ``log_likelihood`` group: what recomputing it needs besides the draws and ``y``.
OBS_INDICES = "obs_indices"
OBS_VALUES = "obs_values"


@partial(jax.jit, static_argnames=("likelihood",))
def _log_lik(
    eta: jax.Array, y: jax.Array, params: dict, weight: jax.Array | None, likelihood: Likelihood
) -> jax.Array:
    return pointwise_log_likelihood(likelihood, y, eta, params, weight)


def log_likelihood_draws(
    draws: PosteriorDraws, indices: np.ndarray, values: np.ndarray, y: np.ndarray,
    sample_weight: np.ndarray | None, *, keep: bool,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Pointwise ``(S, N)`` float32 log likelihood (if ``keep``) and its per-draw total ``(S,)``.

    Parameters
    ----------
    draws : PosteriorDraws
        ``S`` draws and the likelihood they are scored with.
    indices, values : arrays of shape (N, L)
        The padded training rows.
    y : array of shape (N,)
        Observations coded as the likelihood expects.
    sample_weight : array of shape (N,), optional
    keep : bool
        Return the pointwise values, not only the totals.
    """
    rows = draws.rows_per_chunk(indices.shape[1])
    total = np.zeros(draws.n_draws)
    full = np.empty((draws.n_draws, indices.shape[0]), dtype=np.float32) if keep else None
    own = {k: draws.params[k] for k in draws.likelihood.prediction_sites}
    for sl, eta in eta_chunks(draws, indices, values, rows):
        y_sl = jax.device_put(np.asarray(y[sl], dtype=eta.dtype))
        weight = None
        if sample_weight is not None:
            weight = jax.device_put(np.asarray(sample_weight[sl], dtype=eta.dtype))
        ll = np.asarray(_log_lik(eta, y_sl, own, weight, draws.likelihood))
        total += ll.sum(axis=1)
        if full is not None:
            full[:, sl] = ll
    return full, total
