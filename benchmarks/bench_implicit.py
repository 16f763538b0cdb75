"""Implicit feedback race: bayesfm against the ``implicit`` package's ALS and BPR.

Positives are the ratings >= 4 of MovieLens 100K and of ML-1M's first half. Each split
(leave-one-out, the latest positive of every user; 80/20, a random fifth of every user's
positives) holds out test positives; the same split of the training positives carves out a
validation set. Every method is tuned on validation (trained on the rest of the training
positives) over a small grid, then refitted with its best setting on all the training
positives and scored on test: recall@10 and NDCG@10 of the top 10 of all items, the
training positives excluded from the candidates of every method (the validation positives
too are candidates when tuning). Seeds fixed; one run does everything.

- ALS (``implicit.als``, confidence ``1 + alpha`` on positives): factors x regularisation x
  alpha x iterations;
- BPR (``implicit.bpr``): factors x learning rate x regularisation x iterations;
- bayesfm: ``BayesianFMClassifier`` (Gibbs probit, one chain) on the positives plus
  ``k`` uniformly sampled negatives per positive (:func:`bayesfm.data.sample_negatives`),
  ranked by the posterior mean click probability (``recommend``). Grid: rank x ``k`` x
  sweeps (half warm-up, half kept); it is the smallest grid because one Gibbs fit costs
  what a hundred ALS fits do on 2 cores.

The selection criterion is validation recall@10. Standard errors are over test users; the
paired one compares bayesfm with the best baseline user by user.

    pip install implicit      # the bench extra: pip install "bayesian-fm[bench]"
    BAYESFM_DATA=../shared/data python benchmarks/bench_implicit.py \
        [--data ml-100k ml-1m-half] [--splits loo 80/20] [--quick] [--out results.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
import warnings

import numpy as np
import scipy.sparse as sp

from bayesfm import BayesianFMClassifier
from bayesfm.data import load_movielens_ratings, sample_negatives
from bayesfm.metrics import leave_one_out, per_user_split, ranking_report, relevance_matrix

K = 10
SEED = 0


# -- per-user metrics (the definitions of bayesfm.metrics, kept per user for the errors) ----
def per_user(items: np.ndarray, relevant: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Recall@K and NDCG@K of every user with a relevant item."""
    top = items[:, :K]
    safe = np.clip(top, 0, relevant.shape[1] - 1)
    hits = np.asarray(relevant[np.arange(top.shape[0])[:, None], safe].todense()) & (top >= 0)
    size = np.diff(relevant.indptr)
    keep = size > 0
    hits, size = hits[keep].astype(float), size[keep]
    discount = 1 / np.log2(np.arange(2, K + 2))
    ideal = np.cumsum(discount)[np.minimum(size, K) - 1]
    return hits.sum(1) / size, (hits * discount).sum(1) / ideal


# -- methods: fit on a (users x items) positive matrix, return the top K of every user ------
def top_implicit(model, R: sp.csr_matrix) -> np.ndarray:
    model.fit(R, show_progress=False)
    ids, _ = model.recommend(np.arange(R.shape[0]), R, N=K, filter_already_liked_items=True)
    return np.asarray(ids, np.int64)


def als(R: sp.csr_matrix, factors: int, regularization: float, alpha: float,
        iterations: int) -> np.ndarray:
    from implicit.als import AlternatingLeastSquares
    return top_implicit(AlternatingLeastSquares(
        factors=factors, regularization=regularization, alpha=alpha, iterations=iterations,
        random_state=SEED, num_threads=2), R)


def bpr(R: sp.csr_matrix, factors: int, learning_rate: float, regularization: float,
        iterations: int) -> np.ndarray:
    from implicit.bpr import BayesianPersonalizedRanking
    return top_implicit(BayesianPersonalizedRanking(
        factors=factors, learning_rate=learning_rate, regularization=regularization,
        iterations=iterations, random_state=SEED, num_threads=2), R)


