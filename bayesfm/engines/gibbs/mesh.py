"""Rows split over a device mesh: the Gibbs sweep's data layout and its row-local programs.

DESIGN section 5: the rows are split across devices, every block update needs only the
per-feature sums of ``s h^2`` and ``s h e``, which are summed across devices, and the
hyperparameters are tiny and replicated. One code path serves every case: one device is a
mesh of size one (:func:`row_mesh`).

The sweep runs as one jit-compiled program over arrays laid out on the mesh: every per-row
array (``y``, weights, the residual ``e``, the factor sums ``q``, the latents ``z``,
``omega``) is split along its row axis, every parameter replicated. Element-wise work and
sums over rows are left to the compiler (sharded ``jit``: a sum over rows becomes a local
sum and an all-reduce), and the random draws of the row latents come from the same key as on
one device (JAX's partitionable Threefry draws every element from its global index, so a
device makes only its own rows' draws and they equal the one-device ones). What indexes
rows through the blocks' entry lists (the block loops, the caches' recomputation) runs in
:func:`on_rows_of_each_device`, a ``shard_map`` whose body sees one device's rows with
*local* row numbers, and whose per-feature sums are reduced by :func:`sum_over_devices`.

Rows are padded to a multiple of the device count with zero-weight rows (no features, zero
target, weight 0): every sum over rows is weighted, so they contribute nothing. The same
padding gives small designs *shape buckets* (:func:`row_bucket`): a fit of 41 rows and one of
43 run the program compiled for 48, so a new row count need not compile again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

__all__ = ["BUCKET_MAX_ROWS", "ROWS", "data_specs", "lay_out_block_set",
           "on_rows_of_each_device", "padded_rows", "place", "replicated", "row_bucket",
           "row_mesh", "row_sharded", "sum_over_devices"]

#: Name of the mesh axis the rows are split over.
ROWS = "rows"
#: Designs of fewer rows than this are padded to a shape bucket (:func:`row_bucket`); larger
#: ones keep their row count: there the sweeps, not the compilation, are the user's wait,
#: and a padded row would cost as much as a real one.
BUCKET_MAX_ROWS = 16384
#: The smallest bucket: compiling for 64 rows costs what compiling for 10 does.
MIN_BUCKET = 64


def row_bucket(n: int) -> int:
    """Return the shape bucket of ``n`` rows (or entries): ``n`` rounded up to a bucket size.

    The sizes are 64, then four per doubling (``2^e``, ``1.25 2^e``, ``1.5 2^e``,
    ``1.75 2^e``), so padding adds at most a quarter; from :data:`BUCKET_MAX_ROWS` on, ``n``
    itself. Programs compiled for one size serve every design of that bucket (the sweep is
    compiled per shape), which matters for the many small fits of a notebook, a
    cross-validation or a test suite: each new shape costs seconds of compilation.

    Examples
    --------
    >>> [row_bucket(n) for n in (1, 64, 65, 100, 120, 129, 20000)]
    [64, 64, 80, 112, 128, 160, 20000]
    """
    n = int(n)
    if n >= BUCKET_MAX_ROWS:
        return n
    if n <= MIN_BUCKET:
        return MIN_BUCKET
    step = 1 << max((n - 1).bit_length() - 3, 0)  # a quarter of the power of two below
    return -(-n // step) * step


def row_mesh(devices: Any = None) -> Mesh:
    """Return the one-axis mesh the rows are split over.

    ``devices`` is ``None`` (every device of every process: ``jax.devices()``), a count
    ``n`` (the first ``n`` of them), or a sequence of devices.

    Examples
    --------
    >>> row_mesh(1).devices.shape, row_mesh(1).axis_names
    ((1,), ('rows',))
    """
    available = jax.devices()
    if devices is None:
        chosen: Sequence[Any] = available
    elif isinstance(devices, int | np.integer) and not isinstance(devices, bool):
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices={devices} but {len(available)} device(s) are available "
                             f"({available[0].platform}); pass 1 .. {len(available)} or None")
        chosen = available[: int(devices)]
    else:
        chosen = list(devices)
        if not chosen or not all(isinstance(d, jax.Device) for d in chosen):
            raise ValueError("devices must be None, a positive count, or a non-empty list of "
                             f"jax devices, got {devices!r}")
    return Mesh(np.asarray(chosen, dtype=object), (ROWS,))


def padded_rows(n_rows: int, mesh: Mesh) -> int:
    """Rows after padding to a multiple of the mesh size (each device holds as many)."""
    size = mesh.devices.size
    return -(-max(n_rows, 1) // size) * size


def row_sharded(mesh: Mesh, ndim: int = 1) -> NamedSharding:
    """Sharding of an array whose last axis is the rows."""
    return NamedSharding(mesh, P(*([None] * (ndim - 1)), ROWS))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding of an array every device holds whole."""
    return NamedSharding(mesh, P())


def data_specs(data: Any) -> Any:
    """``PartitionSpec`` pytree of a :class:`~.blocks.GibbsData` (``shard_map``'s in_specs)."""
    blocks = tuple(
        bs._replace(group=P(), features=P(), slot=P(None, ROWS), values=P(None, ROWS),
                    wvalues=None if bs.wvalues is None else P(None, ROWS),
                    rows=None if bs.rows is None else P(None, ROWS))
        for bs in data.blocks)
    return data._replace(y=P(ROWS), weight=None if data.weight is None else P(ROWS),
                         group_of_feature=P(), group_size=P(), blocks=blocks, shiftable=P(),
                         relations=jax.tree.map(lambda _: P(), data.relations))


