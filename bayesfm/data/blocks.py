"""The exact blocks of a design: features of one group that never share a row.

A *block* is a set of features of one group that never share a row (DESIGN section 3: the
split is computed once, at design time). The parameters of a block (``w_i``, or ``v_if`` for
one factor ``f``) are conditionally independent given everything else, so the Gibbs sampler
draws them all at once. Every row holds at most one nonzero of a block, which lets a block be
stored as one entry per row: the feature's slot in the block and its value. The arrays are
built once per design with numpy (:func:`block_sets`); the jitted sweep receives them as
arguments (:mod:`bayesfm.engines.gibbs` adds the targets).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np
import scipy.sparse as sp

__all__ = ["LAYOUTS", "BlockSet", "block_sets", "color_blocks"]

LAYOUTS = ("auto", "dense", "compact")
#: A block set holds blocks whose nonzero counts are within this ratio of its largest block.
SIZE_RATIO = 4
#: At most this many block sets (each is one loop in the compiled sweep); the last takes the rest.
MAX_BLOCK_SETS = 4


class BlockSet(NamedTuple):
    """Blocks stored with common padded shapes; the sweep runs one loop over each set.

    ``B`` blocks, at most ``F`` features and ``R`` stored entries per block. In a *dense* set
    ``R = N`` and entry ``n`` is row ``n`` (``rows`` is ``None``): no gathers or scatters on
    rows. In a *compact* set the entries are the block's nonzeros, sorted by row. Padding
    entries have slot 0 and value 0, so they add nothing to any sum.

    Attributes
    ----------
    group : int array of shape (B,)
        The group of every block.
    features : int array of shape (B, F)
        Feature index of every slot; padding slots hold ``p`` (out of range, never written).
    slot : int array of shape (B, R)
        Slot of every entry's feature in its block.
    values : array of shape (B, R)
        ``x_ni`` of every entry.
    wvalues : array of shape (B, R) or None
        ``s_n x_ni`` of every entry (``None`` when unweighted).
    rows : int array of shape (B, R) or None
        Row of every entry (compact sets only).

    """

    group: jax.Array
    features: jax.Array
    slot: jax.Array
    values: jax.Array
    wvalues: jax.Array | None
    rows: jax.Array | None


def _put(a: np.ndarray) -> jax.Array:
    """Copy a host array to the device (``jnp.asarray`` would compile a program per shape)."""
    return jax.device_put(np.ascontiguousarray(a))


def _entries(indices: Any, values: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, features and values of the stored nonzeros, checked for repeated features."""
    indices = np.asarray(indices)
    values = np.asarray(values)
    if indices.shape != values.shape or indices.ndim != 2:
        raise ValueError(
            f"indices and values must be 2-D with equal shapes, got {indices.shape} "
            f"and {values.shape}"
        )
    rows, cols = np.nonzero(values)
    feats = indices[rows, cols].astype(np.int64)
    order = np.lexsort((feats, rows))
    rows, feats, vals = rows[order], feats[order], values[rows[order], cols[order]]
    dup = (rows[1:] == rows[:-1]) & (feats[1:] == feats[:-1])
    if np.any(dup):
        r = int(rows[1:][dup][0])
        raise ValueError(f"row {r} stores feature {int(feats[1:][dup][0])} twice; merge them")
    return rows, feats, vals


class _OneProcess:
    """How per-process summaries combine when this process holds every row: unchanged."""

    def sum(self, a: np.ndarray) -> np.ndarray:  # noqa: D102
        return a

    def max(self, a: np.ndarray) -> np.ndarray:  # noqa: D102
        return a

    def concat(self, a: np.ndarray) -> np.ndarray:  # noqa: D102
        return a


def _greedy_colors(rows: np.ndarray, feats: np.ndarray, n_rows: int, n_feat: int,
                   combine: Any = None) -> np.ndarray:
    """Colour features so that no two of one colour share a row (greedy, most frequent first).

    ``combine`` merges this process's summaries with the other processes' (the rows of a
    fit split over processes): the largest count per row, the feature pairs that share a
    row, the feature counts. Default: this process holds every row.
    """
    combine = _OneProcess() if combine is None else combine
    colors = np.zeros(n_feat, dtype=np.int64)
    per_row = np.bincount(rows, minlength=n_rows).max() if rows.size else 0
    if int(combine.max(np.asarray(per_row))) <= 1:
        return colors  # one-hot group: a single block
    x = sp.csr_matrix((np.ones(rows.size), (rows, feats)), shape=(n_rows, n_feat))
    pairs = sp.coo_matrix(x.T @ x)
    pairs = combine.concat(np.stack([pairs.row, pairs.col]).astype(np.int64))
    adj = sp.csr_matrix((np.ones(pairs.shape[1]), (pairs[0], pairs[1])), shape=(n_feat,) * 2)
    degree = combine.sum(np.diff(x.tocsc().indptr))
    colors[:] = -1
    for i in np.argsort(-degree, kind="stable"):
        nbr = colors[adj.indices[adj.indptr[i] : adj.indptr[i + 1]]]
        used = np.unique(nbr[nbr >= 0])
        free = np.flatnonzero(used != np.arange(used.size))
        colors[i] = free[0] if free.size else used.size
    return colors


