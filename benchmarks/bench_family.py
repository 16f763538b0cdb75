"""The FM family side by side: FM, FFM, IFM and CFM at one rank, fitted in the same run.

    BAYESFM_DATA=/path/to/data python benchmarks/bench_family.py            # both data sets
    BAYESFM_DATA=... python benchmarks/bench_family.py --data frappe --json out.json
    BAYESFM_DATA=... python benchmarks/bench_family.py --data frappe --fits ifm-svi cfm-svi

Every fit uses the estimator's defaults except ``rank`` (8 by default for every model),
``random_state`` and the progress bar: Gibbs fits ``num_warmup=500, num_samples=500,
num_chains=2``; SVI fits ``svi_steps=20_000`` with early stopping, ``batch_size="auto"`` and
500 draws from the fitted guide. The fits, in this order:

- ``fm-gibbs``: the plain FM by exact Gibbs (the default engine);
- ``ffm-gibbs``: the field-aware FM by exact Gibbs;
- ``fm-svi``: the plain FM by SVI, the yardstick of the IFM and CFM (same engine);
- ``ifm-svi``: the input-aware FM by SVI (the Gibbs engine has no exact step for it);
- ``cfm-svi``: the convolutional FM by SVI.

``frappe``: the published split (train ``frappe.validation.libfm``, 57,722 rows; test
``frappe.test.libfm``, 28,860 rows), ``BayesianFMClassifier(link="probit")``, the 10 fields
as groups; test log-loss, AUC, the expected calibration error over deciles of the predicted
probability and the share of test rows whose observed decile rate lies inside the mean 90%
interval of the click probability (``predict_interval(prob=0.9)``). ``ml100k``: MovieLens
100K u1 (80,000 -> 20,000 ratings), ``BayesianFMRegressor``, the user and item fields as
groups; test RMSE and the coverage of the 90% predictive interval of the rating
(``kind="predictive"``). For both: ``fit`` seconds (compilation included, everything until
``fit`` returns), ``predict`` seconds, and PSIS-LOO elpd on the training rows with its
standard error and the share of rows whose Pareto k exceeds 0.7. LOO on SVI's draws is
importance sampling from the guide's draws as if they were posterior draws; its k values say
how far that holds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from typing import Any

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score

FITS = {
    "fm-gibbs": ("fm", "gibbs"),
    "ffm-gibbs": ("ffm", "gibbs"),
    "fm-svi": ("fm", "svi"),
    "ifm-svi": ("ifm", "svi"),
    "cfm-svi": ("cfm", "svi"),
}


def _load(data: str) -> tuple[Any, np.ndarray, Any, np.ndarray, np.ndarray]:
    from bayesfm.data import load_frappe, load_movielens_100k

    path = os.environ.get("BAYESFM_DATA")
    if data == "frappe":
        X, y, Xt, yt, info = load_frappe("published", path=path, download=False)
    else:
        X, y, Xt, yt, info = load_movielens_100k("u1", path=path, download=False)
    return X, y, Xt, yt, info.group_of_feature


def _loo(model: Any) -> dict[str, float]:
    from bayesfm.results import psis_loo

    if "log_likelihood" not in model.idata_.children:
        return {"elpd": float("nan"), "elpd_se": float("nan"), "k_high": float("nan")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = psis_loo(model.idata_)
    k = np.asarray(res.pareto_k.values)
    return {"elpd": float(res.elpd), "elpd_se": float(res.se),
            "k_high": float(np.mean(k > 0.7))}


def _calibration(p: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 y: np.ndarray) -> tuple[float, float]:
    """ECE over deciles of p, and the share of deciles whose rate lies in the mean interval."""
    edges = np.quantile(p, np.linspace(0, 1, 11))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, 9)
    ece, inside = 0.0, 0
    for b in range(10):
        m = idx == b
        if not m.any():
            continue
        rate = float(y[m].mean())
        ece += m.mean() * abs(float(p[m].mean()) - rate)
        inside += int(lo[m].mean() <= rate <= hi[m].mean())
    return ece, inside / 10


def run(data: str, fit: str, rank: int, seed: int) -> dict[str, Any]:
    """Fit one member of the family with its defaults and score it on the test rows."""
    from bayesfm import BayesianFMClassifier, BayesianFMRegressor

    model, method = FITS[fit]
    X, y, Xt, yt, groups = _load(data)
    cls = BayesianFMClassifier if data == "frappe" else BayesianFMRegressor
    est = cls(rank=rank, model=model, method=method, random_state=seed, progress_bar=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        est.fit(X, y, groups=groups)
        fit_s = time.perf_counter() - t0
    converged = not any("converged" in str(w.message) for w in caught)
    t0 = time.perf_counter()
    row: dict[str, Any] = {"data": data, "fit": fit, "model": model, "method": method,
                           "rank": rank, "fit_s": fit_s, "converged_warning_free": converged}
    if data == "frappe":
        s = est.predict_summary(Xt, prob=0.9)
        p = np.clip(np.asarray(s.mean, dtype=np.float64), 1e-7, 1 - 1e-7)
        row["predict_s"] = time.perf_counter() - t0
        ece, inside = _calibration(p, np.asarray(s.lower), np.asarray(s.upper), yt)
        row.update(log_loss=float(log_loss(yt, p)), auc=float(roc_auc_score(yt, p)),
                   ece=ece, deciles_in_90=inside)
    else:
        s = est.predict_summary(Xt, prob=0.9, kind="predictive")
        mean = np.asarray(s.mean, dtype=np.float64)
        row["predict_s"] = time.perf_counter() - t0
        row.update(rmse=float(np.sqrt(np.mean((mean - yt) ** 2))),
                   coverage_90=float(np.mean((s.lower <= yt) & (yt <= s.upper))))
    if method == "svi":
        losses = [c for c in est.idata_.children.values() if "loss" in c.data_vars]
        row["svi_steps_run"] = int(losses[0]["loss"].size) if losses else -1
    row.update(_loo(est))
    row["load_1min"] = os.getloadavg()[0]
    return row


def _table(rows: list[dict[str, Any]]) -> str:
    out = []
    for data in ("frappe", "ml100k"):
        sub = [r for r in rows if r["data"] == data]
        if not sub:
            continue
        if data == "frappe":
            out.append("| frappe | log-loss | AUC | ECE | deciles in 90% | fit | predict "
                       "| LOO elpd (se) | k > 0.7 | load |")
        else:
            out.append("| ML-100K u1 | RMSE | 90% coverage | fit | predict "
                       "| LOO elpd (se) | k > 0.7 | load |")
        out.append("|" + " --- |" * (10 if data == "frappe" else 8))
        for r in sub:
            loo = f"{r['elpd']:.0f} ({r['elpd_se']:.0f})"
            tail = (f"{r['fit_s']:.0f} s | {r['predict_s']:.1f} s | {loo} | "
                    f"{r['k_high']:.3f} | {r['load_1min']:.2f} |")
            if data == "frappe":
                out.append(f"| {r['fit']} | {r['log_loss']:.4f} | {r['auc']:.4f} | "
                           f"{r['ece']:.4f} | {r['deciles_in_90']:.1f} | " + tail)
            else:
                out.append(f"| {r['fit']} | {r['rmse']:.4f} | {r['coverage_90']:.3f} | "
                           + tail)
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Run the fits and print one Markdown table per data set."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="*", choices=["frappe", "ml100k"],
                    default=["frappe", "ml100k"])
    ap.add_argument("--fits", nargs="*", choices=list(FITS), default=list(FITS))
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the rows to this file (rewritten after each fit)")
    args = ap.parse_args(argv)
    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding frappe/ and ml-100k/")
    rows: list[dict[str, Any]] = []
    for data in args.data:
        for fit in args.fits:
            rows.append(run(data, fit, args.rank, args.seed))
            print(json.dumps(rows[-1]), flush=True)
            if args.json:
                with open(args.json, "w") as f:
                    json.dump(rows, f, indent=1)
    print(_table(rows))


if __name__ == "__main__":
    main()
