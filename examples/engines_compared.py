# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # NUTS vs Gibbs vs SVI on the same data
#
# bayesfm runs one model with three engines. This notebook fits the same data with each,
# times them, and checks how well their posteriors agree on held-out predictions: the
# posterior means, the posterior standard deviations, and how often the 90% intervals cover
# the true noiseless score (known here, since the data are simulated from the model).
#
# **Data.** Simulated regression data from a rank-3 FM (`bayesfm.simulate_fm`), no download
# needed. `BAYESFM_FAST=1` shrinks the problem and the number of draws.
#
# Timings include compilation (JAX compiles every engine on its first fit) and depend on
# the machine and its load: read them as orders of magnitude.

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from bayesfm import BayesianFMRegressor, simulate_fm
from bayesfm.plots import plot_elbo

FAST = os.environ.get("BAYESFM_FAST") == "1"
plt.rcParams.update({"figure.dpi": 60})

n_rows = 400 if FAST else 1500
sim = simulate_fm(n_rows=n_rows, group_sizes=(n_rows // 25, n_rows // 40, 8), rank=3,
                  noise_sd=0.7, seed=3)
cut = int(0.8 * n_rows)
X_train, y_train, X_test = sim.X[:cut], sim.y[:cut], sim.X[cut:]
eta_test = sim.eta[cut:]  # the true noiseless score of the test rows
groups = sim.groups
print(f"{cut} training rows, {n_rows - cut} test rows, {X_train.shape[1]} features")

# %% [markdown]
# ## Three fits
#
# * **Gibbs** (the default): exact conditional draws of every block of parameters; cheap
#   sweeps, so many draws.
# * **NUTS**: Hamiltonian Monte Carlo on the same NumPyro model; each draw costs many
#   gradient evaluations, so fewer draws.
# * **SVI**: fits a Gaussian approximation (`guide="normal"`, one independent Normal per
#   parameter) by stochastic optimisation, then draws from it. Fast, but the approximation
#   is known to understate posterior variance.

# %%
draws = 40 if FAST else 400
settings = {
    "gibbs": dict(method="gibbs", num_warmup=draws, num_samples=draws, num_chains=2),
    "nuts": dict(method="nuts", num_warmup=draws // 2, num_samples=draws // 2, num_chains=2),
    "svi": dict(method="svi", svi_steps=500 if FAST else 10_000, learning_rate=0.02,
                num_samples=2 * draws),
}
fits, seconds = {}, {}
for name, kw in settings.items():
    fm = BayesianFMRegressor(rank=3, random_state=0, progress_bar=False,
                             log_likelihood=False, **kw)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fm.fit(X_train, y_train, groups=groups)
    seconds[name] = time.perf_counter() - t0
    fits[name] = fm
    print(f"{name:5s} {seconds[name]:6.1f} s", *(f"({w.category.__name__})" for w in caught))

# %% [markdown]
# ## Agreement on held-out predictions
#
# Gibbs is the reference: it is exact, and with the most draws its Monte Carlo error is the
# smallest. For each engine: the RMSE of its posterior mean against the true score, the
# largest gap between its posterior mean and Gibbs', the median ratio of its posterior
# standard deviation to Gibbs', and the coverage of the true score by its 90% interval.

# %%
pred = {name: fm.predict(X_test, return_std=True) for name, fm in fits.items()}
intervals = {name: fm.predict_interval(X_test, prob=0.9) for name, fm in fits.items()}
ref_mean, ref_sd = pred["gibbs"]
rows = {}
for name, (mean, sd) in pred.items():
    lo, hi = intervals[name].T
    rows[name] = {
        "fit seconds": seconds[name],
        "RMSE vs truth": np.sqrt(np.mean((mean - eta_test) ** 2)),
        "max |mean - Gibbs mean|": np.max(np.abs(mean - ref_mean)),
        "median sd / Gibbs sd": np.median(sd / ref_sd),
        "90% coverage of truth": np.mean((lo <= eta_test) & (eta_test <= hi)),
    }
pd.DataFrame(rows).T.round(3)

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 4))
for name, color in (("nuts", "C0"), ("svi", "C3")):
    mean, sd = pred[name]
    axes[0].scatter(ref_mean, mean, s=5, alpha=0.6, color=color, label=name)
    axes[1].scatter(ref_sd, sd, s=5, alpha=0.6, color=color, label=name)
for ax, what in zip(axes, ("posterior mean", "posterior sd"), strict=True):
    lim = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
    ax.plot(lim, lim, ls="--", color="grey", lw=1)
    ax.set_xlabel(f"Gibbs {what}")
    ax.set_ylabel(f"other engine's {what}")
    ax.legend()
fig.suptitle("test-row predictions: each engine against Gibbs")
fig.tight_layout()

# %% [markdown]
# ## The SVI loss
#
# SVI stores its loss (the negative ELBO) per step in the DataTree group `elbo`; it should
# have flattened out before the fit stopped (early stopping ends the run once it has).

# %%
fig = plot_elbo(fits["svi"].idata_)

# %% [markdown]
# ## What to take away
#
# * Gibbs and NUTS sample the same posterior: their means and standard deviations agree
#   within Monte Carlo error, and Gibbs gets there in a fraction of NUTS' time.
# * SVI's means are close, but a mean-field Gaussian cannot represent the correlations
#   between weights and factors, so its standard deviations are typically too small and its
#   intervals cover the truth less often than they claim.
# * Use Gibbs (the default) for Gaussian and probit models, NUTS for the logit link on small
#   data or as a gold standard, SVI when the data are too large for MCMC and approximate
#   uncertainty is acceptable.
