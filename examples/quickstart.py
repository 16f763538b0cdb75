# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Quickstart: ratings regression on MovieLens 100K
#
# Fit a Bayesian factorization machine to movie ratings, predict held-out ratings with
# credible intervals, and check that the sampler converged.
#
# **Data.** MovieLens 100K cannot be shipped with bayesfm (its licence forbids
# redistribution). Download `ml-100k.zip` from <https://grouplens.org/datasets/movielens/>,
# unzip it into a folder `DATA/ml-100k/` and start Jupyter with `BAYESFM_DATA=DATA`.
# Without the data this notebook runs on ratings simulated from the model itself
# (`bayesfm.simulate_fm`), so every cell still works. `BAYESFM_FAST=1` switches to a small
# simulated problem and few draws (the test suite runs the notebooks that way).
#
# The same content is a plain script, `examples/quickstart.py` (jupytext percent format).

# %%
import os
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import bayesfm
from bayesfm import BayesianFMRegressor, simulate_fm
from bayesfm.data import load_movielens_100k
from bayesfm.plots import (
    plot_forest,
    plot_intervals,
    plot_ppc,
    plot_rank,
    plot_trace,
    plot_uncertainty,
)

FAST = os.environ.get("BAYESFM_FAST") == "1"
plt.rcParams.update({"figure.dpi": 60})
print(f"bayesfm {bayesfm.__version__}, FAST={FAST}")

# %% [markdown]
# ## The data
#
# Each rating is one row with two one-hot fields, `user` and `item`. Passed as a DataFrame
# of categorical columns, every column becomes one *group* of features (one prior per
# group) and the features get readable names such as `item=50`.


# %%
def simulated_ratings(n_rows, n_users, n_items, seed=0):
    """Ratings-like data drawn from a rank-3 FM: user and item one-hot fields."""
    sim = simulate_fm(n_rows=n_rows, group_sizes=(n_users, n_items), rank=3,
                      noise_sd=0.9, seed=seed)
    cols = sim.X.indices.reshape(n_rows, 2)
    frame = pd.DataFrame({
        "user": pd.Categorical(cols[:, 0] + 1, categories=range(1, n_users + 1)),
        "item": pd.Categorical(cols[:, 1] - n_users + 1, categories=range(1, n_items + 1)),
    })
    cut = int(0.8 * n_rows)
    return frame[:cut], sim.y[:cut], frame[cut:].reset_index(drop=True), sim.y[cut:]


try:
    if FAST:
        raise FileNotFoundError("BAYESFM_FAST=1")
    X_train, y_train, X_test, y_test, info = load_movielens_100k(
        "u1", as_frame=True, download=False)
    source = "MovieLens 100K, fold u1"
