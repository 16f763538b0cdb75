"""Several processes, one fit: ``jax.distributed`` with CPU collectives (DESIGN section 5).

Every process runs the same program on the devices of a global mesh
(:func:`bayesfm.engines.gibbs.mesh.row_mesh` over ``jax.devices()``, which then lists the
devices of every process); the per-feature sums of the blocks are reduced across processes
by the same ``psum`` that reduces them across one process's devices. :func:`initialize`
joins the processes (with the gloo collectives on CPUs, which need no MPI); after it, a fit
with the default ``devices=None`` uses every process's devices.

Input layout: either every process passes every row (each then puts only its own devices'
rows on them), or, with ``process_rows=True`` (:func:`bayesfm.engines.gibbs.run_gibbs`),
process ``p`` passes only its share, rows ``p M .. (p + 1) M - 1`` of the training set, ``M``
the same in every process and a multiple of its number of devices (one file or array shard
per process). The processes then agree on the blocks through small summaries merged by
:class:`AllProcesses` (feature counts, the largest count per row of each group, and for
multi-hot groups the feature pairs that share a row), never by exchanging rows.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

__all__ = ["AllProcesses", "initialize", "to_host"]


def initialize(coordinator_address: str, num_processes: int, process_id: int,
               **kwargs: Any) -> None:
    """Join this process to a fit of ``num_processes`` processes (``jax.distributed``).

    Call it first, before any JAX computation, in every process, with the same
    ``coordinator_address`` (``host:port`` of process 0) and this process's ``process_id``.
    On CPUs the collectives are gloo's; ``kwargs`` go to :func:`jax.distributed.initialize`
    (e.g. ``local_device_ids``).
    """
    if jax.config.jax_platforms in (None, "", "cpu") or "cpu" in str(jax.config.jax_platforms):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address, num_processes=num_processes,
                               process_id=process_id, **kwargs)


def to_host(a: Any) -> np.ndarray:
    """Return a NumPy copy of a result, gathered from every process where it is split."""
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(a, tiled=True))
    return np.asarray(a)


class AllProcesses:
    """Merge a host-side summary over every process (``multihost_utils.process_allgather``).

    ``sum`` and ``max`` act element-wise over the processes' arrays (of one shape);
    ``concat`` joins their last axes (of any lengths), in process order.
    """

    def gather(self, a: Any) -> np.ndarray:
        """Every process's ``a``, stacked on a new first axis (process order)."""
        return np.asarray(multihost_utils.process_allgather(np.asarray(a)))

    def sum(self, a: np.ndarray) -> np.ndarray:  # noqa: D102
        return self.gather(a).sum(axis=0)

    def max(self, a: np.ndarray) -> np.ndarray:  # noqa: D102
        return self.gather(a).max(axis=0)

    def concat(self, a: np.ndarray) -> np.ndarray:  # noqa: D102
        lengths = self.gather(np.asarray(a.shape[-1]))
        pad = [(0, 0)] * (a.ndim - 1) + [(0, int(lengths.max()) - a.shape[-1])]
        parts = self.gather(np.pad(a, pad))
        return np.concatenate([p[..., :n] for p, n in zip(parts, lengths, strict=True)], -1)
