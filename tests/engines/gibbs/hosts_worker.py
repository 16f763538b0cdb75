"""One process of tests/engines/gibbs/test_hosts.py: a fit joined over processes.

Usage: ``python hosts_worker.py OUT.npz PROCESS_ID NUM_PROCESSES PORT SHARE`` with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` set. With more than one process it
joins them by :func:`bayesfm.engines.hosts.initialize` (gloo collectives on the CPU); every
process then fits on the global mesh (every process's devices) and process 0 saves the
first sweeps' draws. ``SHARE=1``: each process passes only its share of the rows
(``process_rows=True``: rows ``p M .. (p + 1) M - 1``), else every row.
"""

from __future__ import annotations

import sys

out, process_id, num_processes, port, share = sys.argv[1], *map(int, sys.argv[2:6])
if num_processes > 1:  # before any JAX computation
    from bayesfm.engines.hosts import initialize

    initialize(f"localhost:{port}", num_processes, process_id)

import jax  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from bayesfm.data import from_sparse, simulate_fm  # noqa: E402
from bayesfm.engines.gibbs import run_gibbs  # noqa: E402

# Three one-hot groups and a multi-hot one (two of five features a row): the processes must
# agree on a colouring of its features from the pairs each one's rows hold.
sim = simulate_fm(204, group_sizes=(8, 6, 4), rank=2, task="binary", seed=3)
rng = np.random.default_rng(0)
multi = np.zeros((204, 5))
for n in range(204):
    multi[n, rng.choice(5, size=2, replace=False)] = 0.5
X = sp.hstack([sim.X, sp.csr_matrix(multi)]).tocsr()
d = from_sparse(X, groups=np.concatenate([sim.groups, [3] * 5]), dtype=np.float32)
rows = slice(None)
if share:  # this process reads only its share
    m = d.n_rows // num_processes
    rows = slice(process_id * m, (process_id + 1) * m)
draws = run_gibbs(d.indices[rows], d.values[rows], d.group_of_feature, sim.y[rows],
                  n_groups=d.n_groups, rank=2, likelihood="probit", num_warmup=0,
                  num_samples=5, num_chains=1, progress_bar=False, rng_key=jax.random.key(11),
                  pointwise_log_likelihood=True, process_rows=bool(share),
                  ref_rows=np.arange(0, 204, 25))
if process_id == 0:
    np.savez(out, n_devices=len(jax.devices()), n_processes=jax.process_count(), **draws)
