"""Several processes, one fit: ``jax.distributed`` with CPU collectives (DESIGN section 5).

Every process runs the same program on the devices of a global mesh
(:func:`bayesfm.engines.gibbs.mesh.row_mesh` over ``jax.devices()``, which then lists the
devices of every process); the per-feature sums of the blocks are reduced across processes
by the same ``psum`` that reduces them across one process's devices. :func:`initialize`
joins the processes (with the gloo collectives on CPUs, which need no MPI); after it, a fit
with the default ``devices=None`` uses every process's devices. Each process puts only its
own devices' rows on them (a global ``NamedSharding`` transfers the addressable shards only);
the host-side block structure is still built from every row in every process.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils

__all__ = ["initialize", "to_host"]


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
