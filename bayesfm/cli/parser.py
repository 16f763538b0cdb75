"""The argument parser of the ``bayesfm`` command: its subcommands, options and their checks.

Every option is declared here; the type checkers refuse a value that is wrong on its own (a
count below 1, a probability outside (0, 1)) before anything is read or fitted, in one line on
stderr with exit status 2. What a subcommand does lives in :mod:`bayesfm.cli.demo` and
:mod:`bayesfm.cli.fit`.
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

import numpy as np

from bayesfm.cli.demo import demo_command
from bayesfm.cli.fit import fit_command
from bayesfm.cli.predict import predict_command

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _batch_size(text: str) -> int | str | None:
    """``--batch-size``: a positive integer, ``auto`` or ``all`` (every row)."""
    if text in ("auto", "all"):
        return None if text == "all" else text
    return _positive_int(text)


def _nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0.0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return value


def _add_fit_parser(sub: Any) -> None:
    fit = sub.add_parser(
        "fit",
        help="fit a Bayesian FM to libFM/svmlight or CSV files and predict a test file",
        description="Fit a Bayesian factorization machine to --train, predict every row of "
        "--test with its posterior mean, sd and credible interval, and write to --out: "
        "predictions.csv, posterior.nc (the ArviZ DataTree), summary.csv (R-hat and ESS of "
        "the identifiable quantities), report.json (test metrics when the test file has "
        "labels: RMSE, or AUC and log-loss) and diagnostics plots (trace, rank, forest, "
        "ppc; calibration for binary; intervals and uncertainty for regression; elbo for "
        "SVI).",
        epilog="Example: bayesfm fit --train frappe.validation.libfm --test "
        "frappe.test.libfm --task binary --rank 8 --method gibbs --iter 500 --out frappe-fit",
    )
    io = fit.add_argument_group("data")
    io.add_argument("--train", required=True, metavar="FILE",
                    help="training file (libFM/svmlight lines 'label idx:val ...', or CSV)")
    io.add_argument("--test", required=True, metavar="FILE",
                    help="file of rows to predict, same format as --train; its labels (CSV: "
                    "its --target column, if present) are used for the report's metrics")
    io.add_argument("--format", default="auto", choices=["auto", "libfm", "svmlight", "csv"],
                    help="input format: libfm (0-based feature indices), svmlight (1-based), "
                    "csv, or auto: csv for names ending in .csv, libfm otherwise "
                    "(default: %(default)s)")
    io.add_argument("--target", default="y", metavar="COLUMN",
                    help="CSV: the column holding the label (default: %(default)s); every "
                    "other column is a feature and becomes one group (field)")
    io.add_argument("--numeric", default=None, metavar="COL,COL",
                    help="CSV: comma-separated columns encoded as one standardised numeric "
                    "feature; all other feature columns are one-hot (categorical) unless "
                    "--categorical is given")
    io.add_argument("--categorical", default=None, metavar="COL,COL",
                    help="CSV: comma-separated columns to one-hot encode; when given, other "
                    "columns not in --numeric follow the Python API's rule (integer and "
                    "float columns numeric, text columns one-hot)")
    io.add_argument("--groups", default=None, metavar="FILE",
                    help="libFM: text file with the group (field) name of every feature, one "
                    "line per feature index, optionally followed by a tab and the feature's "
                    "name (DatasetInfo.write_groups writes it); default one group for all "
                    "features")
    model = fit.add_argument_group("model and inference")
    model.add_argument("--task", required=True, choices=["regression", "binary", "ordinal"],
                       help="regression (Gaussian likelihood), binary labels 0/1 or -1/+1 "
                       "(click-through rate) or ordinal (ordered integer classes, ratings)")
    model.add_argument("--model", default="fm", choices=["fm", "ffm", "ifm", "cfm"],
                       help="plain FM, field-aware FM over the groups, input-aware FM (a "
                       "network rescales each row's fields) or convolutional FM (one-hot "
                       "fields only); ifm and cfm need --method nuts or svi "
                       "(default: %(default)s)")
    model.add_argument("--hidden-units", type=_positive_int, nargs="+", default=None,
                       metavar="N", help="--model ifm: units of each hidden layer of the "
                       "factor-estimating network (default: 16)")
    model.add_argument("--temperature", type=_positive_float, default=None, metavar="T",
                       help="--model ifm: softmax temperature of the network (default: 1)")
    model.add_argument("--channels", type=_positive_int, default=None, metavar="N",
                       help="--model cfm: channels of every convolution layer (default: 4)")
    model.add_argument("--degree", type=int, default=2, choices=[2, 3],
                       help="interaction order: 3 adds the order-3 term (--model fm only) "
                       "(default: %(default)s)")
    model.add_argument("--rank", type=_positive_int, default=8, metavar="K",
                       help="number of latent factors per feature (default: %(default)s)")
    model.add_argument("--method", default="gibbs", choices=["gibbs", "nuts", "svi"],
                       help="inference engine: exact blocked Gibbs (fast; both binary "
                       "links), NUTS (small data), SVI (approximate) "
                       "(default: %(default)s)")
    model.add_argument("--iter", type=_positive_int, default=500, metavar="N",
                       help="posterior draws kept per chain (SVI: draws taken from the "
                       "fitted guide) (default: %(default)s)")
    model.add_argument("--warmup", type=_nonnegative_int, default=500, metavar="N",
                       help="warm-up draws per chain, discarded (default: %(default)s)")
    model.add_argument("--chains", type=_positive_int, default=2, metavar="N",
                       help="independent chains, needed for R-hat (default: %(default)s)")
    model.add_argument("--seed", type=int, default=0,
                       help="random seed; the same seed gives the same draws and predictions "
                       "(default: %(default)s)")
    model.add_argument("--link", default=None, choices=["probit", "logit"],
                       help="binary: P(y=1) = Phi(eta) or sigmoid(eta) (default: probit)")
    model.add_argument("--guide", default="normal", choices=["normal", "lowrank", "map"],
                       help="SVI: variational family (default: %(default)s)")
    model.add_argument("--svi-steps", type=_positive_int, default=20_000, metavar="N",
                       help="SVI: most optimisation steps; early stopping usually ends "
                       "sooner (default: %(default)s)")
    model.add_argument("--learning-rate", type=_positive_float, default=0.01, metavar="LR",
                       help="SVI: Adam step size (default: %(default)s)")
    model.add_argument("--batch-size", type=_batch_size, default="auto", metavar="N",
                       help="SVI: minibatch rows per step, or 'all' for every row "
                       "(default: %(default)s: every row up to 8,192 rows, else 4,096 or "
                       "fewer)")
    output = fit.add_argument_group("output")
    output.add_argument("--out", default="bayesfm-fit", metavar="DIR",
                        help="output folder, created if needed (default: %(default)s)")
    output.add_argument("--prob", type=_probability, default=0.9,
                        help="mass of the credible intervals written and plotted "
                        "(default: %(default)s)")
    output.add_argument("--save", default=None, metavar="FILE",
                        help="also save the fitted model to FILE (e.g. model.bfm; JSON plus "
                        "netCDF, never pickle) for 'bayesfm predict'")
    output.add_argument("--no-plots", action="store_true",
                        help="skip the diagnostics plots")
    output.add_argument("--no-progress", action="store_true",
                        help="no progress bar (default: one in a terminal)")
    fit.set_defaults(func=fit_command)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``bayesfm`` command."""
    parser = _Parser(
        prog="bayesfm", description="Bayesian factorization machines with honest uncertainty."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="fit a CTR classifier on bundled simulated data with known truth",
        description="Simulate CTR-style data from the FM (3 fields, rank 4), fit a Bayesian "
        "FM classifier, and write predictions with 90% intervals, a diagnostics summary, the "
        "posterior (netCDF) and plots to --out.",
    )
    demo.add_argument("--out", default="bayesfm-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--method", default="gibbs", choices=["gibbs", "nuts", "svi"],
                      help="inference engine (default: %(default)s)")
    demo.add_argument("--rows", type=_positive_int, default=2000,
                      help="simulated rows (default: %(default)s)")
    demo.add_argument("--warmup", type=_positive_int, default=1000, help="warm-up draws per chain")
    demo.add_argument("--samples", type=_positive_int, default=1000, help="kept draws per chain")
    demo.add_argument("--chains", type=_positive_int, default=2, help="number of chains")
    demo.add_argument("--seed", type=int, default=0, help="random seed")
    demo.set_defaults(func=demo_command)
    _add_fit_parser(sub)
    pred = sub.add_parser(
        "predict",
        help="predict a file with a model saved by 'bayesfm fit --save'",
        description="Load a model saved by 'bayesfm fit --save' and write predictions.csv "
        "(the columns and digits 'bayesfm fit --test' writes) and report.json to --out.",
        epilog="Example: bayesfm predict --model model.bfm --test test.csv --out preds",
    )
    pred.add_argument("--model", required=True, metavar="FILE",
                      help="model file written by 'bayesfm fit --save'")
    pred.add_argument("--test", required=True, metavar="FILE",
                      help="rows to predict, in the format the model was fitted on")
    pred.add_argument("--format", default="auto", choices=["auto", "libfm", "svmlight", "csv"],
                      help="input format, as for 'bayesfm fit' (default: %(default)s)")
    pred.add_argument("--target", default="y", metavar="COLUMN",
                      help="CSV: the label column, if present (default: %(default)s)")
    pred.add_argument("--prob", type=_probability, default=0.9,
                      help="mass of the credible intervals (default: %(default)s)")
    pred.add_argument("--out", default="bayesfm-predict", metavar="DIR",
                      help="output folder, created if needed (default: %(default)s)")
    pred.set_defaults(func=predict_command)
    return parser