def on_rows_of_each_device(
    fn: Callable[..., Any], mesh: Mesh, in_specs: tuple, out_specs: Any
) -> Callable[..., Any]:
    """Run ``fn`` on every device's rows (``jax.shard_map``), local row numbers inside.

    A per-row argument has the spec ``P(ROWS)`` (or ``P(None, ROWS)`` for ``(C, N)``), a
    replicated one ``P()``; :func:`data_specs` gives the data's. ``fn`` must reduce what it
    sums over rows with :func:`sum_over_devices` before a replicated result depends on it.
    """
    return jax.shard_map(fn, mesh=mesh, in_specs=in_specs, out_specs=out_specs)


def sum_over_devices(x: Any) -> Any:
    """Sum per-device partial sums over the row axis (inside :func:`on_rows_of_each_device`)."""
    return jax.lax.psum(x, ROWS)


def lay_out_block_set(bs: Any, n_rows: int, mesh: Mesh, weighted: bool,
                      processes: Any = None, n_pad: int | None = None,
                      bucket: bool = False) -> Any:
    """Lay a host-side block set out over the mesh: each device gets its rows' entries.

    ``bs`` holds NumPy arrays over ``n_rows`` global rows (:func:`bayesfm.data.blocks.
    block_sets` with ``on_device=False``). A dense set is padded to :func:`padded_rows` and
    split along its rows. A compact set's entries (sorted by row within each block) are
    split by the device owning their row, padded to the longest block share ``R_l`` and
    stored as ``(B, D R_l)``, device ``d``'s share in columns ``d R_l .. (d + 1) R_l`` with
    row numbers local to that device. ``weighted`` makes sure ``wvalues`` exists (a padded
    layout weighs every row). On one device nothing moves: the arrays are those of the
    one-device layout. ``processes`` (:class:`bayesfm.engines.hosts.AllProcesses`): ``bs``
    holds this process's share of the rows, laid out over its own devices, which hold
    ``n_rows`` (no padding) and the longest share of every process's. ``n_pad``: the rows
    after padding (default :func:`padded_rows`); ``bucket`` (never with ``processes``): a
    compact set's entries per block are padded to their :func:`row_bucket` too.
    """
    local = processes is not None
    n_dev = jax.local_device_count() if local else mesh.devices.size
    if n_pad is None:
        n_pad = n_rows if local else padded_rows(n_rows, mesh)
    wvalues = bs.wvalues if bs.wvalues is not None or not weighted else bs.values.copy()
    parts: dict[str, np.ndarray | None] = {"slot": bs.slot, "values": bs.values,
                                           "wvalues": wvalues}
    if bs.rows is None:
        pad = ((0, 0), (0, n_pad - bs.slot.shape[1]))
        parts = {k: None if a is None else np.pad(a, pad) for k, a in parts.items()}
        rows: np.ndarray | None = None
    else:
        n_local = n_pad // n_dev
        n_blocks, width = bs.slot.shape
        real = bs.values != 0  # stored nonzeros; padding entries hold value 0
        dev = np.where(real, bs.rows // n_local, n_dev)  # padding to a dump column
        counts = np.stack([np.sum(dev == d, axis=1) for d in range(n_dev)], axis=1)
        share = max(int(counts.max()), 1)
        share = int(processes.max(np.asarray(share))) if local else share
        share = row_bucket(share) if bucket else share
        start = np.cumsum(counts, axis=1) - counts
        b_idx, r_idx = np.nonzero(real)
        d_idx = dev[b_idx, r_idx]
        col = d_idx * share + r_idx - start[b_idx, d_idx]
        out: dict[str, np.ndarray | None] = {}
        for k, a in {**parts, "rows": bs.rows - dev.clip(max=n_dev - 1) * n_local}.items():
            if a is None:
                out[k] = None
                continue
            new = np.zeros((n_blocks, n_dev * share), a.dtype)
            new[b_idx, col] = a[b_idx, r_idx]
            out[k] = new
        rows = out.pop("rows")
        parts = out
    rep, split = replicated(mesh), row_sharded(mesh, 2)

    def put(a: np.ndarray | None, sharding: NamedSharding) -> jax.Array | None:
        return None if a is None else place(a, sharding, local)

    return bs._replace(group=put(bs.group, rep), features=put(bs.features, rep),
                       slot=put(parts["slot"], split), values=put(parts["values"], split),
                       wvalues=put(parts["wvalues"], split), rows=put(rows, split))


def place(a: np.ndarray, sharding: NamedSharding, process_rows: bool = False) -> jax.Array:
    """Put a host array on the mesh; ``process_rows``: ``a`` holds this process's rows only.

    A replicated array is the same in every process; a row-split one is then this process's
    part (its devices' columns, in order), and the global array has ``process_count``
    times its rows.
    """
    a = np.ascontiguousarray(a)
    if not process_rows:
        return jax.device_put(a, sharding)
    n_proc = jax.process_count() if sharding.spec else 1
    shape = (*a.shape[:-1], a.shape[-1] * n_proc) if a.ndim else a.shape
    return jax.make_array_from_process_local_data(sharding, a, shape)
