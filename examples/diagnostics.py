# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Diagnostics walk-through
#
# Posterior draws are only worth reading once the chains have forgotten where they started
# and agree with each other. This notebook shows how bayesfm reports that, on what, why the
# factor vectors are left out, what a run that has not converged looks like, and how to
# choose the rank by approximate leave-one-out cross-validation (LOO).
#
# **Data.** Ratings simulated from an FM of known rank 3 (`bayesfm.simulate_fm`), so no
# download is needed and we know which rank LOO ought to prefer. `BAYESFM_FAST=1` shrinks
# the problem and the number of draws.

# %%
import os
import warnings

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bayesfm import BayesianFMRegressor, simulate_fm
from bayesfm.plots import plot_rank, plot_trace

FAST = os.environ.get("BAYESFM_FAST") == "1"
plt.rcParams.update({"figure.dpi": 60})

n_rows = 400 if FAST else 3000
sim = simulate_fm(n_rows=n_rows, group_sizes=(n_rows // 30, n_rows // 50, 10), rank=3, seed=0)
X, y, groups = sim.X, sim.y, np.array(["user", "item", "context"])[sim.groups]
print(f"{X.shape[0]} rows, {X.shape[1]} features in 3 groups, true rank 3")

# %% [markdown]
# ## Several chains
#
# Four chains start from different random points. `summary()` gives, for every
# identifiable quantity, its R-hat (rank-normalised split R-hat: near 1 when the chains
# agree; bayesfm warns above 1.01) and its bulk and tail effective sample sizes (ESS: how
# many independent draws the autocorrelated chains are worth; bayesfm warns below 100).

# %%
draws = 40 if FAST else 400
fm = BayesianFMRegressor(rank=3, num_warmup=draws, num_samples=draws, num_chains=4,
                         random_state=0, progress_bar=False, log_likelihood=True)
fm.fit(X, y, groups=groups)
summary = fm.summary()
kind = summary.index.str.replace(r"\[.*\]", "", regex=True)
summary.groupby(kind, sort=False).agg(
    n=("r_hat", "size"), max_r_hat=("r_hat", "max"), min_ess_bulk=("ess_bulk", "min"),
    min_ess_tail=("ess_tail", "min")).round(3)

# %% [markdown]
# `eta_ref` are the model's predictions (before the link) for 20 fixed training rows;
# `log_likelihood` is the total log likelihood of the training data at every draw. Both
# summarise the whole fit, factors included, in quantities that do not depend on how the
# factors are rotated. The trace plot shows one line per chain on the left and the
# marginal posterior on the right: converged chains overlap and look like stationary
# noise.

# %%
fig = plot_trace(fm.idata_, var_names=["w0", "tau", "lambda_w", "eta_ref", "log_likelihood"])

# %% [markdown]
# Rank plots show the same more sharply. All draws of a quantity are ranked over all chains
# together; if the chains sample one distribution, the ranks within every chain are
# uniform, and each chain's line (the ECDF of its ranks minus the uniform one) stays inside
# the grey envelope.

# %%
fig = plot_rank(fm.idata_, var_names=["w0", "tau", "lambda_w", "log_likelihood"])

# %% [markdown]
# ## Why not the factor vectors?
#
# The FM's prediction depends on the factors only through the dot products
# $\langle v_i, v_j\rangle$, which do not change if every $v_i$ is rotated or has its sign
# flipped together. Chains can settle on different rotations and all be right, so R-hat on
# `v` can be large for a perfectly good fit, while the predictions agree:

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    rhat = az.rhat(fm.idata_, var_names=["v", "eta_ref"])
print(f"max R-hat of raw v: {float(rhat['v'].max()):.2f};  "
      f"max R-hat of the reference predictions: {float(rhat['eta_ref'].max()):.3f}")

# %% [markdown]
# ## A run that has not converged
#
# The same model with no warm-up and few draws: every chain is still climbing from its
# random start towards the region of high posterior mass. bayesfm warns, naming the
# quantities and their R-hat and ESS; the trace of the log likelihood shows the climb, and
# the rank plot's lines leave the envelope: early draws rank low in every chain.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    bad = BayesianFMRegressor(rank=3, num_warmup=0, num_samples=40 if FAST else 60,
                              num_chains=4, random_state=1, progress_bar=False)
    bad.fit(X, y, groups=groups)
for w in caught:
    print(f"{w.category.__name__}: {str(w.message)[:300]}...")
print("problems:", *bad.convergence_problems_, sep="\n  ")

# %%
fig = plot_trace(bad.idata_, var_names=["w0", "tau", "log_likelihood"])

# %%
fig = plot_rank(bad.idata_, var_names=["tau", "log_likelihood"])

# %% [markdown]
# The fix is more warm-up (the sampler discards it) and more draws, as in the first fit.
#
# ## Choosing the rank by LOO
#
# With `log_likelihood=True` the fit keeps the pointwise log likelihood of every training
# row (the DataTree's `log_likelihood` group). ArviZ's `loo` turns it into an estimate of
# the expected log predictive density on new rows (`elpd_loo`, by Pareto-smoothed
# importance sampling) and `compare` ranks models by it. Higher is better; `dse` is the
# standard error of the difference to the best model: differences within about two of
# those are not meaningful.

# %%
ranks = (1, 3) if FAST else (1, 2, 3, 6)
fits = {}
for k in ranks:
    fits[f"rank {k}"] = BayesianFMRegressor(
        rank=k, num_warmup=draws, num_samples=draws, num_chains=2, random_state=0,
        progress_bar=False, log_likelihood=True).fit(X, y, groups=groups).idata_
with warnings.catch_warnings():
    # Pareto-k warnings are summarised in the table below.
    warnings.simplefilter("ignore")
    comparison = az.compare(fits)
    loo_true = az.loo(fits["rank 3"])
comparison[["rank", "elpd", "p", "elpd_diff", "dse", "weight"]].round(1)

# %% [markdown]
# `p` is the effective number of parameters. The Pareto k values tell whether the
# importance sampling for a row was reliable (k < 0.7); a large share of bad values means
# `elpd_loo` is optimistic and K-fold cross-validation is the safer estimate.

# %%
k_hat = np.asarray(loo_true.pareto_k).ravel()
pd.Series({"rows": k_hat.size, "k < 0.5": np.mean(k_hat < 0.5),
           "0.5 <= k < 0.7": np.mean((k_hat >= 0.5) & (k_hat < 0.7)),
           "k >= 0.7": np.mean(k_hat >= 0.7)}).round(3)
