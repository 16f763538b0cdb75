"""Size of a saved model file, group by group: MovieLens 100K u1 with the default regressor.

Fits ``BayesianFMRegressor`` (rank 8, Gibbs, 2 chains) on u1.base and prints, for every group
and variable of ``idata_``, its dtype, shape and bytes in memory; then saves it twice, with
``log_likelihood="recompute"`` (the default: the group left out and recomputed on load) and
``"keep"``, and prints each file's size and save and load times, and for the recomputed one
how far the loaded log likelihood and PSIS-LOO are from the fitted model's. Needs the data
under ``$BAYESFM_DATA``.

    python benchmarks/model_file_size.py                            # 500 + 500 draws
    python benchmarks/model_file_size.py --warmup 100 --samples 100 # 100 + 100 draws
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

import arviz as az
import numpy as np

from bayesfm import BayesianFMRegressor, load
from bayesfm.data import load_movielens_100k
from bayesfm.persistence import save_model


def groups_table(model: BayesianFMRegressor) -> list[dict]:
    """Dtype, shape and bytes in memory of every variable of ``model.idata_``."""
    rows = []
    for node in model.idata_.subtree:
        ds = node.to_dataset(inherit=False)
        for name, var in ds.data_vars.items():
            a = np.asarray(var.values)
            rows.append({"group": node.path, "variable": str(name), "dtype": a.dtype.str,
                         "shape": list(a.shape), "bytes": int(a.nbytes)})
    return rows


def main(args: argparse.Namespace) -> dict:
    """Fit, save, load and return the sizes."""
    Xtr, ytr, _, _, info = load_movielens_100k("u1", path=os.environ["BAYESFM_DATA"],
                                               download=False)
    fm = BayesianFMRegressor(num_warmup=args.warmup, num_samples=args.samples,
                             random_state=0, progress_bar=False)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm.fit(Xtr, ytr, groups=info)
    fit_s = time.perf_counter() - t0
    out = {"warmup": args.warmup, "samples": args.samples, "rows": int(Xtr.shape[0]),
           "features": int(Xtr.shape[1]), "fit_s": round(fit_s, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("recompute", "keep"):
            path = Path(args.out or tmp) / f"fm-{mode}.bfm"
            path.parent.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            save_model(fm, path, log_likelihood=mode)
            save_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            back = load(path)
            load_s = time.perf_counter() - t0
            size = path.stat().st_size
            out[mode] = {"file_bytes": size, "file_mb": round(size / 1e6, 2),
                         "save_s": round(save_s, 2), "load_s": round(load_s, 2)}
            if "log_likelihood" in fm.idata_.children:
                a = fm.idata_["log_likelihood"]["y"].values.astype(np.float64)
                b = back.idata_["log_likelihood"]["y"].values.astype(np.float64)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    loo_a, loo_b = az.loo(fm.idata_), az.loo(back.idata_)
                out[mode].update(
                    ll_equal=bool(np.array_equal(a, b)),
                    ll_max_abs_diff=float(np.max(np.abs(a - b))),
                    ll_max_rel_diff=float(np.max(np.abs(a - b) / np.abs(a))),
                    elpd_loo=[float(loo_a.elpd), float(loo_b.elpd)],
                    se_loo=[float(loo_a.se), float(loo_b.se)])
    table = groups_table(fm)
    out["in_memory_bytes"] = sum(r["bytes"] for r in table)
    out["variables"] = table
    return out


def parse(argv: list[str] | None = None) -> argparse.Namespace:  # noqa: D103
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--out", help="folder to keep the saved files in (default: a temporary one)")
    return ap.parse_args(argv)


if __name__ == "__main__":
    out = main(parse())
    for r in out.pop("variables"):
        print(f"{r['group']:<22} {r['variable']:<16} {r['dtype']:<5} {str(r['shape']):<22} "
              f"{r['bytes'] / 1e6:9.3f} MB")
    print(json.dumps(out))
