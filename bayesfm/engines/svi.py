"""Stochastic variational inference with an autoguide, minibatches and early stopping."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from numpyro.infer import SVI, Predictive, Trace_ELBO, init_to_uniform
from numpyro.infer.autoguide import AutoDelta, AutoLowRankMultivariateNormal, AutoNormal
from numpyro.optim import Adam
from tqdm.auto import tqdm

from bayesfm.engines.gibbs.mesh import ROWS, replicated, row_mesh, row_sharded
from bayesfm.engines.problem import EngineResult, FitProblem
from bayesfm.model import fm_model

__all__ = ["GUIDES", "run_svi"]

#: Guide names accepted by :func:`run_svi`.
GUIDES = ("normal", "lowrank", "map")


def _make_guide(name: str, init_radius: float, model: Any = fm_model) -> Any:
    init = init_to_uniform(radius=init_radius)
    if name == "normal":
        return AutoNormal(model, init_loc_fn=init, init_scale=0.01)
    if name == "lowrank":
        return AutoLowRankMultivariateNormal(model, init_loc_fn=init, init_scale=0.01)
    if name == "map":
        return AutoDelta(model, init_loc_fn=init)
    raise ValueError(f"unknown guide {name!r}; valid: {', '.join(GUIDES)}")


def run_svi(
    problem: FitProblem,
    *,
    rng_key: jax.Array,
    guide: str = "normal",
    num_steps: int = 20_000,
    learning_rate: float = 0.01,
    batch_size: int | None = None,
    num_samples: int = 1000,
    num_particles: int = 1,
    check_every: int = 250,
    patience: int = 4,
    tol: float = 1e-4,
    init_radius: float = 0.1,
    progress_bar: bool = True,
    devices: Any = None,
) -> EngineResult:
    """Fit an autoguide by SVI, then draw ``num_samples`` from it as one chain.

    Early stopping: the loss is averaged over windows of ``check_every`` steps; the run
    stops once ``patience`` windows in a row improve the best windowed loss by less than
    ``tol`` relative to its magnitude.

    Parameters
    ----------
    problem : FitProblem
    rng_key : jax.Array
    guide : {"normal", "lowrank", "map"}
        AutoNormal (default), AutoLowRankMultivariateNormal, or AutoDelta (MAP: every
        draw is the same point, so intervals are zero-width).
    num_steps : int
        Upper bound on optimisation steps.
    learning_rate : float
        Adam step size.
    batch_size : int, optional
        Minibatch size through ``plate("obs", N, subsample_size=batch_size)``; ``None``
        uses every row at every step.
    num_samples : int
        Draws taken from the fitted guide.
    num_particles : int
        ELBO particles per step.
    check_every, patience : int
    tol : float
    init_radius : float
    progress_bar : bool
    devices : int, sequence of devices or None, default None
        Data parallelism (DESIGN section 5): the rows are laid out split over these devices
        (:func:`bayesfm.engines.gibbs.mesh.row_mesh`; ``None``: every device), and the
        compiler splits each step's minibatch (or the full batch) over them and reduces
        the gradients. The steps are those of one device up to the rounding of the sums.
        Rows that do not split evenly stay on one device's layout (no padding: a padded
        row would change the minibatches' scale).

    Returns
    -------
    EngineResult
        ``extras["elbo"]`` holds the loss (negative ELBO) of every step run.
    """
    d = problem.design
    n = d.n_rows
    subsample = None if batch_size is None or batch_size >= n else int(batch_size)
    g = _make_guide(guide, init_radius, fm_model)
    svi = SVI(fm_model, g, Adam(learning_rate),
              Trace_ELBO(num_particles=num_particles))
    mesh = row_mesh(devices)
    split = mesh.devices.size > 1 and n % mesh.devices.size == 0
    rows, rep = (row_sharded(mesh), replicated(mesh)) if split else (None, None)
    by_row = None if rows is None else NamedSharding(mesh, P(ROWS, None))
    args = (
        jax.device_put(d.indices, by_row),
        jax.device_put(d.values, by_row),
        jax.device_put(d.group_of_feature, rep),
        jax.device_put(np.asarray(problem.y, dtype=d.values.dtype), rows),
    )
    kwargs = dict(problem.model_kwargs(), subsample_size=subsample)
    key_init, key_draw = jax.random.split(rng_key)
    # Jitted so that initialisation is one compiled program, not hundreds of eager ops.
    state = jax.jit(partial(svi.init, **kwargs))(key_init, *args)

    @partial(jax.jit, static_argnums=1)
    def run_chunk(state: Any, length: int) -> tuple[Any, jax.Array]:
        def body(s: Any, _: None) -> tuple[Any, jax.Array]:
            return svi.update(s, *args, **kwargs)

        return jax.lax.scan(body, state, None, length=length)

    losses: list[np.ndarray] = []
    best = np.inf
    stale = 0
    bar = tqdm(total=num_steps, desc="SVI", disable=not progress_bar, leave=False)
    done = 0
    while done < num_steps:
        length = min(check_every, num_steps - done)
        state, chunk = run_chunk(state, length)
        chunk = np.asarray(chunk)
        losses.append(chunk)
        done += length
        window = float(np.mean(chunk))
        bar.update(length)
        bar.set_postfix(loss=f"{window:.4g}")
        if not np.isfinite(window):
            bar.close()
            raise FloatingPointError(
                f"SVI loss became {window} after {done} steps; lower learning_rate "
                f"(now {learning_rate})"
            )
        if window < best - tol * abs(best) if np.isfinite(best) else True:
            best = window
            stale = 0
        else:
            stale += 1
            if stale >= patience:
                break
    bar.close()
    params = jax.jit(svi.get_params)(state)
    sites = list(problem.sites())
    pred = Predictive(fm_model, guide=g, params=params, num_samples=num_samples,
                      return_sites=sites)
    draws = jax.jit(partial(pred, **problem.model_kwargs()))(key_draw, *args[:3])
    samples = {k: np.asarray(v)[None] for k, v in draws.items()}
    elbo = np.concatenate(losses)
    return EngineResult(samples, {}, "svi", {"elbo": elbo, "num_steps": np.asarray(done)})
