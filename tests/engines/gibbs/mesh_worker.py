"""Fits for tests/engines/gibbs/test_mesh.py, run in a process of its own.

The device count of the CPU is fixed when JAX starts (``XLA_FLAGS=
--xla_force_host_platform_device_count=N``), so the test starts this script with the flag
set. For every likelihood it fits the same simulated data with the same seed on a mesh of
one device and of all devices and saves the draws, ``<likelihood>_<devices>_<site>``, to
the ``.npz`` file named by the first argument.

Usage: ``python tests/engines/gibbs/mesh_worker.py OUT.npz N_SWEEPS``.
"""

from __future__ import annotations

import sys

import jax
import numpy as np

from bayesfm.data import from_sparse, simulate_fm
from bayesfm.engines.gibbs import run_gibbs

#: Likelihood -> (task of the simulated data, extra run_gibbs arguments).
CASES = {"gaussian": ("regression", {}), "probit": ("binary", {}),
         "ordinal": ("ordinal", {"n_classes": 4})}
#: Not a multiple of 2 or 4: the layouts over several devices carry padding rows.
N_ROWS = 203


def fits(n_sweeps: int) -> dict[str, np.ndarray]:
    """Every case on one device and on all of them, with ``n_sweeps`` kept sweeps."""
    out = {}
    for lik, (task, kw) in CASES.items():
        sim = simulate_fm(N_ROWS, group_sizes=(8, 6, 4), rank=2, task=task, seed=3)
        d = from_sparse(sim.X, groups=sim.groups, dtype=np.float32)
        for n_dev in sorted({1, len(jax.devices())}):
            draws = run_gibbs(d.indices, d.values, d.group_of_feature, sim.y,
                              n_groups=d.n_groups, rank=2, likelihood=lik, num_warmup=0,
                              num_samples=n_sweeps, num_chains=1, progress_bar=False,
                              rng_key=jax.random.key(11), devices=n_dev,
                              ref_rows=np.arange(0, N_ROWS, 20), **kw)
            out.update({f"{lik}_{n_dev}_{k}": np.asarray(v)[0] for k, v in draws.items()})
    return out


def svi_fits() -> dict[str, np.ndarray]:
    """SVI's losses on one device and on all, full batch and minibatches of 40 rows."""
    from bayesfm.engines import FitProblem
    from bayesfm.engines.svi import run_svi
    from bayesfm.model import get_interaction, get_likelihood

    sim = simulate_fm(200, group_sizes=(8, 6, 4), rank=2, seed=3)  # 200 rows: 50 a device
    d = from_sparse(sim.X, groups=sim.groups, dtype=np.float32)
    problem = FitProblem(d, sim.y, get_likelihood("gaussian"), get_interaction("fm"), 2)
    out = {}
    for batch in (None, 40):
        for n_dev in sorted({1, len(jax.devices())}):
            res = run_svi(problem, rng_key=jax.random.key(0), num_steps=200, check_every=100,
                          batch_size=batch, num_samples=10, progress_bar=False, devices=n_dev)
            out[f"svi_{batch or 'full'}_{n_dev}_elbo"] = res.extras["elbo"]
            out[f"svi_{batch or 'full'}_{n_dev}_w0"] = res.samples["w0"]
    return out


def estimator_attrs() -> dict[str, int]:
    """The mesh an estimator fit with the default ``devices`` records."""
    from bayesfm import BayesianFMRegressor

    sim = simulate_fm(N_ROWS, group_sizes=(8, 6, 4), rank=2, seed=3)
    est = BayesianFMRegressor(rank=2, num_warmup=2, num_samples=4, num_chains=1,
                              progress_bar=False, random_state=0)
    attrs = est.fit(sim.X, sim.y, groups=sim.groups).idata_.attrs
    return {f"attrs_{k}": int(attrs[k]) for k in ("num_devices", "num_processes")}


if __name__ == "__main__":
    np.savez(sys.argv[1], n_devices=len(jax.devices()), **fits(int(sys.argv[2])),
             **estimator_attrs(), **svi_fits())
