"""Two processes joined by jax.distributed make the draws of one process (bayesfm.engines.hosts).

Both runs see four CPU devices: one process with four, or two processes with two each,
joined over gloo on this machine, each passing either every row or only its half
(``process_rows=True``). 204 rows split into 51 per device every way, so the layouts (and
each row's random draws) are the same, and the draws differ only by the rounding of the
cross-device sums. The design has a multi-hot group, whose colouring the processes must
agree on from their own rows' feature pairs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("hosts_worker.py")
ROOT = Path(__file__).resolve().parents[3]


def _env(n_devices: int) -> dict[str, str]:
    return {**os.environ, "JAX_PLATFORMS": "cpu",
            "XLA_FLAGS": f"--xla_force_host_platform_device_count={n_devices}",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.slow
@pytest.mark.xdist_group("subprocesses")
@pytest.mark.parametrize("share", [1, 0], ids=["each reads its share", "each reads all"])
def test_two_processes_of_two_devices_make_the_draws_of_one_process_of_four(tmp_path, share):
    one = tmp_path / "one.npz"
    done = subprocess.run([sys.executable, str(WORKER), str(one), "0", "1", "0", "0"],
                          env=_env(4), capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    two, port = tmp_path / "two.npz", _free_port()
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(two), str(i), "2", str(port),
                               str(share)], env=_env(2), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
    a, b = _load(one), _load(two)
    assert (int(a["n_devices"]), int(a["n_processes"])) == (4, 1)
    assert (int(b["n_devices"]), int(b["n_processes"])) == (4, 2)
    sites = sorted(k for k in a if not k.startswith("n_"))
    assert "log_likelihood_pointwise" in sites  # split over the processes, gathered back
    for site in sites:
        scale = np.nanmax(np.abs(a[site]))
        np.testing.assert_allclose(b[site], a[site], rtol=1e-4, atol=1e-4 * scale,
                                   err_msg=site)
