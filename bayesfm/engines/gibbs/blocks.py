"""The Gibbs sampler's data: the targets and the design's exact blocks, as jit arguments.

The blocks (features of one group that never share a row, :mod:`bayesfm.data.blocks`) are
computed once per design on the host; the jitted sweep receives them, with the targets and
weights, as a :class:`GibbsData` argument, never as closed-over constants.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from bayesfm.data.blocks import BlockSet, block_sets, color_blocks
from bayesfm.engines.gibbs.mesh import (
    lay_out_block_set,
    padded_rows,
    place,
    replicated,
    row_bucket,
    row_mesh,
    row_sharded,
)
from bayesfm.engines.gibbs.relations import RelationData, prepare_relations

__all__ = ["BlockSet", "GibbsData", "color_blocks", "prepare_data"]


class GibbsData(NamedTuple):
    """The targets and the block structure of a design, as arrays for the jitted sweep.

    Attributes
    ----------
    y : array of shape (N,)
        Targets (0/1 for probit).
    weight : array of shape (N,) or None
        Per-row frequency weights ``s_n``; ``None`` means all ones.
    group_of_feature : int array of shape (p,)
        Group of every feature.
    group_size : array of shape (G,)
        Number of features in every group (the ``n`` of the Normal-Gamma update).
    blocks : tuple of BlockSet
        Every exact block, in sets of similar size (largest first).
    shiftable : bool array of shape (G,)
        Complete one-hot groups (one nonzero of value 1 in every row): along
        ``w0 + c, w_g - c, mu_w[g] - c`` their likelihood is flat, and the sweep draws ``c``
        exactly (:mod:`bayesfm.engines.gibbs.shifts`).
    relations : tuple of RelationData
        The design's relation blocks (:mod:`bayesfm.engines.gibbs.relations`), whose
        features follow the columns of ``X``; empty for a plain design.

    """

    y: jax.Array
    weight: jax.Array | None
    group_of_feature: jax.Array
    group_size: jax.Array
    blocks: tuple[BlockSet, ...]
    shiftable: jax.Array
    relations: tuple[RelationData, ...] = ()


def prepare_data(
    indices: Any, values: Any, group_of_feature: Any, y: Any, *, n_groups: int,
    sample_weight: Any = None, dtype: Any = None, layout: str = "auto", mesh: Any = None,
    process_rows: bool = False, bucket_rows: bool = False, relations: Any = (),
) -> GibbsData:
    """Build the :class:`GibbsData` of a design (host-side, once per design).

    The blocks are the design's (:func:`bayesfm.data.blocks.block_sets`, which takes
    ``indices``, ``values``, ``group_of_feature``, ``n_groups`` and ``layout``); ``y`` holds
    the targets (0/1 for probit, class codes for ordinal), ``sample_weight`` per-row
    frequency weights (a row of weight 2 counts twice), ``dtype`` the float dtype (default
    float32, or float64 under ``jax_enable_x64``), ``mesh`` the device mesh the rows are
    split over (:func:`~bayesfm.engines.gibbs.mesh.row_mesh`; default: one device). Where
    the rows do not split evenly, zero-weight rows are appended (``y = 0``, no features), so
    ``weight`` is then an array even without ``sample_weight``; they contribute nothing.
    ``process_rows``: the rows are this process's share of a fit over several processes
    (the input layout of :mod:`bayesfm.engines.hosts`). ``bucket_rows``: pad the rows (and a
    compact block set's entries per block) up to their shape bucket
    (:func:`~bayesfm.engines.gibbs.mesh.row_bucket`) the same way, so that designs of nearby
    sizes share one compiled sweep; ignored with ``process_rows``.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.engines.gibbs.blocks import prepare_data
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2))
    >>> d = prepare_data(idx, val, [0, 0, 1, 1], [1.0, 2.0, 3.0], n_groups=2)
    >>> len(d.blocks), d.blocks[0].slot.shape, d.blocks[0].features.tolist()
    (1, (2, 3), [[0, 1], [2, 3]])

    """
    dtype = np.dtype(np.float64 if jax.config.jax_enable_x64 else np.float32) if dtype is None \
        else np.dtype(dtype)
    gof = np.asarray(group_of_feature).astype(np.int64)
    n_rows = np.asarray(indices).shape[0]
    y = np.asarray(y, dtype=dtype)
    if y.shape != (n_rows,):
        raise ValueError(f"y must have shape ({n_rows},), got {y.shape}")
    weight = None if sample_weight is None else np.asarray(sample_weight, dtype=dtype)
    if weight is not None and weight.shape != (n_rows,):
        raise ValueError(f"sample_weight must have shape ({n_rows},), got {weight.shape}")
    mesh = row_mesh(1) if mesh is None else mesh
    relations = tuple(relations)
    n_row_features = gof.size - sum(rel.n_features for rel in relations)
    if relations:
        if mesh.devices.size > 1 or process_rows:
            raise NotImplementedError("relation blocks run on one device (devices=1), "
                                      "without process_rows")
        if n_row_features < 0:
            raise ValueError("group_of_feature must cover X's columns and every relation's")
        for rel in relations:
            if rel.n_rows != n_rows:
                raise ValueError(f"relation {rel.name!r} indexes {rel.n_rows} rows, but the "
                                 f"design has {n_rows} rows")
    processes = _process_share(n_rows, mesh) if process_rows else None
    sets, shiftable = block_sets(indices, values, gof[:n_row_features], n_groups=n_groups,
                                 weight=weight, dtype=dtype, layout=layout, on_device=False,
                                 combine=processes)
    if relations:  # padding slots must point past every feature, not at the first relation's
        sets = tuple(bs._replace(features=np.where(  # type: ignore[arg-type]
            bs.features >= n_row_features, gof.size, bs.features).astype(np.int32))
            for bs in sets)
    bucket = bucket_rows and not process_rows
    n_pad = n_rows if process_rows else padded_rows(
        row_bucket(n_rows) if bucket else n_rows, mesh)
    if n_pad > n_rows:  # zero-weight padding rows: every sum over rows skips them
        weight = np.ones(n_rows, dtype) if weight is None else weight
        weight = np.concatenate([weight, np.zeros(n_pad - n_rows, dtype)])
        y = np.concatenate([y, np.zeros(n_pad - n_rows, dtype)])
    rep, split = replicated(mesh), row_sharded(mesh)
    return GibbsData(
        shiftable=place(shiftable, rep, process_rows),
        y=place(y, split, process_rows),
        weight=None if weight is None else place(weight, split, process_rows),
        group_of_feature=place(gof.astype(np.int32), rep, process_rows),
        group_size=place(np.bincount(gof, minlength=n_groups).astype(dtype), rep, process_rows),
        blocks=tuple(lay_out_block_set(bs, n_rows, mesh, weight is not None, processes,
                                       n_pad=n_pad, bucket=bucket)
                     for bs in sets),
        relations=prepare_relations(relations, n_row_features, n_pad, dtype),
    )


def _process_share(n_rows: int, mesh: Any) -> Any:
    """Check this process's share of the rows (module :mod:`bayesfm.engines.hosts`)."""
    from bayesfm.engines.hosts import AllProcesses

    processes = AllProcesses()
    counts = processes.gather(np.asarray(n_rows))
    n_local = jax.local_device_count()
    if mesh.devices.size != jax.device_count():
        raise ValueError("process_rows=True needs the rows split over every device "
                         f"(devices=None), not {mesh.devices.size} of {jax.device_count()}")
    if np.any(counts != counts[0]) or counts[0] % n_local:
        raise ValueError("process_rows=True needs the same number of rows in every process, "
                         f"a multiple of its {n_local} devices; got {counts.tolist()}")
    return processes
