"""Rows split over a device mesh (bayesfm.engines.gibbs.mesh): the draws do not depend on it.

The fits run in a subprocess with four CPU devices (``mesh_worker.py``; the device count is
fixed when JAX starts). 203 rows do not split into four, so the four-device layout carries a
zero-weight padding row: were it counted, ``tau``'s Gamma shape and ``w0``'s precision would
move by 1/203 and the first draws would differ by far more than the tolerance.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from bayesfm.engines.gibbs.mesh import padded_rows, row_mesh

WORKER = Path(__file__).with_name("mesh_worker.py")
ROOT = Path(__file__).resolve().parents[3]
#: Sweeps the worker keeps: the exact first-draws test needs 5; the Monte Carlo test
#: (``--runslow``) compares sweeps 100 .. 500.
N_SWEEPS, N_SWEEPS_SLOW = 5, 500


def run_worker(tmp_path: Path, n_devices: int, n_sweeps: int) -> dict[str, np.ndarray]:
    """Run ``mesh_worker.py`` with ``n_devices`` CPU devices; return its draws."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={n_devices}",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "draws.npz"
    done = subprocess.run([sys.executable, str(WORKER), str(out), str(n_sweeps)], env=env,
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def draws(request, tmp_path_factory):
    # The default run keeps 5 sweeps (worker CPU time 120 s, 141 s with 500): most of the
    # fixture is compiling the sharded programs, which the 500 sweeps of the Monte Carlo
    # test only add to.
    slow = request.config.getoption("--runslow")
    return run_worker(tmp_path_factory.mktemp("mesh"), 4, N_SWEEPS_SLOW if slow else N_SWEEPS)


def _sites(draws: dict, lik: str) -> list[str]:
    return sorted(k[len(f"{lik}_1_"):] for k in draws if k.startswith(f"{lik}_1_"))


@pytest.mark.xdist_group("mesh")
@pytest.mark.parametrize("lik", ["gaussian", "probit", "ordinal"])
def test_four_devices_make_the_one_device_draws_for_five_sweeps(draws, lik):
    assert int(draws["n_devices"]) == 4
    # float32 sums over rows in another order: a site's first draws agree to 1e-4 of
    # their own scale (measured: at most 4e-5 relative before the scale floor); a changed
    # draw, or a padding row that counts, moves them by 1e-3 .. 1.
    for site in _sites(draws, lik):
        one, four = draws[f"{lik}_1_{site}"][:5], draws[f"{lik}_4_{site}"][:5]
        assert one.shape == four.shape, site
        scale = np.nanmax(np.abs(one)) if one.size else 0.0
        np.testing.assert_allclose(four, one, rtol=1e-4, atol=1e-4 * scale, err_msg=site)


@pytest.mark.slow
@pytest.mark.xdist_group("mesh")
@pytest.mark.parametrize("lik", ["gaussian", "probit", "ordinal"])
def test_four_devices_agree_with_one_within_monte_carlo_error(draws, lik):
    # With --runslow only (500 sweeps). The default run's check of the same fits is the test
    # above: every site's first five draws on four devices equal the one-device draws to
    # 1e-4, which a counted padding row (shifts of 1e-3 .. 1) or any changed draw fails; this
    # one adds that the two chains keep agreeing in law over 400 more sweeps.
    # Identifiable quantities (DESIGN section 4) over sweeps 100 .. 500: the two means
    # differ by less than 4 standard errors of their difference, each chain's error from
    # 20 batch means (batches of 20 sweeps are far longer than these chains' correlation).
    # Four standard errors over 3 x 14 quantities fail by chance with probability < 0.3%.
    names = ["w0", "log_likelihood", "eta_ref"] + (["tau"] if lik == "gaussian" else []) + (
        ["cutpoints"] if lik == "ordinal" else [])
    for name in names:
        one, four = (draws[f"{lik}_{d}_{name}"][100:] for d in (1, 4))
        batches = [x.reshape(20, -1, *x.shape[1:]).mean(axis=1) for x in (one, four)]
        se = np.sqrt(sum(b.var(axis=0, ddof=1) / 20 for b in batches))
        gap = np.abs(one.mean(axis=0) - four.mean(axis=0))
        assert np.all(gap <= 4 * se + 1e-6), (name, gap, se)


@pytest.mark.xdist_group("mesh")
def test_an_estimator_uses_every_device_by_default_and_says_so(draws):
    assert int(draws["attrs_num_devices"]) == 4
    assert int(draws["attrs_num_processes"]) == 1


@pytest.mark.xdist_group("mesh")
@pytest.mark.parametrize("batch", ["full", "40"])
def test_svi_on_four_devices_takes_the_one_device_steps(draws, batch):
    # Data-parallel SVI: the rows laid out over the mesh, the same minibatches from the same
    # key; 200 steps of float32 losses agree to 1e-5 relative (measured: 2.3e-7), while a
    # changed minibatch moves a loss by percents.
    one, four = (draws[f"svi_{batch}_{d}_elbo"] for d in (1, 4))
    assert one.shape == four.shape == (200,)
    np.testing.assert_allclose(four, one, rtol=1e-5)
    np.testing.assert_allclose(draws[f"svi_{batch}_4_w0"], draws[f"svi_{batch}_1_w0"],
                               rtol=1e-4, atol=1e-5)


def test_the_mesh_is_validated():
    n = len(jax.devices())
    assert row_mesh(None).devices.size == n and row_mesh(1).devices.size == 1
    for bad in (0, n + 1, -1):
        with pytest.raises(ValueError, match="device"):
            row_mesh(bad)
    with pytest.raises(ValueError, match="devices must be"):
        row_mesh("gpu")
    assert padded_rows(203, row_mesh(1)) == 203
