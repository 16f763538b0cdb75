"""``bayesfm predict``: predict a file with a model saved by ``bayesfm fit --save``.

The model file holds the estimator (and the column encoder of a CSV fit), so the rows of
``--test`` are read and encoded as at fit time and ``predictions.csv`` has the columns and
the digits ``bayesfm fit --test`` writes for the same rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bayesfm.cli.fit import prediction_table
from bayesfm.cli.inputs import (
    _binary_labels,
    _check_file,
    _content_line,
    _numbers,
    _read_csv,
    file_format,
)

__all__ = ["predict_command", "read_test"]


def _task(fm: Any) -> str:
    return {"BayesianFMClassifier": "binary", "BayesianFMOrdinal": "ordinal"}.get(
        type(fm).__name__, "regression")


def read_test(fm: Any, args: argparse.Namespace, task: str) -> tuple[Any, np.ndarray | None]:
    """Rows of ``--test`` laid out as the model was fitted, and their labels if present."""
    test = _check_file(args.test, "--test")
    fmt = file_format(test, args.format)
    if fmt == "csv":
        if fm.encoder_ is None:
            raise ValueError(f"{test}: the model was fitted on libFM rows; give a libFM file")
        features = [c["name"] for c in fm.encoder_.columns_]
        df = _read_csv(test)
        missing = [c for c in features if c not in df.columns]
        if missing:
            raise ValueError(f"{test}: feature columns missing: {missing}")
        X = df[features].copy()
        for c in fm.encoder_.columns_:
            if c["kind"] == "numeric":
                X[c["name"]] = _numbers(df[c["name"]], test, f"numeric column {c['name']!r}")
        y = None
        if args.target in df.columns:
            y = _numbers(df[args.target], test, f"target {args.target!r}")
            if task == "binary":
                y = _binary_labels(y, test, lambda r: r + 2)
        return X, y
    from bayesfm.data.libfm import read_libfm

    if fm.encoder_ is not None:
        raise ValueError(f"{test}: the model was fitted on CSV columns; give a CSV file")
    X, y = read_libfm(test, n_features=int(fm.n_features_in_),
                      zero_based=args.format != "svmlight")
    if task == "binary":
        y = _binary_labels(y, test, lambda r: _content_line(test, r))
    return X, y


def predict_command(args: argparse.Namespace) -> int:
    """Run ``bayesfm predict``: write ``predictions.csv`` (and ``report.json``) to ``--out``."""
    from bayesfm import load

    model = _check_file(args.model, "--model")
    fm = load(model)
    task = _task(fm)
    X, y = read_test(fm, args, task)
    table = prediction_table(fm, X, y, task, args.prob)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "predictions.csv", index=False, float_format="%.17g")
    report = {"task": task, "model": str(model), "test": str(args.test),
              "test_rows": len(table), "interval_prob": args.prob,
              "files": ["predictions.csv", "report.json"]}
    (out / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    print(f"{len(table)} rows predicted; written to {(out / 'predictions.csv').resolve()}")
    return 0


