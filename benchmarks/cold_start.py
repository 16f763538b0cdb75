"""Unseen categories on MovieLens 100K u1: the group-prior draw keeps the mean and widens.

Fits a regressor on u1.base with the user's gender, occupation and age beside user and
item, then predicts u1.test three times: as is, with every row's gender replaced by an
unseen value ``"X"``, and with its occupation replaced by an unseen ``"Student"`` (a typo of
``student``). Prints, per replaced field, the shift of the mean prediction over the rows, the
share of rows whose 90% mean interval is at least as wide as with the true value, the RMSE,
and the warning's text. Needs the data under ``$BAYESFM_DATA``.

    python benchmarks/cold_start.py                          # default fit, ~2-4 min on 2 CPUs
    python benchmarks/cold_start.py --warmup 20 --samples 20 # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bayesfm import BayesianFMRegressor
from bayesfm.data import UnseenLevelWarning, load_movielens_100k


def with_user_features(X: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """Add age, gender and occupation of every row's user."""
    u = users.set_index("user")
    ids = X["user"].astype(int).to_numpy()
    out = X.copy()
    for c in ("age", "gender", "occupation"):
        out[c] = u.loc[ids, c].to_numpy()
    return out


def main(args: argparse.Namespace) -> dict:
    """Fit, predict with true and unseen values, and return the figures."""
    root = os.environ["BAYESFM_DATA"]
    Xtr, ytr, Xte, yte, _ = load_movielens_100k("u1", path=root, as_frame=True, download=False)
    users = pd.read_csv(Path(root) / "ml-100k" / "u.user", sep="|",
                        names=["user", "age", "gender", "occupation", "zip"])
    Xtr, Xte = with_user_features(Xtr, users), with_user_features(Xte, users)
    if args.load:
        from bayesfm import load

        fm = load(args.load)
    else:
        fm = fit(args, Xtr, ytr)
    if args.save:
        fm.save(args.save)
    return measure(fm, Xte, yte)


def fit(args: argparse.Namespace, Xtr: pd.DataFrame, ytr: np.ndarray) -> BayesianFMRegressor:
    """The regressor of the measurement, fitted on the training rows."""
    fm = BayesianFMRegressor(rank=args.rank, num_warmup=args.warmup,
                             num_samples=args.samples, num_chains=args.chains,
                             random_state=0, progress_bar=False, numeric=["age"],
                             priors={k: v for k, v in (("reg0", args.reg0),
                                                       ("gamma0", args.gamma0)) if v is not None})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fm.fit(Xtr, ytr)
    return fm


def measure(fm: BayesianFMRegressor, Xte: pd.DataFrame, yte: np.ndarray) -> dict:
    """Predict the test rows with true and with unseen values; return the figures."""
    base = fm.predict_summary(Xte, prob=0.9)
    out = {"rows": len(Xte), "rmse_true": float(np.sqrt(np.mean((base.mean - yte) ** 2))),
           "mean_true": float(base.mean.mean())}
    for field, value in (("gender", "X"), ("occupation", "Student")):
        X = Xte.copy()
        X[field] = value
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnseenLevelWarning)
            s = fm.predict_summary(X, prob=0.9)
        msgs = [str(w.message) for w in caught if issubclass(w.category, UnseenLevelWarning)]
        width0, width1 = base.upper - base.lower, s.upper - s.lower
        out[field] = {
            "value": value,
            "mean_shift": float(s.mean.mean() - base.mean.mean()),
            "max_abs_row_shift": float(np.abs(s.mean - base.mean).max()),
            "share_interval_at_least_as_wide": float(np.mean(width1 >= width0)),
            "rmse": float(np.sqrt(np.mean((s.mean - yte) ** 2))),
            "warning": msgs[0] if msgs else None,
        }
    post = fm.idata_["posterior"]
    out["w0"] = float(post["w0"].mean())
    out["mu_w_gender"] = float(post["mu_w"].sel(group="gender").mean())
    out["w_gender"] = post["w"].sel(feature=["gender=F", "gender=M"]).mean(
        ("chain", "draw")).values.round(3).tolist()
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--save", default=None, help="save the fitted model here")
    p.add_argument("--load", default=None, help="measure a model saved by --save (no fit)")
    p.add_argument("--reg0", type=float, default=None,
                   help="prior precision of w0 (default: the model's 1)")
    p.add_argument("--gamma0", type=float, default=None,
                   help="prior pseudo-count of the group means mu_w, mu_v (default: 1)")
    print(json.dumps(main(p.parse_args()), indent=2))