def bayesfm(R: sp.csr_matrix, rank: int, k: int, sweeps: int) -> np.ndarray:
    n_users, n_items = R.shape
    u, i = R.nonzero()
    rows = sample_negatives(u, i, n_users=n_users, n_items=n_items, k=k, random_state=SEED)
    clf = BayesianFMClassifier(rank=rank, link="probit", num_warmup=sweeps // 2,
                               num_samples=sweeps - sweeps // 2, num_chains=1,
                               random_state=SEED, progress_bar=False, log_likelihood=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings: v is not identified anyway
        clf.fit(rows.X, rows.y, groups=rows.info)
    users = sp.eye(n_users, n_users + n_items, format="csr")
    return clf.recommend(users, n=K, exclude=R).items


def grids(quick: bool) -> dict[str, list[dict]]:
    def grid(**axes):
        return [dict(zip(axes, v, strict=True)) for v in itertools.product(*axes.values())]
    if quick:
        return {"ALS": grid(factors=[32], regularization=[0.1], alpha=[10.0], iterations=[15]),
                "BPR": grid(factors=[32], learning_rate=[0.01], regularization=[0.01],
                            iterations=[100]),
                "bayesfm": grid(rank=[8], k=[2], sweeps=[40])}
    return {
        "ALS": grid(factors=[32, 64, 128], regularization=[1.0, 3.0, 10.0, 30.0],
                    alpha=[1.0, 3.0, 10.0], iterations=[15, 30]),
        "BPR": grid(factors=[32, 128], learning_rate=[0.001, 0.003, 0.01],
                    regularization=[0.001, 0.01], iterations=[100, 300]),
        "bayesfm": grid(rank=[16, 32], k=[8, 16], sweeps=[100, 200]),
    }


METHODS = {"ALS": als, "BPR": bpr, "bayesfm": bayesfm}


def split(name: str, users: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if name == "loo":
        return leave_one_out(users, times, random_state=SEED)
    return per_user_split(users, test_fraction=0.2, random_state=SEED)


def race(data: str, split_name: str, quick: bool, log: list) -> list[dict]:
    ratings = load_movielens_ratings(data)
    pos = ratings[ratings.rating >= 4]
    n_users, n_items = ratings.attrs["n_users"], ratings.attrs["n_items"]
    u, i, t = pos.user.to_numpy(), pos.item.to_numpy(), pos.timestamp.to_numpy()
    train, test = split(split_name, u, t)
    fit_rows, val_rows = (train[j] for j in split(split_name, u[train], t[train]))
    shape = (n_users, n_items)

    def matrix(rows):
        return sp.csr_matrix(relevance_matrix(u[rows], i[rows], shape), dtype=np.float32)

    R_fit, R_val, R_train, R_test = (matrix(r) for r in (fit_rows, val_rows, train, test))
    print(f"\n== {data} {split_name}: {len(pos):,} positives, train {len(train):,} "
          f"(fit {len(fit_rows):,} + validation {len(val_rows):,}), test {len(test):,}",
          flush=True)
    out = []
    for method, configs in grids(quick).items():
        fn = METHODS[method]

        def score(cfg, R_in, R_out, fn=fn):
            t0 = time.perf_counter()
            items = fn(R_in, **cfg)
            return ranking_report(items, R_out.astype(bool), k=K), items, \
                time.perf_counter() - t0

        tried = []
        for cfg in configs:
            rep, _, secs = score(cfg, R_fit, R_val)
            tried.append((rep[f"recall@{K}"], cfg))
            log.append({"data": data, "split": split_name, "method": method, "stage": "val",
                        "config": cfg, **rep, "seconds": round(secs, 2)})
            print(f"  {method:8s} val recall@{K} {rep[f'recall@{K}']:.4f} ndcg "
                  f"{rep[f'ndcg@{K}']:.4f}  {cfg}  ({secs:.1f} s)", flush=True)
        best = max(tried, key=lambda r: r[0])[1]
        val_best = max(r[0] for r in tried)
        rep, items, secs = score(best, R_train, R_test)
        recall, ndcg = per_user(items, R_test.astype(bool).tocsr())
        assert np.isclose(recall.mean(), rep[f"recall@{K}"])
        assert np.isclose(ndcg.mean(), rep[f"ndcg@{K}"])
        seen = R_train.astype(bool)[np.arange(n_users)[:, None], np.clip(items, 0, None)]
        assert not np.asarray(seen.todense())[items >= 0].any(), "a training positive ranked"
        row = {"data": data, "split": split_name, "method": method, "config": best,
               "val_recall": val_best, "recall": rep[f"recall@{K}"],
               "ndcg": rep[f"ndcg@{K}"], "recall_per_user": recall, "ndcg_per_user": ndcg,
               "seconds": round(secs, 2)}
        out.append(row)
        log.append({k: v for k, v in row.items() if not k.endswith("per_user")}
                   | {"stage": "test"})
        print(f"  {method:8s} TEST recall@{K} {row['recall']:.4f} ndcg {row['ndcg']:.4f} "
              f"best {best} ({secs:.1f} s)", flush=True)
    return out


def table(rows: list[dict]) -> str:
    n = len(rows[0]["recall_per_user"])
    lines = [f"| data | split | method | best setting (validation) | recall@{K} | NDCG@{K} | "
             "vs best baseline (paired SE) |", "|---|---|---|---|---|---|---|"]
    base = [r for r in rows if r["method"] != "bayesfm"]
    for r in rows:
        diff = ""
        if r["method"] == "bayesfm":
            parts = []
            for m in ("recall", "ndcg"):
                best = max(base, key=lambda b, m=m: b[m])
                d = r[f"{m}_per_user"] - best[f"{m}_per_user"]
                parts.append(f"{m} {d.mean():+.4f} ({d.std(ddof=1) / np.sqrt(d.size):.4f}) "
                             f"vs {best['method']}")
            diff = "; ".join(parts)
        se_r = r["recall_per_user"].std(ddof=1) / np.sqrt(n)
        se_n = r["ndcg_per_user"].std(ddof=1) / np.sqrt(n)
        cfg = ", ".join(f"{k}={v}" for k, v in r["config"].items())
        lines.append(f"| {r['data']} | {r['split']} | {r['method']} | {cfg} | "
                     f"{r['recall']:.4f} ± {se_r:.4f} | {r['ndcg']:.4f} ± {se_n:.4f} | {diff} |")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> list[dict]:
    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding ml-100k/ and ml-1m-half/")
    log: list = []
    tables = []
    t0 = time.perf_counter()
    for data in args.data:
        for split_name in args.splits:
            rows = race(data, split_name, args.quick, log)
            tables.append(table(rows))
            print("\n" + tables[-1], flush=True)
            if args.out:
                with open(args.out, "w") as fh:
                    json.dump(log, fh, indent=1, default=float)
    print(f"\nall tables ({time.perf_counter() - t0:.0f} s):\n" + "\n\n".join(tables))
    return log


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["ml-100k", "ml-1m-half"],
                   choices=["ml-100k", "ml-1m-half"])
    p.add_argument("--splits", nargs="+", default=["loo", "80/20"], choices=["loo", "80/20"])
    p.add_argument("--quick", action="store_true", help="one setting per method (a smoke run)")
    p.add_argument("--out", help="write every validation and test result to this JSON file")
    main(p.parse_args())
