"""One process of tests/engines/gibbs/test_hosts.py: a fit joined over processes.

Usage: ``python hosts_worker.py OUT.npz PROCESS_ID NUM_PROCESSES PORT`` with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` set. With more than one process it
joins them by :func:`bayesfm.engines.hosts.initialize` (gloo collectives on the CPU); every
process then fits on the global mesh (every process's devices) and process 0 saves the
first sweeps' draws.
"""

from __future__ import annotations

import sys

out, process_id, num_processes, port = sys.argv[1], *map(int, sys.argv[2:5])
if num_processes > 1:  # before any JAX computation
    from bayesfm.engines.hosts import initialize

    initialize(f"localhost:{port}", num_processes, process_id)

import jax  # noqa: E402
import numpy as np  # noqa: E402

from bayesfm.data import from_sparse, simulate_fm  # noqa: E402
from bayesfm.engines.gibbs import run_gibbs  # noqa: E402

sim = simulate_fm(204, group_sizes=(8, 6, 4), rank=2, task="binary", seed=3)
d = from_sparse(sim.X, groups=sim.groups, dtype=np.float32)
draws = run_gibbs(d.indices, d.values, d.group_of_feature, sim.y, n_groups=d.n_groups, rank=2,
                  likelihood="probit", num_warmup=0, num_samples=5, num_chains=1,
                  progress_bar=False, rng_key=jax.random.key(11),
                  pointwise_log_likelihood=True)
if process_id == 0:
    np.savez(out, n_devices=len(jax.devices()), n_processes=jax.process_count(), **draws)
