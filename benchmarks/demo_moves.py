"""Mixing of ``./dev demo``'s probit fit under each set of Gibbs mixing moves.

Fits the demo's classifier (simulated CTR-style data: 2,000 rows, groups of 40, 30 and 10
features, rank 4; 1,500 training rows; 2 chains x (1,000 + 1,000) sweeps, as
:func:`bayesfm.cli.demo.run_demo`) once per ``--moves`` value and prints the fit time, the
convergence warning if any, and the six quantities with the highest R-hat.

    python benchmarks/demo_moves.py --moves none means all     # ~1-3 min per fit on 2 CPUs
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from bayesfm import BayesianFMClassifier
from bayesfm.data.simulate import simulate_fm


def main(argv: list[str] | None = None) -> None:
    """Fit the demo's classifier under every requested move set and print its diagnostics."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", nargs="+", default=["none", "means", "all"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chains", type=int, default=2)
    args = ap.parse_args(argv)
    sim = simulate_fm(n_rows=2000, group_sizes=(40, 30, 10), rank=4, task="binary",
                      seed=args.seed)
    tr = np.arange(1500)
    for moves in args.moves:
        clf = BayesianFMClassifier(rank=4, num_warmup=1000, num_samples=1000,
                                   num_chains=args.chains, random_state=args.seed,
                                   progress_bar=False, moves=moves)
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf.fit(sim.X[tr], sim.y[tr], groups=sim.groups)
        print(f"moves={moves}: fit {time.perf_counter() - t0:.1f} s")
        for w in caught:
            print("  warning:", w.message)
        print(clf.summary().sort_values("r_hat").tail(6)[["r_hat", "ess_bulk"]].to_string())


if __name__ == "__main__":
    main()
