"""Field-aware FM against the plain FM on frappe (AUC, log-loss), both by exact Gibbs.

    BAYESFM_DATA=/path/to/data python benchmarks/bench_ffm.py
    BAYESFM_DATA=... python benchmarks/bench_ffm.py --kind full --fm-rank 8 --ffm-rank 4 8

Both models are ``BayesianFMClassifier(link="probit", method="gibbs")`` on the 10 frappe
fields as groups, with the sweeps of benchmarks/bench_myfm.py (200 sweeps, the predictions of
the last 195 averaged: ``num_warmup=5, num_samples=195, num_chains=1``) and
``log_likelihood=False``. ``published``: train ``frappe.validation.libfm`` (57,722 rows), test
``frappe.test.libfm`` (28,860 rows); ``full``: the 202,026-row rebuild -> its test file.
Timings include compilation and everything from ``fit`` to the end of ``predict_proba``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score


def run(kind: str, model: str, rank: int, sweeps: int, seed: int) -> dict[str, object]:
    """Fit one model on frappe and score it on the test rows."""
    from bayesfm import BayesianFMClassifier
    from bayesfm.data import load_frappe

    Xtr, ytr, Xte, yte, info = load_frappe(kind, path=os.environ.get("BAYESFM_DATA"),
                                           download=False)
    clf = BayesianFMClassifier(rank=rank, model=model, method="gibbs", num_warmup=5,
                               num_samples=sweeps - 5, num_chains=1, random_state=seed,
                               log_likelihood=False, progress_bar=False)
    start = time.perf_counter()
    clf.fit(Xtr, ytr, groups=info.group_of_feature)
    p = clf.predict_proba(Xte)[:, 1]
    wall = time.perf_counter() - start
    return {"kind": kind, "model": model, "rank": rank, "sweeps": sweeps,
            "auc": float(roc_auc_score(yte, p)), "log_loss": float(log_loss(yte, p)),
            "wall_s": wall, "n_train": int(Xtr.shape[0]), "n_test": int(Xte.shape[0]),
            "load_1min": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> None:
    """Run the FM and FFM fits and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=["published", "full"], default="published")
    ap.add_argument("--fm-rank", type=int, nargs="*", default=[8])
    ap.add_argument("--ffm-rank", type=int, nargs="*", default=[4, 8])
    ap.add_argument("--sweeps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding frappe/")
    rows = [run(args.kind, "fm", r, args.sweeps, args.seed) for r in args.fm_rank]
    rows += [run(args.kind, "ffm", r, args.sweeps, args.seed) for r in args.ffm_rank]
    print("| frappe | model | rank | AUC | log-loss | wall (incl. compile) | load |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['kind']} | {r['model']} | {r['rank']} | {r['auc']:.4f} | "
              f"{r['log_loss']:.4f} | {r['wall_s']:.1f} s | {r['load_1min']:.2f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    np.set_printoptions()


if __name__ == "__main__":
    main()
