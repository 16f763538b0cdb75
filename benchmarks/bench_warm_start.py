"""Warm start on MovieLens 100K: a refit after new rows, from the last draw, against a cold fit.

u1.base is split at random into 90 % "old" and 10 % "new" rows. A rank-10 Gibbs FM is fitted
on the old rows; then every row of u1.base is fitted twice with no warm-up, keeping every
sweep: cold (a fresh fit) and warm (``fit_more(n, X, y)``, every chain from its last draw).
Convergence is read off the training log likelihood of every sweep: the number of sweeps a
chain takes to first reach the level the cold chain settles at (the median over its second
half; a chain in its stationary state is above it half the time). Also reported: the test
RMSE (u1.test) of the single draw at a few sweeps, and of the posterior mean of the sweeps
after the first 10. ``--continuation`` also checks that
``fit(num_samples=200)`` then ``fit_more(200)`` equals one ``fit(num_samples=400)``.

    BAYESFM_DATA=... python benchmarks/bench_warm_start.py [--sweeps 100] [--continuation]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from bayesfm import BayesianFMRegressor
from bayesfm.data import load_movielens_100k


def rmse_trace(fm: BayesianFMRegressor, X, y) -> np.ndarray:
    """Test RMSE of every kept draw, in sweep order (one chain)."""
    return np.sqrt(((fm.predict_draws(X) - y[None]) ** 2).mean(axis=1))


def first_reach(trace: np.ndarray, level: float) -> int:
    """First sweep (from 1) at which the trace is at or above ``level`` (0: never)."""
    hit = np.flatnonzero(trace >= level)
    return int(hit[0] + 1) if hit.size else 0


def main(args: argparse.Namespace) -> dict:
    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding ml-100k/")
    warnings.filterwarnings("ignore", message="The chains have not converged")
    Xtr, ytr, Xte, yte, info = load_movielens_100k("u1", download=False)
    perm = np.random.default_rng(0).permutation(Xtr.shape[0])
    old = np.sort(perm[: int(0.9 * perm.size)])
    kw = dict(rank=args.rank, num_chains=1, random_state=0, progress_bar=False,
              log_likelihood=False)
    base = BayesianFMRegressor(num_warmup=args.warmup, num_samples=20, **kw)
    base.fit(Xtr[old], ytr[old], groups=info)
    t = time.perf_counter()
    cold = BayesianFMRegressor(num_warmup=0, num_samples=args.sweeps, **kw).fit(
        Xtr, ytr, groups=info)
    cold_s = time.perf_counter() - t
    t = time.perf_counter()
    warm = base.fit_more(args.sweeps, Xtr, ytr)
    warm_s = time.perf_counter() - t
    out: dict = {"fit_s": {"cold": round(cold_s, 2), "warm": round(warm_s, 2)}}
    ll = {n: fm.idata_.sample_stats.log_likelihood.values[0] for n, fm in
          (("cold", cold), ("warm", warm))}
    level = float(np.median(ll["cold"][args.sweeps // 2:]))
    out["loglik_level"] = round(level, 1)
    for name, fm in (("cold", cold), ("warm", warm)):
        tr = rmse_trace(fm, Xte, yte)
        mean_rmse = float(np.sqrt(((fm.predict_draws(Xte)[10:].mean(0) - yte) ** 2).mean()))
        at = {s: round(float(tr[s - 1]), 4) for s in (1, 2, 5, 10, 20, 50) if s <= tr.size}
        out[name] = {"sweeps_to_loglik_level": first_reach(ll[name], level),
                     "loglik_at_sweep": {s: round(float(ll[name][s - 1]), 1) for s in at},
                     "draw_rmse_at_sweep": at, "mean_rmse_after_10": round(mean_rmse, 4)}
        print(f"{name}: {out[name]}", flush=True)
    if args.continuation:
        kw2 = dict(kw, num_chains=2, num_warmup=args.warmup)
        two = BayesianFMRegressor(num_samples=200, **kw2).fit(Xtr, ytr, groups=info)
        two.fit_more(200)
        one = BayesianFMRegressor(num_samples=400, **kw2).fit(Xtr, ytr, groups=info)
        same = all(np.array_equal(two.idata_.posterior[n].values, one.idata_.posterior[n].values)
                   for n in ("w0", "w", "v", "tau", "lambda_v"))
        out["continuation_200_plus_200_equals_400"] = same
        print("200 + 200 draws == 400 draws (bit for bit):", same)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rank", type=int, default=10)
    p.add_argument("--warmup", type=int, default=100, help="warm-up of the fit on old rows")
    p.add_argument("--sweeps", type=int, default=100)
    p.add_argument("--continuation", action="store_true")
    print(main(p.parse_args()))
