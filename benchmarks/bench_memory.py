"""Peak memory and time per sweep of a whole Gibbs fit, in the ``draws`` and ``moments`` modes.

    python benchmarks/bench_memory.py --rows 10000000 --features 100000 --store moments \
        --warmup 10 --samples 30                          # the 1e7-row fit of docs/benchmarks.md
    python benchmarks/bench_memory.py --rows 100000 --features 100000 --chains 1 \
        --warmup 20 --samples 500 --store draws moments   # the two modes side by side

Synthetic one-hot rows as in ``bench_myfm.py --bench scale`` (4 groups holding 50/30/15/5 % of
the features, Zipf-like popularity, Gaussian targets from a rank-2 FM plus noise) are split
into training rows (``--rows``) and ``--test-rows`` held-out rows. Each ``--store`` runs in its
own subprocess (this script re-invoked with ``--only``), which:

1. simulates the rows and builds the CSR matrices a user would hold (not timed);
2. resets the peak-RSS counter (``echo 5 > /proc/self/clear_refs``), so that the reported
   peak is that of fitting and predicting on top of the data (the RSS of the data and of the
   imports, ``rss_before_fit``, is reported too, and ``peak_total`` includes it);
3. fits ``BayesianFMRegressor(rank, store=..., num_warmup, num_samples, num_chains,
   random_state=0, log_likelihood=False, progress_bar=False)`` through the public estimator,
   timing its stages by wrapping them (no code changed): ``prepare_data``, the MCMC run, the
   DataTree conversion and the convergence check; JAX's compile events (``jax.monitoring``)
   inside the MCMC window are subtracted to get the time per sweep without compilation;
4. predicts the held-out rows (``predict``, chunked) and reports their RMSE.

Peak RSS is ``VmHWM`` of ``/proc/self/status`` (``resource.getrusage`` as a fallback).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_myfm import _cpu_s, _peak_rss_mib, _simulate_onehot, _union  # noqa: E402


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _csr(idx: np.ndarray) -> sp.csr_matrix:
    n, width = idx.shape
    indptr = np.arange(0, n * width + 1, width, dtype=np.int64)
    return sp.csr_matrix((np.ones(idx.size), idx.ravel(), indptr),
                         shape=(n, int(idx.max()) + 1))


def child(args: argparse.Namespace) -> dict[str, Any]:
    import jax

    import bayesfm.engines.gibbs.kernel as gk
    import bayesfm.estimators.base as est
    from bayesfm import BayesianFMRegressor

    t0 = time.perf_counter()
    idx, _, groups, y = _simulate_onehot(args.rows + args.test_rows, args.features, args.rank)
    X = _csr(idx)
    X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=(X.shape[0], groups.size))
    Xtr, Xte, ytr, yte = X[: args.rows], X[args.rows:], y[: args.rows], y[args.rows:]
    del idx, X, y
    t_data = time.perf_counter() - t0
    peak_data = _peak_rss_mib()
    reset = _reset_peak()
    rss0 = _rss_mib()

    spans: list[tuple[float, float]] = []
    compile_events = ("/jax/core/compile/jaxpr_trace_duration",
                      "/jax/core/compile/jaxpr_to_mlir_module_duration",
                      "/jax/core/compile/backend_compile_duration")

    def on_span(event: str, start: float, end: float, **_: Any) -> None:
        if event in compile_events:
            spans.append((start, end))

    jax.monitoring.register_event_time_span_listener(on_span)
    times: dict[str, float] = {}
    windows: dict[str, tuple[float, float]] = {}

    def timed(module: Any, name: str, key: str) -> None:
        fn = getattr(module, name)

        def wrapper(*a: Any, **kw: Any) -> Any:
            w0, t = time.time(), time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - t
                windows[key] = (w0, time.time())

        setattr(module, name, wrapper)

    # Patched where they are looked up: the one Gibbs kernel calls prepare_data, and the
    # estimators' base module imports fit_gibbs, to_datatree and check_convergence by name.
    timed(gk, "prepare_data", "prepare_data")
    timed(est, "fit_gibbs", "engine")  # includes prepare_data
    timed(est, "to_datatree", "datatree")
    timed(est, "check_convergence", "convergence")

    model = BayesianFMRegressor(
        rank=args.rank, store=args.only, num_warmup=args.warmup, num_samples=args.samples,
        num_chains=args.chains, max_kept=args.max_kept, random_state=0, log_likelihood=False,
        progress_bar=False,
    )
    c0, t0 = _cpu_s(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains: the convergence warning is expected
        model.fit(Xtr, ytr, groups=groups)
    t_fit = time.perf_counter() - t0
    untimed = {"prepare_data", "engine", "datatree", "convergence"} - set(times)
    if untimed:  # a stage moved: its patch no longer sits where fit looks it up
        raise SystemExit(f"stages never called, so not timed: {sorted(untimed)}")
    peak_fit = _peak_rss_mib()
    t0 = time.perf_counter()
    pred = model.predict(Xte)
    t_pred = time.perf_counter() - t0
    sweeps = args.warmup + args.samples
    mcmc = times["engine"] - times["prepare_data"]
    compile_mcmc = _union(spans, *windows["engine"])
    idata_bytes = sum(int(v.nbytes) for node in model.idata_.subtree
                      for v in node.to_dataset(inherit=False).variables.values())
    return {
        "store": args.only, "rows": args.rows, "features": int(groups.size),
        "nnz": int(Xtr.nnz), "rank": args.rank, "chains": args.chains,
        "warmup": args.warmup, "samples": args.samples, "max_kept": args.max_kept,
        "test_rows": args.test_rows, "simulate_s": t_data, "fit_s": t_fit,
        "prepare_data_s": times["prepare_data"], "mcmc_s": mcmc,
        "compile_in_mcmc_s": compile_mcmc,
        "sec_per_sweep": (mcmc - compile_mcmc) / sweeps,
        "sec_per_sweep_incl_compile": mcmc / sweeps,
        "ns_per_nnz_rank_chain": 1e9 * (mcmc - compile_mcmc) / sweeps / Xtr.nnz / args.rank
        / args.chains,
        "datatree_s": times.get("datatree", 0.0), "convergence_s": times.get("convergence", 0.0),
        "predict_s": t_pred, "test_rmse": float(np.sqrt(np.mean((pred - yte) ** 2))),
        "cpu_s": _cpu_s() - c0, "idata_mib": idata_bytes / 2**20,
        "peak_rss_data_mib": peak_data, "peak_reset": reset, "rss_before_fit_mib": rss0,
        "peak_rss_fit_mib": peak_fit, "peak_rss_mib": _peak_rss_mib(),
        "peak_total_mib": max(peak_data, _peak_rss_mib()),
        "dtype": str(jax.numpy.zeros(()).dtype), "devices": str(jax.devices()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--features", type=int, default=100_000)
    ap.add_argument("--test-rows", type=int, default=100_000)
    ap.add_argument("--rank", type=int, default=10)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--max-kept", type=int, default=100)
    ap.add_argument("--store", nargs="+", choices=("draws", "moments"), default=["moments"])
    ap.add_argument("--json", help="append the results to this JSON file")
    ap.add_argument("--only", choices=("draws", "moments"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.only:
        print("RESULT " + json.dumps(child(args)), flush=True)
        return
    results = []
    for store in args.store:
        load = os.getloadavg()
        argv = [a for a in sys.argv[1:]]
        cmd = [sys.executable, os.path.abspath(__file__), *argv, "--only", store]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stderr[-4000:])
            raise SystemExit(f"store={store} failed with code {proc.returncode}")
        r = json.loads(lines[-1][len("RESULT "):])
        r["load_before"] = [round(x, 2) for x in load]
        r["load_after"] = [round(x, 2) for x in os.getloadavg()]
        results.append(r)
        print(f"store={store}: N={r['rows']:,} p={r['features']:,} nnz={r['nnz']:,} "
              f"k={r['rank']} chains={r['chains']} sweeps={r['warmup']}+{r['samples']}: "
              f"fit {r['fit_s']:.1f} s (prepare_data {r['prepare_data_s']:.1f} s, MCMC "
              f"{r['mcmc_s']:.1f} s of which compile {r['compile_in_mcmc_s']:.1f} s, "
              f"to_datatree {r['datatree_s']:.1f} s, convergence {r['convergence_s']:.1f} s); "
              f"{r['sec_per_sweep']:.3f} s/sweep ({r['ns_per_nnz_rank_chain']:.2f} ns per "
              f"nnz x rank x chain); predict {r['test_rows']:,} rows {r['predict_s']:.1f} s, "
              f"RMSE {r['test_rmse']:.4f}; RSS before fit {r['rss_before_fit_mib']:.0f} MiB, "
              f"peak during fit+predict {r['peak_rss_mib']:.0f} MiB (reset: {r['peak_reset']}),"
              f" peak incl. data simulation {r['peak_total_mib']:.0f} MiB; idata_ "
              f"{r['idata_mib']:.1f} MiB; load {r['load_before'][0]:.2f} -> "
              f"{r['load_after'][0]:.2f}", flush=True)
    if args.json:
        path = Path(args.json)
        old = json.loads(path.read_text()) if path.exists() else []
        path.write_text(json.dumps(old + results, indent=1))


if __name__ == "__main__":
    main()
