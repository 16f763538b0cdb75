"""float32 versus float64: how far apart are the answers? (numbers for docs/precision.md)

Runs each configuration in a fresh process, because JAX's 64-bit mode must be chosen before
any array is made. Prints Markdown tables.

    python benchmarks/precision.py            # about 3 minutes on 2 CPU cores
    python benchmarks/precision.py --quick    # a smoke run: a few sweeps, numbers meaningless
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CHILD = r"""
import json, sys, warnings
import jax
jax.config.update("jax_enable_x64", sys.argv[1] == "64")
import numpy as np, scipy.sparse as sp
from bayesfm import BayesianFMRegressor
from bayesfm.data import simulate_fm
from bayesfm.model import fm_predict
warnings.simplefilter("ignore")
# sweeps of the fit of section 2 (warm-up, draws per chain) and of each fit of section 3
WARMUP, DRAWS, SMALL = (500, 1000, 300) if sys.argv[2] == "full" else (5, 10, 5)
out = {}
# 1. The FM score of fixed parameters (no sampling): float32 rounding alone.
rng = np.random.default_rng(0)
full = simulate_fm(n_rows=2300, group_sizes=(40, 30, 10), rank=4, seed=0)
from bayesfm.data import from_sparse
X_train, y_train, X_test, eta_test = full.X[:2000], full.y[:2000], full.X[2000:], full.eta[2000:]
d = from_sparse(X_train, groups=full.groups, dtype=np.float64)
w0, w, v = 0.3, rng.normal(0, 0.5, 80), rng.normal(0, 0.5, (80, 4))
dt = np.float64 if sys.argv[1] == "64" else np.float32
out["score"] = np.asarray(fm_predict(dt(w0), w.astype(dt), v.astype(dt), d.indices,
                                     d.values.astype(dt)), np.float64).tolist()
# 2. A whole Gibbs fit: posterior means and sds of held-out predictions.
fm = BayesianFMRegressor(rank=4, num_warmup=WARMUP, num_samples=DRAWS, num_chains=2,
                         random_state=0, progress_bar=False)
fm.fit(X_train, y_train, groups=full.groups)
m, s = fm.predict(X_test, return_std=True)
draws = fm.predict_draws(X_test).reshape(2, DRAWS, -1)
import arviz as az
ess = np.array([float(az.ess(draws[:, :, j])) if hasattr(az, "ess") else 1000.0
                for j in range(20)])
out.update(mean=m.tolist(), sd=s.tolist(), eta=eta_test.tolist(), ess=ess.tolist(),
           dtype=str(fm.design_template_.values.dtype), draws=DRAWS)
# 3. A numeric column times 1, 1e4, 1e5, 1e6: test RMSE against the noiseless truth.
small = simulate_fm(n_rows=400, group_sizes=(10, 8), rank=2, seed=0)
z = np.random.default_rng(1).normal(size=400)
rmse = {}
for scale in (1.0, 1e4, 1e5, 1e6):
    X = sp.hstack([small.X, sp.csr_matrix(z[:, None] * scale)]).tocsr()
    f = BayesianFMRegressor(rank=2, num_warmup=SMALL, num_samples=SMALL, num_chains=1,
                            random_state=0, progress_bar=False)
    f.fit(X, small.y + 0.5 * z, groups=np.r_[small.groups, 2])
    rmse[str(scale)] = float(np.sqrt(np.mean((f.predict(X) - small.eta - 0.5 * z) ** 2)))
out["rmse"] = rmse
print(json.dumps(out))
"""


def run(bits: str, size: str) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, bits, size], capture_output=True,
                         text=True, check=True, env=None)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    """Fit in float32 and in float64 and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a few sweeps only, to check that the script runs")
    args = ap.parse_args(argv)
    size = "quick" if args.quick else "full"
    r32, r64 = run("32", size), run("64", size)
    s32, s64 = np.array(r32["score"]), np.array(r64["score"])
    rel = np.abs(s32 - s64) / np.maximum(np.abs(s64), 1.0)
    print("## FM score of fixed parameters (2000 rows, 3 one-hot groups, rank 4)\n")
    print(f"max |score32 - score64| / max(|score64|, 1) = {rel.max():.2e}; "
          f"median {np.median(rel):.2e}\n")
    m32, m64 = np.array(r32["mean"]), np.array(r64["mean"])
    sd = np.array(r64["sd"])
    ess = np.array(r64["ess"])
    mcse = sd[:20] / np.sqrt(ess)
    eta = np.array(r64["eta"])
    print(f"## Gibbs fit (2000 rows, rank 4, 2 chains x {r64['draws']} draws), 300 held-out "
          "rows\n")
    print(f"design dtype: {r32['dtype']} vs {r64['dtype']}\n")
    print("| quantity | value |\n|---|---|")
    print(f"| max abs difference of posterior means | {np.abs(m32 - m64).max():.4f} |")
    print(f"| median abs difference of posterior means | {np.median(np.abs(m32 - m64)):.4f} |")
    print(f"| median posterior sd | {np.median(sd):.4f} |")
    print(f"| max difference / posterior sd | {np.max(np.abs(m32 - m64) / sd):.3f} |")
    print(f"| median MCSE of a mean (first 20 rows) | {np.median(mcse):.4f} |")
    print(f"| max difference / (sqrt 2 MCSE), first 20 rows | "
          f"{np.max(np.abs(m32 - m64)[:20] / (np.sqrt(2) * mcse)):.2f} |")
    print(f"| max abs difference of posterior sds | {np.abs(np.array(r32['sd']) - sd).max():.4f} |")
    print(f"| test RMSE vs truth, float32 | {np.sqrt(np.mean((m32 - eta) ** 2)):.4f} |")
    print(f"| test RMSE vs truth, float64 | {np.sqrt(np.mean((m64 - eta) ** 2)):.4f} |\n")
    print("## A numeric column of standard-normal values times a scale (400 rows, rank 2)\n")
    print("| scale | max value | RMSE float32 | RMSE float64 |\n|---|---|---|---|")
    for k in r32["rmse"]:
        print(f"| {float(k):g} | {3.1 * float(k):.2g} | {r32['rmse'][k]:.4f} | "
              f"{r64['rmse'][k]:.4f} |")


if __name__ == "__main__":
    main()