def _block_of_feature(
    rows: np.ndarray, feats: np.ndarray, group_of_feature: np.ndarray, n_rows: int,
    combine: Any = None,
) -> np.ndarray:
    gof = np.asarray(group_of_feature).astype(np.int64)
    block = np.zeros(gof.size, dtype=np.int64)
    offset = 0
    for g in np.unique(gof):
        members = np.flatnonzero(gof == g)
        local = np.full(gof.size, -1)
        local[members] = np.arange(members.size)
        in_g = local[feats] >= 0
        colors = _greedy_colors(rows[in_g], local[feats[in_g]], n_rows, members.size, combine)
        block[members] = offset + colors
        offset += int(colors.max()) + 1
    return block


def color_blocks(design: Any) -> np.ndarray:
    """Split every group into exact blocks: features of one block never share a row.

    A one-hot group stays one block; a multi-hot group is split into colour classes by a
    greedy colouring of its co-occurrence graph (most frequent features first). Blocks are
    numbered group after group.

    Parameters
    ----------
    design : Design
        Any object with ``indices``, ``values`` (N, L) and ``group_of_feature`` (p,).

    Returns
    -------
    ndarray of shape (p,), int
        The block of every feature.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.data import from_sparse
    >>> from bayesfm.data.blocks import color_blocks
    >>> X = np.array([[1, 0, 1, 1, 0], [0, 1, 1, 0, 1], [1, 0, 0, 1, 1]])
    >>> color_blocks(from_sparse(X, groups=[0, 0, 1, 1, 1])).tolist()
    [0, 0, 1, 2, 3]

    """
    rows, feats, _ = _entries(design.indices, design.values)
    return _block_of_feature(rows, feats, design.group_of_feature, len(design.indices))


def _partition_blocks(
    block: np.ndarray, feats: np.ndarray, n_rows: int, layout: str, combine: Any = None,
) -> list[tuple[np.ndarray, bool]]:
    """Group blocks into sets of similar nonzero counts: ``(block ids, dense?)`` per set.

    A set is padded to its largest block, so sizes within ``SIZE_RATIO`` keep the padding
    below that factor. Dense storage costs ``N`` per block and needs no row gathers, so it is
    used where a block covers at least half of the rows.
    """
    combine = _OneProcess() if combine is None else combine
    nnz = combine.sum(np.bincount(block[feats], minlength=int(block.max()) + 1))
    n_rows = int(combine.sum(np.asarray(n_rows)))
    if layout == "dense":
        return [(np.arange(nnz.size), True)]
    order = np.argsort(-nnz, kind="stable")
    sets, start = [], 0
    while start < order.size:
        stop = order.size
        if len(sets) < MAX_BLOCK_SETS - 1:
            stop = start + int(np.sum(nnz[order[start:]] * SIZE_RATIO >= nnz[order[start]]))
        members = np.sort(order[start:stop])
        sets.append((members, layout == "auto" and 2 * nnz[order[start]] >= n_rows))
        start = stop
    return sets


def _block_set(
    members: np.ndarray,
    block: np.ndarray,
    gof: np.ndarray,
    rows: np.ndarray,
    feats: np.ndarray,
    vals: np.ndarray,
    weight: np.ndarray | None,
    n_rows: int,
    p: int,
    dtype: Any,
    dense: bool,
    put: Any = _put,
) -> BlockSet:
    """Build the padded arrays of the blocks ``members`` (entries sorted by block, then row)."""
    local = np.full(int(block.max()) + 1, -1)
    local[members] = np.arange(members.size)
    n_blocks = members.size
    # Features: slot = rank of the feature within its block.
    fb = local[block]
    mine = np.flatnonzero(fb >= 0)
    size = np.bincount(fb[mine], minlength=n_blocks)
    slot_of = np.zeros(p, dtype=np.int64)
    o = mine[np.argsort(fb[mine], kind="stable")]
    slot_of[o] = np.arange(o.size) - np.repeat(np.cumsum(size) - size, size)
    features = np.full((n_blocks, max(int(size.max()), 1)), p, dtype=np.int32)
    features[fb[mine], slot_of[mine]] = mine
    group = np.zeros(n_blocks, dtype=np.int32)
    group[fb[mine]] = gof[mine]
    # Entries.
    eb = local[block[feats]]
    keep = eb >= 0
    rows, feats, vals, eb = rows[keep], feats[keep], vals[keep], eb[keep]
    nnz = np.bincount(eb, minlength=n_blocks)
    if dense:
        width, pos = n_rows, rows
    else:
        width = max(int(nnz.max()), 1)
        pos = np.arange(rows.size) - np.repeat(np.cumsum(nnz) - nnz, nnz)
    slot = np.zeros((n_blocks, width), dtype=np.int32)
    values = np.zeros((n_blocks, width), dtype=dtype)
    slot[eb, pos] = slot_of[feats]
    values[eb, pos] = vals
    wvalues = block_rows = None
    if weight is not None:
        wvalues = np.zeros((n_blocks, width), dtype=dtype)
        wvalues[eb, pos] = weight[rows] * vals
    if not dense:
        block_rows = np.zeros((n_blocks, width), dtype=np.int32)
        block_rows[eb, pos] = rows
    return BlockSet(
        group=put(group),
        features=put(features),
        slot=put(slot),
        values=put(values),
        wvalues=None if wvalues is None else put(wvalues),
        rows=None if block_rows is None else put(block_rows),
    )


