"""Stochastic variational inference with an autoguide, minibatches and early stopping."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from numpyro.handlers import substitute
from numpyro.infer import SVI, Predictive, Trace_ELBO, init_to_uniform
from numpyro.infer.autoguide import AutoDelta, AutoLowRankMultivariateNormal, AutoNormal
from numpyro.optim import Adam
from tqdm.auto import tqdm

from bayesfm.engines.gibbs.mesh import ROWS, replicated, row_mesh, row_sharded
from bayesfm.engines.problem import EngineResult, FitProblem
from bayesfm.model import fm_model

__all__ = ["GUIDES", "auto_batch_size", "check_batch_size", "minibatch_rows", "run_svi"]

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


#: Rows up to which ``batch_size="auto"`` keeps every row in every step.
FULL_BATCH_ROWS = 8192
#: Floats of a neural part's activations that an automatic minibatch holds at most.
BATCH_ACTIVATIONS = 2**22


def check_batch_size(batch_size: Any) -> None:
    """Refuse a string ``batch_size`` other than ``"auto"`` (integers are checked by callers)."""
    if isinstance(batch_size, str) and batch_size != "auto":
        raise ValueError(f"batch_size must be a positive int, 'auto' or None, got "
                         f"{batch_size!r}")


def auto_batch_size(problem: FitProblem) -> int | None:
    """Return the minibatch size that ``batch_size="auto"`` picks for ``problem``.

    Every row in every step (``None``) up to :data:`FULL_BATCH_ROWS` rows; above, 4,096
    rows, or for a neural interaction term the largest power of two (at least 256) whose
    activations stay under :data:`BATCH_ACTIVATIONS` floats. A full-batch step costs time in
    proportion to the rows (on frappe's 57,722 rows an input-aware FM step takes about
    130 ms full-batch against 10-15 ms at 4,096 rows).

    Examples
    --------
    >>> from bayesfm.engines.svi import FULL_BATCH_ROWS, BATCH_ACTIVATIONS
    >>> FULL_BATCH_ROWS, BATCH_ACTIVATIONS // 4400  # frappe's CFM: 4,400 floats per row
    (8192, 953)
    """
    d = problem.design
    if d.n_rows <= FULL_BATCH_ROWS:
        return None
    acts = problem.interaction.activations_per_row(d.n_groups, problem.rank)
    size = 4096
    while acts and size > 256 and size * acts > BATCH_ACTIVATIONS:
        size //= 2
    return size


def _batched_model(*args: Any, rows: jax.Array | None = None, **kwargs: Any) -> None:
    """:func:`fm_model` whose minibatch rows (the ``obs`` plate's indices) are ``rows``.

    numpyro's own subsampling draws the indices without replacement by a Fisher-Yates scan
    over the whole row range at every step (on CPU about 10 ms for 57,722 rows, more than
    the step itself at small batches); handing the plate its indices lets a chunk of steps
    share a few permutations.
    """
    if rows is None:
        fm_model(*args, **kwargs)
        return
    with substitute(data={"obs": rows}):
        fm_model(*args, **kwargs)


def minibatch_rows(key: jax.Array, n_rows: int, batch_size: int, steps: int) -> jax.Array:
    """Row indices of ``steps`` minibatches of ``batch_size``, shape ``(steps, batch_size)``.

    The batches are consecutive slices of fresh random permutations of the rows (an epoch
    visits every row once; a batch that straddles two epochs may repeat a row), so each
    index is uniform over the rows and the rescaled minibatch ELBO stays unbiased. When the
    chunk needs less than a quarter of an epoch, the indices are drawn with replacement
    instead, which costs no sort of the whole row range.
    """
    total = steps * batch_size
    if 4 * total < n_rows:
        return jax.random.randint(key, (steps, batch_size), 0, n_rows)
    epochs = -(-total // n_rows)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n_rows))(
        jax.random.split(key, epochs))
    return perms.reshape(-1)[:total].reshape(steps, batch_size)


def run_svi(
    problem: FitProblem,
    *,
    rng_key: jax.Array,
    guide: str = "normal",
    num_steps: int = 20_000,
    learning_rate: float = 0.01,
    batch_size: int | str | None = "auto",
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
    batch_size : int, "auto" or None, default "auto"
        Minibatch size through ``plate("obs", N, subsample_size=batch_size)``, the rows of
        each step taken from random permutations (:func:`minibatch_rows`); ``None`` uses
        every row at every step; ``"auto"``: :func:`auto_batch_size`.
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
    check_batch_size(batch_size)
    if batch_size == "auto":
        batch_size = auto_batch_size(problem)
    subsample = None if batch_size is None or batch_size >= n else int(batch_size)
    g = _make_guide(guide, init_radius, _batched_model)
    svi = SVI(_batched_model, g, Adam(learning_rate),
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
    key_init, key_draw, key_rows = jax.random.split(rng_key, 3)
    # Jitted so that initialisation is one compiled program, not hundreds of eager ops.
    state = jax.jit(partial(svi.init, **kwargs))(key_init, *args)

    # One compiled program runs every chunk: a chunk is always ``width`` scan steps, and the
    # steps past ``active`` (the last chunk of a run whose length ``width`` does not divide)
    # leave the state as it is. The data are arguments, not constants baked into the program,
    # so the persistent compilation cache serves a later fit of the same shapes.
    width = max(1, min(check_every, num_steps))
    rows_spec = None if subsample is None else jax.ShapeDtypeStruct((subsample,), jnp.int32)
    loss_type = jax.eval_shape(lambda s, a, r: svi.update(s, *a, rows=r, **kwargs)[1],
                               state, args, rows_spec)

    @jax.jit
    def run_chunk(state: Any, active: jax.Array, key: jax.Array,
                  data: tuple[jax.Array, ...]) -> tuple[Any, jax.Array]:
        batches = None if subsample is None else minibatch_rows(key, n, subsample, width)

        def body(s: Any, xs: tuple[jax.Array, jax.Array | None]) -> tuple[Any, jax.Array]:
            step, rows = xs
            return jax.lax.cond(
                step < active,
                lambda s: svi.update(s, *data, rows=rows, **kwargs),
                lambda s: (s, jnp.full(loss_type.shape, jnp.nan, loss_type.dtype)),
                s,
            )

        return jax.lax.scan(body, state, (jnp.arange(width), batches))

    losses: list[np.ndarray] = []
    best = np.inf
    stale = 0
    bar = tqdm(total=num_steps, desc="SVI", disable=not progress_bar, leave=False)
    done = 0
    while done < num_steps:
        length = min(width, num_steps - done)
        state, chunk = run_chunk(state, np.int32(length), jax.random.fold_in(key_rows, done),
                                 args)
        chunk = np.asarray(chunk)[:length]
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
