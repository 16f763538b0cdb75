# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Click-through rates with uncertainty (frappe)
#
# A Bayesian FM classifier gives every row a posterior distribution of its click
# probability, not just a number. This notebook checks that the probabilities are
# calibrated, shows how the credible interval of a feature's effect shrinks as the feature
# gets more data, and what happens to rows with a feature never seen in training
# (cold start).
#
# **Data.** frappe (app usage logs, 10 one-hot fields, 5,382 features), as published with the
# NFM paper: put `frappe.validation.libfm` (train) and `frappe.test.libfm` (test) from
# <https://github.com/hexiangnan/neural_factorization_machine/tree/master/data/frappe> into
# `DATA/frappe/` and start Jupyter with `BAYESFM_DATA=DATA`. Without the data, or with
# `BAYESFM_FAST=1`, the notebook uses clicks simulated from the probit FM.

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

from bayesfm import BayesianFMClassifier, simulate_fm
from bayesfm.data import load_frappe
from bayesfm.plots import plot_calibration

FAST = os.environ.get("BAYESFM_FAST") == "1"
plt.rcParams.update({"figure.dpi": 60})

# %%
try:
    if FAST:
        raise FileNotFoundError("BAYESFM_FAST=1")
    X_train, y_train, X_test, y_test, info = load_frappe(download=False)
    group_names = np.array(info.group_names)
    groups = group_names[info.group_of_feature]
    source = "frappe (published split)"