def block_sets(
    indices: Any, values: Any, group_of_feature: Any, *, n_groups: int,
    weight: np.ndarray | None = None, dtype: Any = np.float32, layout: str = "auto",
    on_device: bool = True, combine: Any = None,
) -> tuple[tuple[BlockSet, ...], np.ndarray]:
    """Every exact block of a design as padded arrays, and its complete one-hot groups.

    Parameters
    ----------
    indices, values : array-like of shape (N, L)
        Padded rows (padding: value 0). A row may not store a feature twice.
    group_of_feature : array-like of shape (p,)
    n_groups : int
    weight : ndarray of shape (N,), optional
        Per-row frequency weights (stored as ``wvalues``).
    dtype : dtype
        Float dtype of the values.
    layout : {"auto", "dense", "compact"}
        ``"dense"`` stores every block as one entry per row (no gathers or scatters on rows),
        in one set; ``"compact"`` stores only the nonzeros, in sets of similar size.
        ``"auto"`` stores blocks covering at least half of the rows dense, the rest compact.
    on_device : bool, default True
        Copy the arrays to the default device; ``False`` keeps them as NumPy arrays (for a
        caller that lays them out over several devices).
    combine : optional
        The rows are this process's share of a fit split over processes: ``combine.sum``,
        ``.max`` and ``.concat`` merge a summary over the processes, so that every process
        finds the same blocks (the compact sets' widths are then this process's).

    Returns
    -------
    blocks : tuple of BlockSet
        In sets of similar size, largest first.
    shiftable : bool ndarray of shape (G,)
        Complete one-hot groups: every row holds exactly one nonzero of the group, of value 1.
        Along ``w0 + c, w_g - c, mu_w[g] - c`` their likelihood is flat, and so along the
        factor shears of :mod:`bayesfm.engines.gibbs.shifts`. A multi-hot group whose values
        sum to 1 (values ``1/count``) is not: shifting its factors by ``c`` changes the
        interactions within the group by terms in ``c`` and ``c^2``.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm.data.blocks import block_sets
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2))
    >>> sets, shiftable = block_sets(idx, val, [0, 0, 1, 1], n_groups=2)
    >>> len(sets), sets[0].slot.shape, sets[0].features.tolist(), shiftable.tolist()
    (1, (2, 3), [[0, 1], [2, 3]], [True, True])
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    gof = np.asarray(group_of_feature).astype(np.int64)
    n_rows, p = np.asarray(indices).shape[0], gof.size
    rows, feats, vals = _entries(indices, values)
    if feats.size and (feats.min() < 0 or feats.max() >= p):
        raise ValueError(f"feature indices must lie in [0, {p}), got {feats.min()}..{feats.max()}")
    block = _block_of_feature(rows, feats, gof, n_rows, combine)
    # Entries arrive sorted by row; a stable sort by block keeps that order within a block.
    order = np.argsort(block[feats], kind="stable")
    rows, feats, vals = rows[order], feats[order], vals[order]
    sets = tuple(
        _block_set(members, block, gof, rows, feats, vals, weight, n_rows, p, dtype, dense,
                   _put if on_device else np.ascontiguousarray)
        for members, dense in _partition_blocks(block, feats, n_rows, layout, combine)
    )
    row_sums, row_counts = np.zeros((n_groups, n_rows)), np.zeros((n_groups, n_rows), np.int64)
    np.add.at(row_sums, (gof[feats], rows), vals)
    np.add.at(row_counts, (gof[feats], rows), vals != 0)
    one_hot = (row_sums == 1.0) & (row_counts == 1)
    shiftable = np.all(one_hot, axis=1) if n_rows else np.zeros(n_groups, bool)
    if combine is not None:  # complete one-hot on every process's rows
        shiftable = combine.max((~shiftable).astype(np.int64)) == 0
    return sets, shiftable
