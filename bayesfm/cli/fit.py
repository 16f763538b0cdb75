"""``bayesfm fit``: read train/test files, fit, and write predictions, posterior and plots.

Kept apart from :mod:`bayesfm.cli.parser` (the argument parser) so that the file handling can
be read on its own. Every problem with the input raises ``ValueError`` / ``FileNotFoundError`` with
one line that names the file and, where there is one, the line.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["run_fit"]

#: Posterior draws used for the replicated datasets of the predictive check.
PPC_DRAWS = 100
#: Largest draws x rows held for the calibration diagram (float64).
CALIBRATION_CELLS = 20_000_000


@dataclass
class Inputs:
    """Training and test data as the estimator takes them."""

    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray | None
    groups: np.ndarray | None


def _check_file(path: str, option: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{option} file not found: {path!r}")
    if not p.is_file():
        raise FileNotFoundError(f"{option} is not a file: {path!r}")
    return p


def file_format(path: Path, fmt: str) -> str:
    """``fmt``, or for ``"auto"`` ``csv`` when the name ends in ``.csv`` and ``libfm`` else."""
    if fmt != "auto":
        return fmt
    return "csv" if path.suffix.lower() == ".csv" else "libfm"


def _content_line(path: Path, row: int) -> int:
    """1-based line of the ``row``-th row of a libFM file (blank and comment lines skip)."""
    seen = -1
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if line.split("#", 1)[0].strip():
                seen += 1
                if seen == row:
                    return lineno
    return -1  # pragma: no cover


def _binary_labels(y: np.ndarray, path: Path, line_of: Any) -> np.ndarray:
    """Map labels 0/1 or -1/+1 to 0/1; raise naming the line of the first other label."""
    bad = ~np.isin(y, (-1.0, 0.0, 1.0))
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"{path}, line {line_of(row)}: label {y[row]:g} is not binary (use 0/1 or -1/+1)"
        )
    if np.any(y == -1.0) and np.any(y == 0.0):
        row = int(np.argmax(y == 0.0))
        raise ValueError(
            f"{path}, line {line_of(row)}: label 0 in a file that also has -1 labels; "
            "use 0/1 or -1/+1, not both"
        )
    return (y > 0).astype(np.int64)


def _read_groups(path: Path) -> np.ndarray:
    names = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        name = line.strip()
        if not name:
            raise ValueError(f"{path}, line {lineno}: empty group name (one name per feature)")
        names.append(name)
    if not names:
        raise ValueError(f"{path}: no group names (one line per feature expected)")
    return np.asarray(names)


def read_libfm_inputs(args: argparse.Namespace, train: Path, test: Path) -> Inputs:
    """Read libFM / svmlight train and test files into one shared column layout."""
    from bayesfm.data.libfm import read_libfm

    zero_based = args.format != "svmlight"
    groups = _read_groups(_check_file(args.groups, "--groups")) if args.groups else None
    n_features = None if groups is None else len(groups)
    X_tr, y_tr = read_libfm(train, n_features=n_features, zero_based=zero_based)
    X_te, y_te = read_libfm(test, n_features=n_features, zero_based=zero_based)
    if n_features is None:
        # Features seen only in the test file keep their column: the posterior of their
        # weights is the prior, which is what a Bayesian FM should predict with.
        p = max(X_tr.shape[1], X_te.shape[1], 1)
        X_tr = sp.csr_matrix((X_tr.data, X_tr.indices, X_tr.indptr), shape=(X_tr.shape[0], p))
        X_te = sp.csr_matrix((X_te.data, X_te.indices, X_te.indptr), shape=(X_te.shape[0], p))
    if args.task == "binary":
        y_tr = _binary_labels(y_tr, train, lambda r: _content_line(train, r))
        y_te = _binary_labels(y_te, test, lambda r: _content_line(test, r))
    return Inputs(X_tr, y_tr, X_te, y_te, groups)


def _read_csv(path: Path, nrows: int | None = None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=True, nrows=nrows)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty") from None
    except pd.errors.ParserError as err:
        raise ValueError(f"{path}: {' '.join(str(err).split())}") from None


def _numbers(col: pd.Series, path: Path, what: str) -> np.ndarray:
    """Convert text cells to float64, naming the CSV line of the first cell that is no number."""
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        cell = col.iloc[row]
        shown = "an empty cell" if pd.isna(cell) else f"{cell!r}"
        # Line 1 is the header, so data row r is on line r + 2.
        raise ValueError(f"{path}, line {row + 2}: {what} is {shown}, not a finite number")
    return values


def read_csv_inputs(args: argparse.Namespace, train: Path, test: Path) -> Inputs:
    """Read CSV files: the ``--target`` column and feature columns, one group per column."""
    header = list(_read_csv(train, nrows=0).columns)
    if args.target not in header:
        raise ValueError(
            f"{train}: no target column {args.target!r} (columns: {', '.join(header)}); "
            "name it with --target"
        )
    features = [c for c in header if c != args.target]
    if not features:
        raise ValueError(f"{train}: no feature columns besides the target {args.target!r}")
    numeric = [c.strip() for c in args.numeric.split(",") if c.strip()] if args.numeric else []
    unknown = [c for c in numeric if c not in features]
    if unknown:
        raise ValueError(f"--numeric names columns not among the features of {train}: {unknown}")
    df_tr = _read_csv(train)
    test_header = list(_read_csv(test, nrows=0).columns)
    missing = [c for c in features if c not in test_header]
    if missing:
        raise ValueError(f"{test}: feature columns missing: {missing}")
    df_te = _read_csv(test)

    def frame(df: pd.DataFrame, path: Path) -> pd.DataFrame:
        out = df[features].copy()
        for c in numeric:
            out[c] = _numbers(df[c], path, f"numeric column {c!r}")
        return out

    y_tr = _numbers(df_tr[args.target], train, f"target {args.target!r}")
    y_te = None
    if args.target in df_te.columns:
        y_te = _numbers(df_te[args.target], test, f"target {args.target!r}")
    if args.task == "binary":
        y_tr = _binary_labels(y_tr, train, lambda r: r + 2)
        if y_te is not None:
            y_te = _binary_labels(y_te, test, lambda r: r + 2)
    return Inputs(frame(df_tr, train), y_tr, frame(df_te, test), y_te, None)


def make_estimator(args: argparse.Namespace) -> Any:
    """Build the estimator ``bayesfm fit`` fits (the Python API gets the same from these)."""
    from bayesfm import BayesianFMClassifier, BayesianFMRegressor

    common: dict[str, Any] = dict(
        rank=args.rank, method=args.method, num_warmup=args.warmup, num_samples=args.iter,
        num_chains=args.chains, random_state=args.seed, guide=args.guide,
        svi_steps=args.svi_steps, learning_rate=args.learning_rate, batch_size=args.batch_size,
        progress_bar=False if args.no_progress else None,
    )
    if args.task == "binary":
        return BayesianFMClassifier(link=args.link or "probit", **common)
    if args.link is not None:
        raise ValueError("--link applies to --task binary only")
    return BayesianFMRegressor(**common)


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _metrics(task: str, y: np.ndarray, mean: np.ndarray, covered: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import log_loss, roc_auc_score

    out: dict[str, Any] = {}
    if task == "regression":
        out["rmse"] = float(np.sqrt(np.mean((y - mean) ** 2)))
        out["mae"] = float(np.mean(np.abs(y - mean)))
        out["predictive_interval_coverage"] = float(covered.mean())
    else:
        p = np.clip(mean, 1e-12, 1 - 1e-12)
        out["log_loss"] = float(log_loss(y, p, labels=[0, 1]))
        out["accuracy"] = float(np.mean((mean >= 0.5) == (y == 1)))
        out["auc"] = float(roc_auc_score(y, mean)) if np.unique(y).size == 2 else None
    return out


def _save(fig: Any, path: Path, written: list[str]) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    written.append(path.name)


def write_plots(
    fm: Any, data: Inputs, args: argparse.Namespace, out: Path, table: pd.DataFrame
) -> list[str]:
    """Write the diagnostics plots; return the file names written."""
    from bayesfm import plots

    written: list[str] = []
    dt = fm.idata_
    _save(plots.plot_trace(dt), out / "trace.png", written)
    if args.method != "svi":  # SVI draws are independent: ranks say nothing there
        _save(plots.plot_rank(dt), out / "rank.png", written)
    _save(plots.plot_forest(dt, prob=args.prob), out / "forest.png", written)
    if "elbo" in dt.children:
        _save(plots.plot_elbo(dt), out / "elbo.png", written)
    n_total = dt["posterior"].sizes["chain"] * dt["posterior"].sizes["draw"]
    y_rep = fm.sample_posterior_predictive(
        data.X_train, num_draws=min(PPC_DRAWS, n_total), random_state=args.seed
    )
    _save(plots.plot_ppc(data.y_train, y_rep), out / "ppc.png", written)
    if data.y_test is None:
        return written
    y = data.y_test
    if args.task == "binary":
        rows = np.arange(y.size)
        if n_total * y.size > CALIBRATION_CELLS:
            rng = np.random.default_rng(args.seed)
            rows = np.sort(rng.choice(y.size, CALIBRATION_CELLS // n_total, replace=False))
        X_cal = data.X_test[rows] if not isinstance(data.X_test, pd.DataFrame) else (
            data.X_test.iloc[rows]
        )
        fig = plots.plot_calibration(y[rows], fm.predict_draws(X_cal), prob=args.prob)
        _save(fig, out / "calibration.png", written)
    else:
        fig = plots.plot_intervals(
            y, table["mean"].to_numpy(), table["pred_lower"].to_numpy(),
            table["pred_upper"].to_numpy(), xlabel="observed y",
            ylabel=f"posterior mean, {args.prob:.0%} predictive interval",
        )
        _save(fig, out / "intervals.png", written)
        fig = plots.plot_uncertainty(
            y, table["mean"].to_numpy(), table["pred_sd"].to_numpy(), prob=args.prob
        )
        _save(fig, out / "uncertainty.png", written)
    return written


def run_fit(args: argparse.Namespace) -> dict[str, Any]:
    """Run ``bayesfm fit``; return the report that is also written to ``report.json``."""
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.exceptions import ConvergenceWarning

    train = _check_file(args.train, "--train")
    test = _check_file(args.test, "--test")
    fmt = file_format(train, args.format)
    if file_format(test, args.format) != fmt:
        raise ValueError(f"--train {train} and --test {test} look like different formats; "
                         "give --format")
    data = (read_csv_inputs if fmt == "csv" else read_libfm_inputs)(args, train, test)
    fm = make_estimator(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fm.fit(data.X_train, data.y_train, groups=data.groups)
    fit_s = time.perf_counter() - t0
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            print(f"bayesfm: warning: {' '.join(str(w.message).split())}")

    s = fm.predict_summary(data.X_test, prob=args.prob)
    table = pd.DataFrame({"row": np.arange(s.mean.size)})
    if data.y_test is not None:
        table["y"] = data.y_test
    table["mean"], table["sd"], table["lower"], table["upper"] = s
    if args.task == "regression":
        ps = fm.predict_summary(data.X_test, prob=args.prob, kind="predictive")
        table["pred_sd"], table["pred_lower"], table["pred_upper"] = ps.sd, ps.lower, ps.upper
    # 17 significant digits: the CSV reads back to the very float64 the API returns.
    table.to_csv(out / "predictions.csv", index=False, float_format="%.17g")
    written = ["predictions.csv"]
    summary = fm.summary(ci_prob=args.prob)
    summary.to_csv(out / "summary.csv")
    fm.idata_.to_netcdf(out / "posterior.nc", engine="h5netcdf")
    written += ["summary.csv", "posterior.nc"]
    if not args.no_plots:
        written += write_plots(fm, data, args, out, table)

    report: dict[str, Any] = {
        "task": args.task,
        "method": args.method,
        "rank": args.rank,
        "seed": args.seed,
        "train": str(train),
        "test": str(test),
        "train_rows": int(data.y_train.size),
        "test_rows": int(s.mean.size),
        "n_features": int(fm.idata_["posterior"].sizes["feature"]),
        "fit_seconds": round(fit_s, 2),
        "interval_prob": args.prob,
        # One chain has no R-hat in the summary (NaN): report null, and keep JSON strict.
        "max_rhat": _finite_or_none(np.nanmax(summary["r_hat"].to_numpy(dtype=float),
                                               initial=-np.inf)),
        "min_ess_bulk": _finite_or_none(np.nanmin(summary["ess_bulk"].to_numpy(dtype=float),
                                                  initial=np.inf)),
        "convergence_problems": list(fm.convergence_problems_),
    }
    if data.y_test is not None:
        if args.task == "regression":
            covered = (table["pred_lower"] <= data.y_test) & (data.y_test <= table["pred_upper"])
        else:
            covered = np.zeros(0)
        report["metrics"] = _metrics(args.task, data.y_test, s.mean, np.asarray(covered))
    report["files"] = [*written, "report.json"]
    (out / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    return report
