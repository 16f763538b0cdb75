"""NUTS on MovieLens 100K (u1.base -> u1.test), user + item one-hot, rank 4.

Reads the data through BAYESFM_DATA (or --data, or downloads it from GroupLens) and prints
the test RMSE next to the reference figures measured on this kind of machine
(../shared/bench/README.md). NUTS is the engine for small problems: on ML-100K every draw runs
to the maximum tree depth, so expect minutes, not seconds.

    BAYESFM_DATA=../shared/data python examples/movielens_nuts.py --warmup 100 --samples 100
"""

import argparse
import time

import numpy as np

from bayesfm import BayesianFMRegressor
from bayesfm.data import load_movielens_100k

#: Reference figures from ../shared/bench/README.md (same split, same features).
REFERENCE = {
    "hand-written NumPyro NUTS, rank 4, 100+100 draws, 1 chain": 0.923,
    "myFM Gibbs, grouped, rank 4, 200 sweeps": 0.9098,
}


def main(args):
    X_tr, y_tr, X_te, y_te, info = load_movielens_100k(args.fold, path=args.data)
    fm = BayesianFMRegressor(
        rank=args.rank, method="nuts", num_warmup=args.warmup, num_samples=args.samples,
        num_chains=args.chains, random_state=args.seed, progress_bar=True,
    )
    t0 = time.perf_counter()
    fm.fit(X_tr, y_tr, groups=info.group_of_feature)
    fit_s = time.perf_counter() - t0
    pred = np.clip(fm.predict(X_te), 1, 5)
    rmse = float(np.sqrt(np.mean((pred - y_te) ** 2)))
    summary = fm.summary()
    print(f"bayesfm NUTS, rank {args.rank}, {args.warmup}+{args.samples} draws x "
          f"{args.chains} chain(s): test RMSE {rmse:.4f}, fit {fit_s:.0f} s, "
          f"max R-hat {summary['r_hat'].max():.2f}")
    for name, value in REFERENCE.items():
        print(f"  reference  {name}: {value:.4f}")
    return rmse


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=None, help="folder holding ml-100k/ (else BAYESFM_DATA)")
    p.add_argument("--fold", default="u1")
    p.add_argument("--rank", type=int, default=4)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--chains", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    main(p.parse_args())
