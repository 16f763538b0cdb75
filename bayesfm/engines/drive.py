"""Run an MCMC kernel's chains in one compiled loop, the way ``numpyro.infer.MCMC`` would.

Any ``MCMCKernel`` whose state carries what it collects as ``state.sites`` (bayesfm's
:class:`~bayesfm.engines.gibbs.FMGibbs`) can be run by ``MCMC``; bayesfm's own fits use
:func:`sample_chains`, which makes the same draws from the same key (the keys split per
chain, the same sweeps collected under thinning) with less around the sweep:
``MCMC`` builds its collection buffers with two eager operations per site, each compiled
on its own (about 20 small programs a fit), and with a progress bar runs one compiled call
per sweep. Here the buffers are made on the host, and the progress bar advances once per
twentieth of the run, each a call of one compiled loop with the bounds as arguments.
:func:`each_chain` is how a kernel runs a batch of chains inside one sweep. The loop is
compiled once per kernel setting and data shape and reused by later runs (a second fit,
``fit_more``, a bandit's rounds): a kernel offers a hashable ``sweep`` for that.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from tqdm.auto import tqdm

from bayesfm.engines.hosts import to_host

__all__ = ["each_chain", "sample_chains"]


def sample_chains(
    kernel: Any, rng_key: jax.Array, *, num_warmup: int, num_samples: int, num_chains: int = 1,
    thinning: int = 1, progress_bar: bool = False, init_params: Any = None, resume: Any = None,
) -> tuple[dict[str, np.ndarray], Any]:
    """Run ``num_chains`` chains; return the collected ``sites`` ``(chain, draw, ...)``.

    The draws are those of ``MCMC(kernel, num_warmup, num_samples, num_chains, thinning,
    chain_method="vectorized").run(rng_key)``: of the ``num_samples`` post-warmup sweeps the
    last of every ``thinning`` consecutive ones is kept. Also returns the last state.

    ``resume``, the last state of an earlier run of the same kernel and data, continues its
    chains sweep for sweep (keys, caches and latents as they were; ``rng_key`` is then
    unused): ``n`` draws and then ``m`` more are the draws of one run of ``n + m``.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs import FMGibbs
    >>> from bayesfm.engines.drive import sample_chains
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> kernel = FMGibbs((idx, val, np.array([0, 0, 1, 1])), np.array([1.0, 2.0, 3.0]), rank=2)
    >>> draws, _ = sample_chains(kernel, jax.random.key(0), num_warmup=5, num_samples=10,
    ...                          num_chains=2)
    >>> draws["v"].shape
    (2, 10, 4, 2)
    """
    if num_chains > 1 and _threads_fit(kernel):
        return _threaded(kernel, rng_key, num_warmup=num_warmup, num_samples=num_samples,
                         num_chains=num_chains, thinning=thinning, progress_bar=progress_bar,
                         init_params=init_params, resume=resume)
    keys = jax.random.split(rng_key, num_chains) if num_chains > 1 else rng_key
    state = kernel.init(keys, num_warmup, init_params, (), {})
    if resume is not None:  # init still sets up the kernel (batching, warm-up length)
        state = state._replace(chain=resume.chain, rng_key=resume.rng_key, sites=resume.sites)
    run, collected, total = _loop(kernel, state, num_warmup, num_samples, thinning)
    bounds = _segments(total, progress_bar)
    with tqdm(total=total, desc="gibbs", disable=not progress_bar, leave=False) as bar:
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            state, collected = run(state, collected, np.int32(lo), np.int32(hi))
            bar.set_postfix_str("warmup" if hi <= num_warmup else "sample", refresh=False)
            bar.update(int(hi - lo))
    out = {k: to_host(v) for k, v in collected.items()}  # gathered from every process
    axis = (lambda a: np.swapaxes(a, 0, 1)) if num_chains > 1 else (lambda a: a[None])
    return {k: axis(v) for k, v in out.items()}, state


def _loop(kernel: Any, state: Any, num_warmup: int, num_samples: int,
          thinning: int) -> tuple[Any, dict, int]:
    """Return the jitted sweep loop ``run(state, collected, lo, hi)``, its buffers, sweeps.

    A kernel with a hashable ``sweep`` (bayesfm's) gets the loop from :func:`_cached_loop`,
    so a later run with equal settings and data shapes (a second fit, ``fit_more``, a
    bandit's next round) calls the program compiled for the first, with no new trace.
    """
    total = num_warmup + num_samples
    n_keep = num_samples // thinning
    start = num_warmup + num_samples % thinning
    sweep = getattr(kernel, "sweep", None)
    if sweep is None:  # any other MCMCKernel: a new function, traced anew each run
        run = _build_loop(lambda s: kernel.sample(s, (), {}), start, thinning)
    else:
        run = _cached_loop(sweep, start, thinning)
    collected = {k: jax.device_put(np.zeros((n_keep, *np.shape(v)), v.dtype))
                 for k, v in state.sites.items()}
    return run, collected, total


def _build_loop(sweep: Any, start: int, thinning: int) -> Any:
    """Return the jitted loop over sweeps ``lo .. hi - 1``, every ``thinning``-th kept."""

    def body(i: jax.Array, carry: tuple) -> tuple:
        state, collected = carry
        state = sweep(state)
        slot = (i - start) // thinning

        def put(c: dict) -> dict:
            return jax.tree.map(lambda buf, x: buf.at[slot].set(x), c, state.sites)

        return state, lax.cond(slot >= 0, put, lambda c: c, collected)

    @jax.jit
    def run(state: Any, collected: dict, lo: jax.Array, hi: jax.Array) -> tuple:
        return lax.fori_loop(lo, hi, body, (state, collected))

    return run


@functools.lru_cache(maxsize=8)
def _cached_loop(sweep: Any, start: int, thinning: int) -> Any:
    """:func:`_build_loop` of a hashable sweep, kept for the next run with the same key.

    The sweep holds no data (the data travel in the state), so a kept loop keeps only its
    compiled programs, one per data shape; eight keys bound them.
    """
    return _build_loop(sweep, start, thinning)


def _segments(total: int, progress_bar: bool) -> np.ndarray:
    """Return the sweep bounds of the loop's calls: twentieths with a progress bar, else one."""
    return np.linspace(0, total, 21 if progress_bar and total >= 20 else 2).astype(int)


def _threads_fit(kernel: Any) -> bool:
    """Whether the chains may run in threads: a one-device, one-process bayesfm kernel."""
    mesh = getattr(kernel, "mesh", None)
    return (mesh is not None and mesh.size == 1 and jax.process_count() == 1
            and os.environ.get("BAYESFM_CHAIN_THREADS", "1") != "0")


def _threaded(kernel: Any, rng_key: jax.Array, *, num_warmup: int, num_samples: int,
              num_chains: int, thinning: int, progress_bar: bool, init_params: Any,
              resume: Any) -> tuple[dict[str, np.ndarray], Any]:
    """Run each chain as a one-chain run in its own thread; the draws of the batched run.

    Chain ``c`` starts from ``split(rng_key, num_chains)[c]`` (and ``init_params`` or
    ``resume`` at index ``c``), as in the batched run, and the sweep is the same program on
    one chain, so the draws are those of one compiled loop over all chains (``lax.map``
    runs them one after another). XLA runs a sweep's scatters and segment sums on one core,
    so the threads put the chains on separate cores: two chains on two cores take about the
    time of one. The loop is compiled once, before the threads start, and shared.
    ``BAYESFM_CHAIN_THREADS=0`` turns this off.
    """
    keys = jax.random.split(rng_key, num_chains)

    def pick(tree: Any, c: int) -> Any:
        return None if tree is None else jax.tree.map(lambda a: a[c], tree)

    states = []
    for c in range(num_chains):
        state = kernel.init(keys[c], num_warmup, pick(init_params, c), (), {})
        if resume is not None:
            state = state._replace(chain=pick(resume.chain, c), rng_key=resume.rng_key[c],
                                   sites=pick(resume.sites, c))
        states.append(state)
    run, collected, total = _loop(kernel, states[0], num_warmup, num_samples, thinning)
    # Compiled (or found) before the threads start, by a run of no sweeps, and shared.
    jax.block_until_ready(run(states[0], collected, np.int32(0), np.int32(0)))
    bounds = _segments(total, progress_bar)
    results: list[Any] = [None] * num_chains
    errors: list[BaseException] = []
    with tqdm(total=total * num_chains, desc=f"gibbs ({num_chains} chains)",
              disable=not progress_bar, leave=False) as bar:
        lock = threading.Lock()

        def chain(c: int) -> None:
            try:
                state, buf = states[c], collected
                for a, b in zip(bounds[:-1], bounds[1:], strict=True):
                    state, buf = run(state, buf, np.int32(a), np.int32(b))
                    jax.block_until_ready(buf)
                    with lock:
                        bar.update(int(b - a))
                results[c] = (state, buf)
            except BaseException as err:  # re-raised in the caller's thread
                errors.append(err)

        threads = [threading.Thread(target=chain, args=(c,), daemon=True)
                   for c in range(num_chains)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    last = [r[0] for r in results]
    out = {k: np.stack([np.asarray(r[1][k]) for r in results]) for k in collected}
    stack = (lambda *xs: jnp.stack(xs))  # noqa: E731
    state = last[0]._replace(chain=jax.tree.map(stack, *[s.chain for s in last]),
                             rng_key=jnp.stack([s.rng_key for s in last]),
                             moments=jax.tree.map(stack, *[s.moments for s in last]),
                             sites=jax.tree.map(stack, *[s.sites for s in last]))
    return out, state


def each_chain(sweep: Any, chains: Any, data: Any) -> Any:
    """Apply ``sweep(chain, data)`` to every chain of a batch, one chain after another.

    The chains run through :func:`jax.lax.map`, not :func:`jax.vmap`: under ``vmap`` the
    sweep's in-loop updates of single cache rows (``q``) become scatters over the batched
    cache, which XLA copies whole at every block. That made two field-aware chains on frappe
    33 times slower than running them in turn (18.7 s against 0.56 s per sweep), the plain FM
    20-25% and the degree-3 FM 7% slower (docs/benchmarks.md, benchmarks/bench_chains.py).

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> each_chain(lambda c, d: c + d, jnp.arange(3.0), 10.0)
    Array([10., 11., 12.], dtype=float32)
    """
    return lax.map(lambda chain: sweep(chain, data), chains)
