"""Predictions for rows with levels unseen at fit time: new weights from the group prior.

In the hierarchical FM every level of field ``g`` has ``w_j ~ Normal(mu_w[g], 1/lambda_w[g])``
and ``v_j ~ Normal(mu_v[g], 1/lambda_v[g])`` (DESIGN.md); a level that no training row holds
has exactly this posterior. :func:`with_unseen_levels` therefore draws, for every posterior
draw, one weight and one factor vector per new level from its group's prior with that draw's
hyperparameters, appends them as extra features and points the rows' cells at them. The mean
prediction keeps the field's mean effect, and the spread of the new level widens the interval.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
import xarray as xr

from bayesfm.data.unseen import UnseenLevels
from bayesfm.results.datatree import PREDICTION_GROUP, prediction_group
from bayesfm.results.predict import PosteriorDraws

__all__ = ["group_prior_draws", "with_unseen_levels"]


def group_prior_draws(dt: xr.DataTree, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Return draws of ``mu_<site>``, ``lambda_<site>`` aligned with the predicting draws.

    ``store="moments"`` fits predict from the kept draws (group ``prediction_draws``); their
    hyperparameters are the posterior draws of the same sweeps.
    """
    group = prediction_group(dt)
    src = dt[group]
    out = {}
    for site in names:
        for hyper in (f"mu_{site}", f"lambda_{site}"):
            if hyper in src:
                a = src[hyper]
            elif group == PREDICTION_GROUP and hyper in dt["posterior"]:
                a = dt["posterior"][hyper].sel(draw=src["draw"].values)
            else:
                raise ValueError(
                    f"the fit holds no draws of {hyper}, which predictions for unseen levels "
                    "need; refit with store='draws'"
                )
            v = np.asarray(a.values, dtype=np.float64)
            out[hyper] = v.reshape((-1, *v.shape[2:]))
    return out


def with_unseen_levels(
    draws: PosteriorDraws,
    hyper: dict[str, np.ndarray],
    indices: np.ndarray,
    values: np.ndarray,
    unseen: UnseenLevels,
    seed: int = 0,
    *,
    at_means: bool = False,
) -> tuple[PosteriorDraws, np.ndarray, np.ndarray]:
    """Append one feature per unseen level, drawn per posterior draw from its group prior.

    Parameters
    ----------
    draws : PosteriorDraws
        ``S`` draws over ``p`` features.
    hyper : dict of str to ndarray
        ``mu_<site>`` and ``lambda_<site>`` of shape ``(S, G, ...)`` for ``w`` and every
        factor matrix (:func:`group_prior_draws`).
    indices, values : ndarray of shape (n, L)
        The rows, with no feature for their unseen levels.
    unseen : UnseenLevels
        Which cells hold which new level (:func:`bayesfm.data.unseen_levels`).
    seed : int
        Seeds the new levels' draws, so that repeated predictions agree.
    at_means : bool
        Put every new level at its group's prior mean ``mu[g]`` of each draw instead of
        drawing it. A Gaussian mean is multilinear in the new levels' (independent)
        parameters, so this gives its expectation over them exactly.

    Returns
    -------
    draws, indices, values
        Draws over ``p + n_new`` features and rows with one more slot per unseen cell, value 1.

    Examples
    --------
    >>> import numpy as np, jax.numpy as jnp
    >>> from bayesfm.data import UnseenLevels
    >>> from bayesfm.model import get_interaction, get_likelihood
    >>> from bayesfm.results import PosteriorDraws, with_unseen_levels
    >>> d = PosteriorDraws({"w0": jnp.zeros(3), "w": jnp.zeros((3, 2)),
    ...                     "v": jnp.zeros((3, 2, 1)), "tau": jnp.ones(3)},
    ...                    get_likelihood("gaussian"), get_interaction("fm"), jnp.array([0, 0]))
    >>> hyper = {"mu_w": np.full((3, 1), 2.0), "lambda_w": np.full((3, 1), 1e8),
    ...          "mu_v": np.zeros((3, 1, 1)), "lambda_v": np.ones((3, 1, 1))}
    >>> u = UnseenLevels(np.array([1]), np.array([0]), np.array([0]), ("g=new",), {"g": 1})
    >>> d2, idx, val = with_unseen_levels(d, hyper, np.array([[0], [1]]),
    ...                                   np.array([[1.0], [1.0]], dtype=np.float32), u)
    >>> d2.params["w"].shape, idx.tolist(), val.tolist()
    ((3, 3), [[0, 0], [1, 2]], [[1.0, 0.0], [1.0, 1.0]])
    >>> np.asarray(d2.params["w"][:, 2]).round(3).tolist()
    [2.0, 2.0, 2.0]
    """
    if unseen.n_new == 0:
        return draws, indices, values
    p = int(draws.group_of_feature.shape[0])
    g = unseen.level_group
    rng = np.random.default_rng(seed)
    params: dict[str, Any] = dict(draws.params)
    for site in ("w", *draws.interaction.factor_names):
        mu, lam = hyper[f"mu_{site}"][:, g], hyper[f"lambda_{site}"][:, g]
        new = mu if at_means else mu + rng.standard_normal(mu.shape) / np.sqrt(lam)
        old = params[site]
        params[site] = jax.numpy.concatenate(
            [old, jax.device_put(new.astype(old.dtype))], axis=1)
    gof_dtype = np.asarray(draws.group_of_feature).dtype
    gof = jax.numpy.concatenate([draws.group_of_feature, jax.device_put(g.astype(gof_dtype))])
    n = indices.shape[0]
    # Slot of every unseen cell within its row: 0, 1, ... for a row's successive cells.
    order = np.argsort(unseen.rows, kind="stable")
    rows = unseen.rows[order]
    first = np.searchsorted(rows, rows)
    slot = np.arange(rows.size) - first
    width = int(slot.max()) + 1
    extra_idx = np.zeros((n, width), dtype=indices.dtype)
    extra_val = np.zeros((n, width), dtype=values.dtype)
    extra_idx[rows, slot] = p + unseen.level[order]
    extra_val[rows, slot] = 1.0
    out = draws._replace(params=params, group_of_feature=gof)
    return out, np.concatenate([indices, extra_idx], 1), np.concatenate([values, extra_val], 1)
