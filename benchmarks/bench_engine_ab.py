"""Compile time and time per sweep of the Gibbs kernel: one commit against another, in one run.

The one-engine refactor (issue 13) promised not to slow the sampler. This script checks out the
commit ``--before`` into a temporary git worktree and times the same kernels there and in this
checkout, alternating between the two trees so that a change in the machine's load hits both
alike. Every measurement is a fresh child process with JAX's persistent compilation cache off:

- compile: seconds to lower and compile one sweep of two chains (``kernel.sample`` and the
  draw's collected ``sites``, jitted the way ``numpyro.infer.MCMC`` runs them; chains run
  one after another with ``lax.map``);
- sweep: median seconds of one such sweep over ``--sweeps`` sweeps, after three untimed ones
  (with ``--stat min``: the fastest of them);
- the same two in CPU seconds of the child (all its threads): on a machine shared with other
  jobs the wall times move with the load, the CPU seconds much less.

The child builds the kernel through whichever API its tree has: the one kernel
``bayesfm.engines.gibbs.FMGibbs`` with ``likelihood=`` and ``interaction=``, or the copies it
replaced (``gibbs_kernel.FMGibbs``, ``gibbs_ffm.FFMGibbs``, ``gibbs_deg3.Deg3Gibbs``,
``gibbs_ordinal.OrdinalFMGibbs``). Data come only from ``BAYESFM_DATA``.

Run (about 15 minutes on 2 cores)::

    BAYESFM_DATA=../shared/data .venv/bin/python benchmarks/bench_engine_ab.py --before 0f0a163
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: (data set, likelihood, model, degree) timed by default.
CASES = [
    ("ml100k", "gaussian", "fm", 2),
    ("ml100k", "ordinal", "fm", 2),
    ("frappe", "probit", "fm", 2),
    ("frappe", "probit", "ffm", 2),
    ("frappe", "probit", "fm", 3),
]


def _load(name: str, likelihood: str) -> tuple:
    import numpy as np

    from bayesfm.data import from_sparse, load_frappe, load_movielens_100k

    path = os.environ["BAYESFM_DATA"]
    if name == "frappe":
        X, y, _, _, info = load_frappe("published", path=path, download=False)
    else:
        X, y, _, _, info = load_movielens_100k("u1", path=path, download=False)
    design = from_sparse(X, groups=info.group_of_feature)
    y = np.asarray(y, np.float64)
    if likelihood == "ordinal":
        y = y - y.min()  # ratings 1..5 -> class codes 0..4
    return design, y


def _kernel(design: object, y: object, likelihood: str, model: str, degree: int, rank: int):
    """The Gibbs kernel of this tree's API."""
    n_classes = 5 if likelihood == "ordinal" else None
    try:
        from bayesfm.engines.gibbs import FMGibbs

        if hasattr(FMGibbs, "parts"):  # the one engine
            return FMGibbs(design, y, rank=rank, likelihood=likelihood, interaction=model,
                           degree=degree, n_classes=n_classes)
    except ImportError:
        pass
    if likelihood == "ordinal":
        from bayesfm.engines.gibbs_ordinal import OrdinalFMGibbs

        return OrdinalFMGibbs(design, y, rank=rank, n_classes=n_classes)
    if model == "ffm":
        from bayesfm.engines.gibbs_ffm import FFMGibbs as cls
    elif degree == 3:
        from bayesfm.engines.gibbs_deg3 import Deg3Gibbs as cls
    else:
        from bayesfm.engines.gibbs_kernel import FMGibbs as cls
    return cls(design, y, rank=rank, likelihood=likelihood)