except FileNotFoundError as err:
    print(f"frappe not used ({str(err)[:60]}...): simulated clicks instead")
    n_rows = 1500 if FAST else 20_000
    sim = simulate_fm(n_rows=n_rows, group_sizes=(n_rows // 10, 40, 7), rank=4,
                      task="binary", popularity=1.1, seed=0)
    cut = int(0.75 * n_rows)
    X_train, y_train, X_test, y_test = sim.X[:cut], sim.y[:cut], sim.X[cut:], sim.y[cut:]
    group_names = np.array(["user", "item", "daytime"])
    groups = group_names[sim.groups]
    source = "simulated clicks"
print(f"{source}: {X_train.shape[0]} training rows, {X_test.shape[0]} test rows, "
      f"{X_train.shape[1]} features, click rate {y_train.mean():.2f}")

# %% [markdown]
# ## Fit a probit FM with the Gibbs sampler
#
# `groups=` names the field of every column, so every field gets its own prior (and the
# hyperparameters are labelled `lambda_w[user]`, ...).

# %%
clf = BayesianFMClassifier(
    rank=2 if FAST else 8,
    num_warmup=40 if FAST else 300,
    num_samples=40 if FAST else 300,
    num_chains=2,
    random_state=0,
    progress_bar=False,
)
t0 = time.perf_counter()
clf.fit(X_train, y_train, groups=groups)
print(f"fit in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## Probabilities with credible intervals
#
# `predict_proba` is the posterior mean click probability; `predict_interval` bounds it.

# %%
p = clf.predict_proba(X_test)[:, 1]
lo, hi = clf.predict_interval(X_test, prob=0.9).T
print(f"AUC {roc_auc_score(y_test, p):.4f}, log-loss {log_loss(y_test, p):.4f}")
pd.DataFrame({"clicked": y_test, "p": p, "lower 5%": lo, "upper 95%": hi}).head(6).round(3)

# %% [markdown]
# ## Are the probabilities calibrated?
#
# Rows are binned by their predicted probability (ten bins of equal size). The points are
# the observed click rate in each bin; the band is what the posterior expects that rate to
# be, parameter uncertainty and the binomial noise of a finite bin included. For a
# calibrated model about 90% of the points lie inside the 90% band, and the band follows
# the dashed diagonal.

# %%
draws = clf.predict_draws(X_test)  # (chains * draws, test rows) click probabilities
fig = plot_calibration(y_test, draws, n_bins=10, prob=0.9)

# %%
bins = pd.qcut(p, 10, duplicates="drop")
pd.DataFrame({"predicted": p, "observed": y_test}).groupby(bins, observed=True).agg(
    rows=("observed", "size"), mean_predicted=("predicted", "mean"),
    observed_rate=("observed", "mean")).round(3).reset_index(drop=True)

# %% [markdown]
# Read the diagram bin by bin: a point below the band means the model predicts clicks
# too often there, a point above it too rarely. Bins of thousands of rows have narrow
# bands, so even small miscalibration shows. The posterior mean probability averages
# $\Phi(\eta)$ over the draws, so rows whose score is uncertain are pulled towards the
# middle; when the chains have not converged (see the warning after the fit) that
# uncertainty is partly the sampler's, not the data's, and more warm-up is the first fix.

# %% [markdown]
# ## Intervals shrink with data
#
# Each feature's weight `w[i]` has a posterior standard deviation. One caveat first: every
# row has exactly one user, so adding a constant to all user weights and subtracting it
# from the bias `w0` changes no prediction. The level of a whole group is therefore only
# weakly identified (by the prior), and its uncertainty is shared by every weight of the
# group. What the data pin down is each weight *relative to its group*: below, every draw
# of a user weight has that draw's mean user weight subtracted. Users seen in many rows
# are pinned down, roughly like one over the square root of the number of rows; rare users
# stay close to the group's prior.

# %%
counts = np.asarray((X_train != 0).sum(axis=0)).ravel()
user = groups == "user"
w_user = clf.idata_["posterior"]["w"].values[..., user]  # (chain, draw, user features)
w_rel = w_user - w_user.mean(axis=-1, keepdims=True)
w_sd = w_rel.std(axis=(0, 1))
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.scatter(counts[user] + 0.5, w_sd, s=6, alpha=0.5, label="user features")
n = np.logspace(0, np.log10(max(counts[user].max(), 10)), 50)
few = (counts[user] >= 1) & (counts[user] <= 3)
ax.plot(n, np.median(w_sd[few]) / np.sqrt(n), color="grey", ls="--",
        label=r"$\propto 1/\sqrt{n}$")
ax.set_xscale("log")
ax.set_xlabel("training rows with the feature (+0.5)")
ax.set_ylabel("posterior sd of w[user] - mean user w")
ax.legend()
fig.tight_layout()

# %% [markdown]
# The same holds for predictions: test rows whose user has little training data get wider
# intervals on their click probability.

# %%
X_test_csr = X_test.tocsr()
user_cols = np.flatnonzero(user)
row_user_count = np.asarray(X_test_csr[:, user_cols].multiply(counts[user_cols]).sum(axis=1))
row_user_count = row_user_count.ravel()
bins = pd.cut(row_user_count, [-1, 0, 5, 20, 100, 500, np.inf],
              labels=["0", "1-5", "6-20", "21-100", "101-500", ">500"])
widths = pd.DataFrame({"training rows of the user": bins, "interval width": hi - lo})
widths.groupby("training rows of the user", observed=True)["interval width"].describe()[
    ["count", "25%", "50%", "75%"]].round(3)

# %% [markdown]
# ## Cold start: a user never seen in training
#
# A column that never appeared in training still has a weight and factors in the model:
# their posterior is the `user` group's prior, learned from all other users. Swapping the
# user of some test rows for such an unseen user keeps the rest of the row and widens the
# interval by exactly the uncertainty about a new user. (A DataFrame input works the other
# way: categories unseen at fit time contribute no feature, and the row is predicted from
# its other fields.)

# %%
unseen_users = user_cols[counts[user_cols] == 0]
print(f"{len(unseen_users)} of {len(user_cols)} user columns have no training row")
seen = np.flatnonzero(row_user_count > 100)[:300]
X_seen = X_test_csr[seen]
X_cold = X_seen.tolil()
X_cold[:, user_cols] = 0
X_cold[:, unseen_users[0]] = 1
X_cold = X_cold.tocsr()
lo_s, hi_s = clf.predict_interval(X_seen).T
lo_c, hi_c = clf.predict_interval(X_cold).T
print(f"{len(seen)} test rows of well-known users: median interval width "
      f"{np.median(hi_s - lo_s):.3f}; the same rows with an unseen user: "
      f"{np.median(hi_c - lo_c):.3f}")
pd.DataFrame({"p (known user)": clf.predict_proba(X_seen)[:5, 1],
              "width": (hi_s - lo_s)[:5],
              "p (new user)": clf.predict_proba(X_cold)[:5, 1],
              "width (new user)": (hi_c - lo_c)[:5]}).round(3)
