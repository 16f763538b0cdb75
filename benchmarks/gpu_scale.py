"""The scale series on GPUs: time per Gibbs sweep and ns per nonzero-factor, 10^6 .. 10^8 rows.

    python benchmarks/gpu_scale.py                          # every GPU, the whole series
    python benchmarks/gpu_scale.py --devices 1 --rows 1e6,1e7 --ranks 10
    python benchmarks/gpu_scale.py --devices 4 --likelihood probit

Simulated data shaped like a rating matrix: two one-hot groups (``--users`` users, ``--items``
items, drawn Zipf-like, so some features are frequent and most are rare) and a Gaussian (or
probit) target from a rank-4 FM. For every row count and rank it builds the Gibbs kernel on
``--devices`` devices (the rows split over them, :mod:`bayesfm.engines.gibbs.mesh`), runs one
sweep to compile, then times ``--sweeps`` sweeps (the clock stops on the last sweep's arrays,
``block_until_ready``). It prints a Markdown table: compile seconds, seconds per sweep, and
nanoseconds per nonzero-factor, ``time per sweep / (nnz * (rank + 1))`` (a sweep draws
``rank + 1`` columns of ``theta = [w | v]``, each touching every nonzero once).

Memory: at ``10^8`` rows and rank 32 the factor sums ``q`` alone are ``32 * 10^8`` floats
(12.8 GB, split over the devices), plus the design's blocks (8 bytes per nonzero) and the
residual; the host builds the blocks first (a few minutes and some 10 GB of host memory at
10^8 rows). Not run in this repository's CI (no GPU there); on a CPU it runs the small end
of the series for a check (``--rows 1e5 --sweeps 3``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def simulate(n_rows: int, n_users: int, n_items: int, seed: int = 0) -> tuple:
    """Padded one-hot rows ``(indices, values)``, the group of every feature and a target."""
    rng = np.random.default_rng(seed)
    users = np.minimum(rng.zipf(1.3, n_rows) - 1, n_users - 1).astype(np.int32)
    items = np.minimum(rng.zipf(1.3, n_rows) - 1, n_items - 1).astype(np.int32)
    indices = np.stack([users, n_users + items], axis=1)
    values = np.ones(indices.shape, np.float32)
    gof = np.concatenate([np.zeros(n_users, np.int32), np.ones(n_items, np.int32)])
    v = rng.normal(0.0, 0.3, (n_users + n_items, 4)).astype(np.float32)
    score = np.sum(v[indices[:, 0]] * v[indices[:, 1]], axis=1)
    y = score + rng.normal(0.0, 0.5, n_rows).astype(np.float32)
    return indices, values, gof, y


def time_case(n_rows: int, rank: int, args: argparse.Namespace) -> tuple[float, float, int]:
    """Compile seconds, seconds per sweep and nonzeros of one case."""
    import jax

    from bayesfm.engines.gibbs import FMGibbs

    indices, values, gof, y = simulate(n_rows, args.users, args.items)
    if args.likelihood == "probit":
        y = (y > 0).astype(np.float32)
    kernel = FMGibbs((indices, values, gof), y, rank=rank, likelihood=args.likelihood,
                     devices=args.devices)
    state = kernel.init(jax.random.key(0), 0, None, (), {})
    sweep = jax.jit(lambda s: kernel.sample(s, (), {}))
    start = time.perf_counter()
    state = jax.block_until_ready(sweep(state))
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.sweeps):
        state = sweep(state)
    jax.block_until_ready(state)
    return compile_s, (time.perf_counter() - start) / args.sweeps, int(np.count_nonzero(values))


def main(args: argparse.Namespace) -> None:
    """Run the series and print the table."""
    import jax

    n_dev = args.devices or len(jax.devices())
    print(f"{n_dev} x {jax.devices()[0].device_kind}, {args.likelihood}, {args.sweeps} sweeps "
          f"timed per case\n")
    print("| rows | rank | compile s | s per sweep | ns per nonzero-factor |")
    print("|---:|---:|---:|---:|---:|")
    for rows in (int(float(r)) for r in args.rows.split(",")):
        for rank in (int(k) for k in args.ranks.split(",")):
            compile_s, per_sweep, nnz = time_case(rows, rank, args)
            ns = per_sweep / (nnz * (rank + 1)) * 1e9
            print(f"| {rows:.0e} | {rank} | {compile_s:.1f} | {per_sweep:.4f} | {ns:.2f} |",
                  flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1e6,1e7,1e8", help="comma-separated row counts")
    parser.add_argument("--ranks", default="10,32", help="comma-separated ranks")
    parser.add_argument("--devices", type=int, default=None,
                        help="devices to split the rows over (default: every device)")
    parser.add_argument("--likelihood", default="gaussian", choices=["gaussian", "probit"])
    parser.add_argument("--sweeps", type=int, default=10)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=20_000)
    main(parser.parse_args())
