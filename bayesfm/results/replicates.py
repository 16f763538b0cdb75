"""Replicated observations as ArviZ groups: ``posterior_predictive`` and ``predictions``.

ArviZ's predictive checks (``arviz_plots.plot_ppc_dist``) and LOO-PIT (``arviz.loo_pit``)
read ``posterior_predictive["y"]`` with the sample dims ``(chain, draw)`` of the posterior
and the ``obs`` dim of ``observed_data["y"]``. Replicates of new rows go to ``predictions``
(dim ``pred_obs``), as Bambi does. Which rows are the training rows is decided by a digest of
the design recorded at fit time, never by a row count.
"""

from __future__ import annotations

import hashlib

import numpy as np
import xarray as xr

from bayesfm.results.datatree import prediction_group

__all__ = ["TRAIN_DIGEST", "design_digest", "store_replicates"]

#: DataTree attribute holding the digest of the training design.
TRAIN_DIGEST = "train_design_digest"


def design_digest(indices: np.ndarray, values: np.ndarray) -> str:
    """SHA-1 of a padded design's indices and values (float32): the identity of its rows."""
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(indices, dtype=np.int32).tobytes())
    h.update(np.ascontiguousarray(values, dtype=np.float32).tobytes())
    h.update(str(indices.shape).encode())
    return h.hexdigest()


def store_replicates(dt: xr.DataTree, y_rep: np.ndarray, digest: str,
                     keep: np.ndarray | None = None) -> str:
    """Write ``y_rep`` (draws x rows) into ``dt`` in place; return the group written.

    ``posterior_predictive`` when the rows are the training rows (their digest is the fit's),
    else ``predictions``; variable ``y`` with dims ``(chain, draw, obs)`` or
    ``(chain, draw, pred_obs)``. ``keep``: the flat draw positions ``y_rep`` was drawn from
    (a subset); then the sample dims are one chain of those draws.
    """
    post = dt[prediction_group(dt)]
    n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
    training = dt.attrs.get(TRAIN_DIGEST) == digest
    group, obs = ("posterior_predictive", "obs") if training else ("predictions", "pred_obs")
    if keep is None:
        data = y_rep.reshape(n_chains, n_draws, -1)
        coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    else:
        data = y_rep[None]
        coords = {"chain": np.array([0]), "draw": np.asarray(keep)}
    coords[obs] = (dt["observed_data"]["obs"].values if training
                   else np.arange(data.shape[-1]))
    ds = xr.Dataset({"y": (("chain", "draw", obs), data)}, coords=coords)
    if group in dt.children and group == "predictions":
        old = dt[group].to_dataset()
        if old.sizes.get("pred_obs") == data.shape[-1] and all(
                old.sizes.get(k) == v for k, v in ds.sizes.items()):
            ds = old.drop_vars("y", errors="ignore").merge(ds)
    dt[group] = xr.DataTree(ds)
    return group
