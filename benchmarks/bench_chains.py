"""Time per Gibbs sweep of several chains: run in turn (``lax.map``) against ``jax.vmap``.

    BAYESFM_DATA=/path/to/data python benchmarks/bench_chains.py
    BAYESFM_DATA=... python benchmarks/bench_chains.py --chains 4 --sweeps 10

The Gibbs kernel batches its chains with :func:`bayesfm.engines.drive.each_chain`
(``lax.map``: one chain after another inside one compiled call). This script times one sweep
(:func:`bayesfm.engines.gibbs.step` with the likelihood's ``latent_for`` part and the
interaction's ``term_for`` part) of ``--chains`` chains both ways, after compilation, on the
real data sets: the plain FM on MovieLens 100K (u1, Gaussian) and frappe (published split,
probit), the field-aware FM and the degree-3 FM on frappe. It prints a Markdown table with the
ratio vmap / map (above 1: the map that bayesfm uses is faster).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np

#: Name in the table -> (interaction model, degree).
VARIANTS = {"fm": ("fm", 2), "ffm": ("ffm", 2), "fm degree 3": ("fm", 3)}


def _data(name: str) -> tuple[Any, str, int]:
    """GibbsData of a data set's training split, its likelihood and its number of groups."""
    from bayesfm.data import from_sparse, load_frappe, load_movielens_100k
    from bayesfm.engines.gibbs import prepare_data

    path = os.environ["BAYESFM_DATA"]
    if name == "frappe":
        X, y, _, _, info = load_frappe("published", path=path, download=False)
        likelihood = "probit"
    else:
        X, y, _, _, info = load_movielens_100k("u1", path=path, download=False)
        likelihood = "gaussian"
    design = from_sparse(X, groups=info.group_of_feature)
    data = prepare_data(design.indices, design.values, design.group_of_feature,
                        np.asarray(y, np.float32), n_groups=design.n_groups)
    return data, likelihood, design.n_groups


def time_sweep(data: Any, likelihood: str, n_groups: int, variant: str, rank: int,
               chains: int, sweeps: int) -> dict[str, float]:
    """Seconds per sweep of ``chains`` chains under vmap and under lax.map (after compiling)."""
    import jax
    from jax import lax

    from bayesfm.engines.gibbs import init, latent_for, step, term_for
    from bayesfm.model import get_interaction, get_likelihood

    model, degree = VARIANTS[variant]
    parts = {"latent": latent_for(get_likelihood(likelihood)),
             "term": term_for(get_interaction(model, degree), n_groups=n_groups, rank=rank)}
    keys = jax.random.split(jax.random.key(0), chains)
    start = jax.vmap(lambda k: init(k, data, **parts))(keys)

    def one(chain: Any, d: Any) -> Any:
        return step(chain, d, **parts)

    ways = {
        "vmap": jax.jit(jax.vmap(one, in_axes=(0, None))),
        "map": jax.jit(lambda s, d: lax.map(lambda c: one(c, d), s)),
    }
    out = {}
    for name, fn in ways.items():
        state = jax.block_until_ready(fn(start, data))  # compile, and one sweep
        t0 = time.perf_counter()
        for _ in range(sweeps):
            state = fn(state, data)
        jax.block_until_ready(state)
        out[name] = (time.perf_counter() - t0) / sweeps
    return out


def main(argv: list[str] | None = None) -> None:
    """Time every case and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--sweeps", type=int, default=10)
    args = ap.parse_args(argv)
    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding ml-100k/ and frappe/")
    cases = [("ml-100k", "fm", 16), ("frappe", "fm", 8), ("frappe", "fm", 32),
             ("frappe", "ffm", 4), ("frappe", "fm degree 3", 8)]
    print(f"| data | model | rank | vmap s/sweep | map s/sweep | vmap / map |  ({args.chains} "
          "chains)")
    print("| --- | --- | --- | --- | --- | --- |")
    loaded: dict[str, Any] = {}
    for name, variant, rank in cases:
        if name not in loaded:
            loaded[name] = _data(name)
        t = time_sweep(*loaded[name], variant, rank, args.chains, args.sweeps)
        print(f"| {name} | {variant} | {rank} | {t['vmap']:.3f} | {t['map']:.3f} | "
              f"{t['vmap'] / t['map']:.2f} |", flush=True)
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
