"""Logit (Polya-Gamma) against probit Gibbs on frappe: accuracy, calibration and convergence.

    BAYESFM_DATA=/path/to/data python benchmarks/bench_logit_frappe.py
    BAYESFM_DATA=... python benchmarks/bench_logit_frappe.py --links logit --warmup 100

The frappe published split (train ``frappe.validation.libfm``, 57,722 rows; test
``frappe.test.libfm``, 28,860 rows), ``BayesianFMClassifier(rank=8, method="gibbs",
num_chains=4, num_warmup=500, num_samples=500, random_state=0)`` with the 10 fields as
groups, otherwise the defaults, once per link in the same process. Reported per link: the
wall time of ``fit`` (compilation included) and of the test predictions; test AUC and
log-loss of the posterior mean probability; the expected calibration error over deciles of
the predicted probability (equal-count bins, ``sum_b n_b / N |mean predicted - observed
rate|``); the rank-normalised split R-hat of the click probabilities of 2,000 test rows
(a fixed random subset, seed 0): median, 95th percentile, max, and the share above 1.01;
their median bulk ESS; the R-hat of the total training log likelihood and the four chains'
mean log likelihoods.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

N_CHECK = 2000


def ece_deciles(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error over equal-count bins of the predicted probability."""
    order = np.argsort(p, kind="stable")
    bins = np.array_split(order, n_bins)
    return float(sum(len(b) / len(p) * abs(p[b].mean() - y[b].mean()) for b in bins))


def run(link: str, args: argparse.Namespace) -> dict[str, object]:
    """Fit one link on frappe and score it."""
    from bayesfm import BayesianFMClassifier
    from bayesfm.data import load_frappe
    from bayesfm.results.convergence import ess_bulk, rhat_rank

    Xtr, ytr, Xte, yte, info = load_frappe("published", path=os.environ.get("BAYESFM_DATA"),
                                           download=False)
    clf = BayesianFMClassifier(rank=args.rank, method="gibbs", link=link,
                               num_chains=args.chains, num_warmup=args.warmup,
                               num_samples=args.samples, random_state=args.seed,
                               priors=json.loads(args.priors) if args.priors else None,
                               moves=args.moves, progress_bar=False)
    start = time.perf_counter()
    clf.fit(Xtr, ytr, groups=info.group_of_feature)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    p = clf.predict_proba(Xte)[:, 1]
    predict_s = time.perf_counter() - start
    rows = np.sort(np.random.default_rng(0).choice(Xte.shape[0], N_CHECK, replace=False))
    draws = clf.predict_draws(Xte[rows]).reshape(args.chains, -1, N_CHECK)
    rhat = rhat_rank(draws)
    ll = clf.idata_["sample_stats"]["log_likelihood"].values  # (chain, draw)
    return {
        "link": link, "fit_s": fit_s, "predict_s": predict_s,
        "auc": float(roc_auc_score(yte, p)), "log_loss": float(log_loss(yte, p)),
        "ece": ece_deciles(np.asarray(yte, float), p),
        "rhat_median": float(np.median(rhat)), "rhat_95": float(np.quantile(rhat, 0.95)),
        "rhat_max": float(rhat.max()), "share_above_1.01": float(np.mean(rhat > 1.01)),
        "ess_bulk_median": float(np.median(ess_bulk(draws))),
        "loglik_rhat": float(rhat_rank(ll[..., None])[0]),
        "loglik_chain_means": [round(float(m), 1) for m in ll.mean(1)],
        "load_1min": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> None:
    """Fit every link and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--links", nargs="*", default=["logit", "probit"])
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--priors", help='FMPriors fields as JSON, e.g. \'{"a0": 3, "b0": 3}\'')
    ap.add_argument("--moves", default="none", help="the Gibbs mixing moves (default none)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding frappe/")
    rows = [run(link, args) for link in args.links]
    print(f"frappe published, rank {args.rank}, {args.chains} chains x "
          f"({args.warmup} + {args.samples}), seed {args.seed}")
    print("| link | fit | predict | AUC | log-loss | ECE | R-hat med / 95% / max | "
          "> 1.01 | bulk ESS med | log-lik R-hat | chains' mean log-lik | load |")
    print("| --- " * 12 + "|")
    for r in rows:
        print(f"| {r['link']} | {r['fit_s']:.0f} s | {r['predict_s']:.0f} s | {r['auc']:.4f} | "
              f"{r['log_loss']:.4f} | {r['ece']:.4f} | {r['rhat_median']:.3f} / "
              f"{r['rhat_95']:.3f} / {r['rhat_max']:.3f} | {100 * r['share_above_1.01']:.0f}% | "
              f"{r['ess_bulk_median']:.0f} | {r['loglik_rhat']:.3f} | "
              f"{', '.join(str(m) for m in r['loglik_chain_means'])} | {r['load_1min']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
