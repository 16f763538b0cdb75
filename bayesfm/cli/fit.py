"""``bayesfm fit``: fit the files read by :mod:`bayesfm.cli.inputs`; write every output.

Writes predictions with their credible (and, for regression, predictive) intervals, the
posterior, a convergence summary, diagnostics plots and a report with the test metrics.
The estimator is the Python API's own (:func:`make_estimator`), so the command predicts what
the API predicts; each convergence warning becomes one printed line.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesfm.cli.inputs import Inputs, read_inputs

__all__ = ["fit_command", "make_estimator", "prediction_table", "run_fit", "write_plots"]

#: Posterior draws used for the replicated datasets of the predictive check.
PPC_DRAWS = 100
#: Largest draws x rows held for the calibration diagram (float64).
CALIBRATION_CELLS = 20_000_000


#: Command-line flags of the interaction terms' options, by model.
MODEL_FLAGS = {"ifm": ("hidden_units", "temperature"), "cfm": ("channels",)}


def model_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """Return the estimator's ``model_options`` from ``--hidden-units``, ``--temperature``.

    A flag given for a model that has no such option is an error naming the model it
    belongs to.
    """
    model = getattr(args, "model", "fm")
    given = {name: getattr(args, name) for names in MODEL_FLAGS.values() for name in names
             if getattr(args, name, None) is not None}
    for name in given:
        owner = next(m for m, names in MODEL_FLAGS.items() if name in names)
        if owner != model:
            flag = "--" + name.replace("_", "-")
            raise ValueError(f"{flag} applies to --model {owner} only (got --model {model})")
    return given or None


def make_estimator(args: argparse.Namespace) -> Any:
    """Build the estimator ``bayesfm fit`` fits (the Python API gets the same from these)."""
    from bayesfm import BayesianFMClassifier, BayesianFMOrdinal, BayesianFMRegressor

    common: dict[str, Any] = dict(
        rank=args.rank, method=args.method, num_warmup=args.warmup, num_samples=args.iter,
        num_chains=args.chains, random_state=args.seed, guide=args.guide,
        svi_steps=args.svi_steps, learning_rate=args.learning_rate, batch_size=args.batch_size,
        progress_bar=False if args.no_progress else None,
        model=getattr(args, "model", "fm"), degree=getattr(args, "degree", 2),
        model_options=model_options(args),
    )
    if args.task == "binary":
        return BayesianFMClassifier(link=args.link or "probit", **common)
    if args.link is not None:
        raise ValueError("--link applies to --task binary only")
    if args.task == "ordinal":
        return BayesianFMOrdinal(**common)
    return BayesianFMRegressor(**common)


def prediction_table(fm: Any, X: Any, y: np.ndarray | None, task: str,
                     prob: float) -> pd.DataFrame:
    """Return the rows of ``predictions.csv`` (``bayesfm fit`` and ``predict``).

    Regression and ordinal add the predictive sd and interval of a new ``y``; ordinal adds
    the most probable class.
    """
    s = fm.predict_summary(X, prob=prob)
    table = pd.DataFrame({"row": np.arange(s.mean.size)})
    if y is not None:
        table["y"] = y
    table["mean"], table["sd"], table["lower"], table["upper"] = s
    if task in ("regression", "ordinal"):
        ps = fm.predict_summary(X, prob=prob, kind="predictive")
        table["pred_sd"], table["pred_lower"], table["pred_upper"] = ps.sd, ps.lower, ps.upper
    if task == "ordinal":
        table["class"] = fm.predict(X)
    return table


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _metrics(task: str, y: np.ndarray, mean: np.ndarray, covered: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import log_loss, roc_auc_score

    out: dict[str, Any] = {}
    if task in ("regression", "ordinal"):
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

    train, test, data = read_inputs(args)
    fm = make_estimator(args)
    fm.set_params(categorical=data.categorical, numeric=data.numeric)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        fm.fit(data.X_train, data.y_train, groups=data.groups,
               feature_names=data.feature_names)
    fit_s = time.perf_counter() - t0
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            print(f"bayesfm: warning: {' '.join(str(w.message).split())}")

    table = prediction_table(fm, data.X_test, data.y_test, args.task, args.prob)
    mean = table["mean"].to_numpy()
    # 17 significant digits: the CSV reads back to the very float64 the API returns.
    table.to_csv(out / "predictions.csv", index=False, float_format="%.17g")
    written = ["predictions.csv"]
    if getattr(args, "save", None):
        fm.save(args.save)
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
        "test_rows": int(mean.size),
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
        if args.task != "binary":
            covered = (table["pred_lower"] <= data.y_test) & (data.y_test <= table["pred_upper"])
        else:
            covered = np.zeros(0)
        report["metrics"] = _metrics(args.task, data.y_test, mean, np.asarray(covered))
    report["files"] = [*written, "report.json"]
    (out / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    return report


def fit_command(args: argparse.Namespace) -> int:
    """Run ``bayesfm fit`` with the parsed ``args``; print the headline figures; return 0."""
    report = run_fit(args)
    shown = {k: report[k] for k in ("train_rows", "test_rows", "n_features", "fit_seconds",
                                    "max_rhat", "min_ess_bulk")}
    shown.update(report.get("metrics", {}))
    width = max(map(len, shown))
    for key, value in shown.items():
        print(f"{key:>{width}}: {value}")
    print(f"outputs written to {Path(args.out).resolve()}: {', '.join(report['files'])}")
    return 0
