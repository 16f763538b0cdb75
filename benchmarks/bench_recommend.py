"""Time ``recommend``: every ML-100K user against every item, from 200 kept posterior draws.

Fits a rank-10 Gibbs FM on u1.base (2 chains x 100 kept draws = 200 draws), then asks for the
top 10 of all 1,682 items for each of the 943 users, excluding the items each user rated in
u1.base, with every strategy. Reports wall and CPU time (the machine may be shared: CPU time
above wall time means several cores worked), for the first call (which compiles) and a
repeat.

    BAYESFM_DATA=... python benchmarks/bench_recommend.py [--rank 10] [--draws 100] [--n 10]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import scipy.sparse as sp

from bayesfm import BayesianFMRegressor
from bayesfm.data import load_movielens_100k


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main(args: argparse.Namespace) -> dict:
    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding ml-100k/")
    Xtr, ytr, _, _, info = load_movielens_100k("u1", download=False)
    n_users, n_items = info.group_sizes
    fm = BayesianFMRegressor(rank=args.rank, num_warmup=args.warmup, num_samples=args.draws,
                             num_chains=2, random_state=0, progress_bar=False,
                             log_likelihood=False)
    _, fit_s, _ = timed(lambda: fm.fit(Xtr, ytr, groups=info))
    users = sp.eye(n_users, n_users + n_items, format="csr")
    seen = sp.csr_matrix(Xtr[:, :n_users].T @ Xtr[:, n_users:], dtype=bool)  # rated in u1.base
    out: dict = {"fit_s": round(fit_s, 2), "draws": 2 * args.draws}
    for strategy in ("mean", "thompson", "ucb"):
        for label in ("first", "repeat"):
            rec, wall, cpu = timed(lambda s=strategy: fm.recommend(
                users, n=args.n, strategy=s, exclude=seen, random_state=0))
            out[f"{strategy}_{label}"] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
            print(f"{strategy:9s} {label:6s} wall {wall:6.2f} s  cpu {cpu:6.2f} s", flush=True)
    assert rec.items.shape == (n_users, args.n)
    hit = np.asarray(seen[np.arange(n_users)[:, None], rec.items].todense())
    assert not hit.any(), "an excluded pair was recommended"
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rank", type=int, default=10)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--draws", type=int, default=100, help="kept draws per chain (2 chains)")
    p.add_argument("--n", type=int, default=10)
    print(main(p.parse_args()))