def child(args: argparse.Namespace) -> None:
    """Time one kernel in this process and print one JSON line."""
    import jax

    design, y = _load(args.dataset, args.likelihood)
    kernel = _kernel(design, y, args.likelihood, args.model, args.degree, args.rank)
    keys = jax.random.split(jax.random.key(0), 2)
    state = kernel.init(keys, 10, None, (), {})
    jax.block_until_ready(state)

    def sweep(s: object) -> tuple:
        # What MCMC collects of each draw is part of its compiled loop: the old kernels
        # computed their ``sites`` (the total log likelihood among them) as a property of the
        # state after ``sample``, the one engine inside ``sample``. Both are timed with it.
        new = kernel.sample(s, (), {})
        return new, new.sites

    t0, c0 = time.perf_counter(), time.process_time()
    compiled = jax.jit(sweep).lower(state).compile()
    compile_s, compile_cpu = time.perf_counter() - t0, time.process_time() - c0
    for _ in range(3):
        state, _ = compiled(state)
    jax.block_until_ready(state)
    times, cpu = [], []
    for _ in range(args.sweeps):
        t0, c0 = time.perf_counter(), time.process_time()
        state, _ = jax.block_until_ready(compiled(state))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(json.dumps({"compile_s": compile_s, "sweep_s": statistics.median(times),
                      "compile_cpu_s": compile_cpu, "sweep_cpu_s": statistics.median(cpu),
                      "sweep_min_s": min(times)}))


def _run(tree: Path, case: tuple, rank: int, sweeps: int) -> dict:
    dataset, likelihood, model, degree = case
    env = {**os.environ, "PYTHONPATH": str(tree), "BAYESFM_JAX_CACHE": "0",
           "JAX_PLATFORMS": "cpu"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--dataset", dataset,
           "--likelihood", likelihood, "--model", model, "--degree", str(degree),
           "--rank", str(rank), "--sweeps", str(sweeps)]
    out = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Parse the options; run the comparison or, with ``--child``, one timing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="0f0a163", help="the commit to compare against")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs per tree")
    parser.add_argument("--sweeps", type=int, default=20)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--cases", default="all",
                        help="comma-separated case numbers (0-based) of CASES, or 'all'")
    parser.add_argument("--stat", choices=("median", "min"), default="median",
                        help="how the runs of a tree are summarised: 'min' (the least "
                             "disturbed run, and the fastest of its sweeps) suits a machine "
                             "that other jobs share")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dataset")
    parser.add_argument("--likelihood")
    parser.add_argument("--model")
    parser.add_argument("--degree", type=int)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if "BAYESFM_DATA" not in os.environ:
        sys.exit("set BAYESFM_DATA to the folder holding ml-100k/ and frappe/")
    here = Path(__file__).resolve().parent.parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                          text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "bayesfm"], cwd=here,
                           capture_output=True, text=True, check=True).stdout.strip()
    cases = CASES if args.cases == "all" else [CASES[int(i)] for i in args.cases.split(",")]
    with tempfile.TemporaryDirectory(prefix="bayesfm-ab-") as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(before), args.before],
                       cwd=here, check=True)
        try:
            print(f"before = {args.before}, after = {head}{' + uncommitted' if dirty else ''};"
                  f" rank {args.rank}, 2 chains, {args.sweeps} sweeps per run,"
                  f" {args.repeat} alternating runs per tree, {args.stat} over runs")
            print(f"{'case':34} {'compile before':>14} {'after':>7} {'ratio':>6}   "
                  f"{'sweep before':>12} {'after':>8} {'ratio':>6}   "
                  f"{'CPU ratio: compile':>18} {'sweep':>6}")
            for case in cases:
                runs: dict[str, list[dict]] = {"before": [], "after": []}
                for _ in range(args.repeat):
                    for name, tree in (("before", before), ("after", here)):
                        runs[name].append(_run(tree, case, args.rank, args.sweeps))
                pick = min if args.stat == "min" else statistics.median
                med = {name: {k: pick(r[k] for r in rs) for k in rs[0]}
                       for name, rs in runs.items()}
                b, a = med["before"], med["after"]
                if args.stat == "min":
                    b["sweep_s"], a["sweep_s"] = b["sweep_min_s"], a["sweep_min_s"]
                label = f"{case[0]} {case[1]} {case[2]}" + (" degree 3" if case[3] == 3 else "")
                print(f"{label:34} {b['compile_s']:14.2f} {a['compile_s']:7.2f} "
                      f"{a['compile_s'] / b['compile_s']:6.3f}   {b['sweep_s']:12.4f} "
                      f"{a['sweep_s']:8.4f} {a['sweep_s'] / b['sweep_s']:6.3f}   "
                      f"{a['compile_cpu_s'] / b['compile_cpu_s']:18.3f} "
                      f"{a['sweep_cpu_s'] / b['sweep_cpu_s']:6.3f}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=here,
                           check=False)


if __name__ == "__main__":
    main()