except FileNotFoundError as err:
    print(f"MovieLens 100K not used ({str(err)[:60]}...): simulated ratings instead")
    n_rows = 600 if FAST else 20_000
    X_train, y_train, X_test, y_test = simulated_ratings(n_rows, n_rows // 20, n_rows // 30)
    source = "simulated ratings"
print(f"{source}: {len(X_train)} training rows, {len(X_test)} test rows")
X_train.head(3)

# %% [markdown]
# ## Fit
#
# The default engine is the exact blocked Gibbs sampler. Two chains of 300 warm-up and 300
# kept draws take seconds on MovieLens 100K (the first fit also compiles the sampler).

# %%
fm = BayesianFMRegressor(
    rank=2 if FAST else 8,
    log_likelihood=False,  # the pointwise log likelihood is only needed for LOO
    num_warmup=40 if FAST else 300,
    num_samples=40 if FAST else 300,
    num_chains=2,
    random_state=0,
    progress_bar=False,
)
t0 = time.perf_counter()
fm.fit(X_train, y_train)
print(f"fit in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## Predict with intervals
#
# `predict(X, return_std=True)` gives the posterior mean and standard deviation of the
# expected rating. `predict_interval` gives equal-tailed credible bounds: `kind="mean"`
# bounds the expected rating (how sure the model is about this user and item),
# `kind="predictive"` adds the rating noise and should cover about 90% of held-out ratings.

# %%
mean, sd = fm.predict(X_test, return_std=True)
lo_mean, hi_mean = fm.predict_interval(X_test, prob=0.9).T
lo, hi = fm.predict_interval(X_test, prob=0.9, kind="predictive").T
rmse = np.sqrt(np.mean((mean - y_test) ** 2))
print(f"test RMSE {rmse:.4f}")
print(f"90% predictive interval covers {np.mean((lo <= y_test) & (y_test <= hi)):.1%} "
      f"of test ratings, mean width {np.mean(hi - lo):.2f}")
print(f"90% interval of the expected rating: mean width {np.mean(hi_mean - lo_mean):.2f}")
pd.DataFrame({"rating": y_test, "mean": mean, "sd": sd, "lower": lo, "upper": hi}).head(5)

# %%
fig = plot_intervals(y_test, mean, lo, hi, max_points=200, xlabel="observed rating",
                     ylabel="predicted rating (90% predictive interval)")

# %% [markdown]
# ## Summary and diagnostics
#
# `summary()` reports posterior means, intervals, R-hat and effective sample sizes of the
# quantities the data identify: the bias `w0`, the weights `w`, the group hyperparameters,
# the noise precision `tau`, predictions on 20 fixed training rows (`eta_ref`) and the log
# likelihood. The factor vectors `v` are left out: they are identified only up to rotation,
# so their R-hat says nothing (see the diagnostics notebook).

# %%
summary = fm.summary()
print(f"{len(summary)} quantities; max R-hat {summary['r_hat'].max():.3f}, "
      f"min bulk ESS {summary['ess_bulk'].min():.0f}")
summary.loc[["w0", "tau", "mu_w[user]", "lambda_w[item]", "log_likelihood"]].round(3)

# %%
fig = plot_trace(fm.idata_, var_names=["w0", "tau", "lambda_w", "log_likelihood"])

# %% [markdown]
# Rank plots are a sharper check of mixing: the draws of all chains are ranked together,
# and every chain's ranks should be uniform, its line inside the envelope.

# %%
fig = plot_rank(fm.idata_, var_names=["w0", "tau", "lambda_w", "log_likelihood"])

# %% [markdown]
# ## Are the intervals honest?
#
# Rows with a larger predicted standard deviation should have larger errors. Binning the
# test rows by their predictive sd (the posterior sd of the expected rating plus the rating
# noise $1/\tau$) and comparing with the RMSE in each bin: a calibrated model follows the
# diagonal, within the grey ranges.

# %%
noise_var = float((1.0 / fm.idata_["posterior"]["tau"]).mean())
fig = plot_uncertainty(y_test, mean, np.sqrt(sd**2 + noise_var), n_bins=10)

# %% [markdown]
# A posterior predictive check: ratings replicated from the fitted model (one simulated set
# of test ratings per posterior draw) against the observed ones. The Gaussian likelihood
# cannot produce the five discrete rating levels, but it should match their spread.

# %%
y_rep = fm.sample_posterior_predictive(X_test, num_draws=50, random_state=0)
fig = plot_ppc(y_test, y_rep)

# %% [markdown]
# ## Which items matter?
#
# The item weights with the largest posterior means, labelled by name, with their 50% and
# 90% credible intervals.

# %%
fig = plot_forest(fm.idata_, group="item", top=15)

# %% [markdown]
# ## Save and load
#
# A model is saved as data (netCDF plus JSON, checksummed), never as a pickle.

# %%
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "movielens.bfm"
    fm.save(path)
    loaded = bayesfm.load(path)
    print(f"{path.stat().st_size / 2**20:.1f} MiB; same predictions after loading: "
          f"{np.allclose(loaded.predict(X_test), mean)}")
