"""Read the ``--train`` / ``--test`` files of ``bayesfm fit`` into the estimator's inputs.

libFM / svmlight files share one column layout (a feature seen only in the test file keeps its
column); a CSV's ``--target`` column is the label and every other column one group (field).
Every problem with the input raises ``ValueError`` / ``FileNotFoundError`` with one line that
names the file and, where there is one, the line.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["Inputs", "file_format", "read_csv_inputs", "read_inputs", "read_libfm_inputs"]


@dataclass
class Inputs:
    """Training and test data as the estimator takes them."""

    X_train: Any
    y_train: np.ndarray
    X_test: Any
    y_test: np.ndarray | None
    groups: np.ndarray | None
    feature_names: list[str] | None = None
    categorical: list[str] | None = None
    numeric: list[str] | None = None


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


def read_groups(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """Group name of every feature, and feature names when every line gives one.

    One line per feature index: ``group`` or ``group<TAB>feature name`` (as
    :meth:`bayesfm.data.DatasetInfo.write_groups` writes).
    """
    groups, names = [], []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        group, _, name = line.strip().partition("\t")
        if not group.strip():
            raise ValueError(f"{path}, line {lineno}: empty group name (one name per feature)")
        groups.append(group.strip())
        names.append(name.strip())
    if not groups:
        raise ValueError(f"{path}: no group names (one line per feature expected)")
    if any(names) and not all(names):
        lineno = names.index("") + 1
        raise ValueError(f"{path}, line {lineno}: no feature name, while other lines have one")
    return np.asarray(groups), (names if all(names) else None)


def read_libfm_inputs(args: argparse.Namespace, train: Path, test: Path) -> Inputs:
    """Read libFM / svmlight train and test files into one shared column layout."""
    from bayesfm.data.libfm import read_libfm

    zero_based = args.format != "svmlight"
    groups, names = (read_groups(_check_file(args.groups, "--groups")) if args.groups
                     else (None, None))
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
    return Inputs(X_tr, y_tr, X_te, y_te, groups, names)


def _read_csv(path: Path, nrows: int | None = None) -> pd.DataFrame:
    try:
        return pd.read_csv(path, keep_default_na=True, nrows=nrows)
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


def _columns_option(text: str | None) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()] if text else []


def read_csv_inputs(args: argparse.Namespace, train: Path, test: Path) -> Inputs:
    """Read CSV files: the ``--target`` column and feature columns, one group per column.

    Cells are read as pandas reads them (``pd.read_csv``: integers as int64), so that the
    API on ``pd.read_csv`` frames with the same ``categorical`` / ``numeric`` fits the same
    design. Without ``--categorical`` every feature column not in ``--numeric`` is declared
    categorical; with it, undeclared columns follow the API's dtype rule.
    """
    header = list(_read_csv(train, nrows=0).columns)
    if args.target not in header:
        raise ValueError(
            f"{train}: no target column {args.target!r} (columns: {', '.join(header)}); "
            "name it with --target"
        )
    features = [c for c in header if c != args.target]
    if not features:
        raise ValueError(f"{train}: no feature columns besides the target {args.target!r}")
    numeric = _columns_option(args.numeric)
    unknown = [c for c in numeric if c not in features]
    if unknown:
        raise ValueError(f"--numeric names columns not among the features of {train}: {unknown}")
    categorical = _columns_option(getattr(args, "categorical", None))
    unknown = [c for c in categorical if c not in features]
    if unknown:
        raise ValueError(
            f"--categorical names columns not among the features of {train}: {unknown}")
    both = [c for c in categorical if c in numeric]
    if both:
        raise ValueError(f"columns {both} are named in both --categorical and --numeric")
    if not categorical:
        categorical = [c for c in features if c not in numeric]
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
    return Inputs(frame(df_tr, train), y_tr, frame(df_te, test), y_te, None, None,
                  categorical, numeric)


def read_inputs(args: argparse.Namespace) -> tuple[Path, Path, Inputs]:
    """Check ``--train`` and ``--test``, agree on their format and read both.

    Returns
    -------
    train, test : Path
        The two files, checked to exist.
    inputs : Inputs
        Their rows as the estimator takes them.
    """
    train = _check_file(args.train, "--train")
    test = _check_file(args.test, "--test")
    fmt = file_format(train, args.format)
    if file_format(test, args.format) != fmt:
        raise ValueError(f"--train {train} and --test {test} look like different formats; "
                         "give --format")
    data = (read_csv_inputs if fmt == "csv" else read_libfm_inputs)(args, train, test)
    return train, test, data
