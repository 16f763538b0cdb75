# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Choosing rank, variant and degree by LOO
#
# bayesfm fits a family of factorization machines with the same priors and engines: the
# plain FM (`model="fm"`), the field-aware FM (`model="ffm"`: one factor vector per feature
# and *other* field) and the higher-order FM (`degree=3`: an extra order-3 ANOVA term). Which
# one fits a data set best is an empirical question, and every fit keeps the pointwise log
# likelihood of its training rows, so PSIS-LOO cross-validation answers it without refitting:
# `bayesfm.compare` returns ArviZ's comparison table (best model first; `elpd_diff` and its
# standard error `dse` say whether a difference is real) and `bayesfm.plot_compare` draws it.
#
# With `BAYESFM_FAST=1` this notebook runs on small simulated data with few draws (about half
# a minute); otherwise it uses MovieLens 100K and frappe from `BAYESFM_DATA`.

# %%
import os
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

import bayesfm
from bayesfm import BayesianFMClassifier, BayesianFMRegressor, compare, plot_compare

FAST = os.environ.get("BAYESFM_FAST") == "1"
DATA = os.environ.get("BAYESFM_DATA")
# Short runs warn that the chains are short; the tables below are what this notebook shows.
warnings.simplefilter("ignore", ConvergenceWarning)
warnings.filterwarnings("ignore", message=".*Pareto.*")
RUN = dict(progress_bar=False, random_state=0)
if FAST:
    GIBBS = dict(num_warmup=100, num_samples=100, num_chains=2, **RUN)
    DEG3 = dict(method="nuts", num_warmup=100, num_samples=100, num_chains=1, **RUN)
else:
    GIBBS = dict(num_warmup=300, num_samples=300, num_chains=2, **RUN)
    DEG3 = dict(method="svi", num_samples=300, svi_steps=5000, batch_size=4096, **RUN)


def show(table):
    """Columns that decide: ELPD, its difference to the best model and that difference's se."""
    return table[["rank", "elpd", "se", "elpd_diff", "dse", "p", "weight"]].round(1)


# %% [markdown]
# ## 1. Simulated data: does LOO find the model that made the data?
#
# Rows from a field-aware FM with three one-hot fields; we fit the plain FM and the FFM at two
# ranks, plus a plain FM whose rows were shuffled (its features carry no information about
# `y`). LOO should put the true variant first and the noise model last.

# %%
sim = bayesfm.simulate_fm(400 if FAST else 3000, group_sizes=(12, 10, 8), rank=2,
                          model="ffm", factor_sd=0.7, seed=1)
shuffled = sim.X[np.random.default_rng(0).permutation(sim.X.shape[0])]
fits = {
    "fm, rank 2": BayesianFMRegressor(rank=2, **GIBBS),
    "fm, rank 4": BayesianFMRegressor(rank=4, **GIBBS),
    "ffm, rank 2": BayesianFMRegressor(rank=2, model="ffm", **GIBBS),
    "fm on shuffled rows": BayesianFMRegressor(rank=2, **GIBBS),
}
for name, est in fits.items():
    X = shuffled if name == "fm on shuffled rows" else sim.X
    est.fit(X, sim.y, groups=sim.groups)
table = compare(fits)
show(table)

# %%
fig = plot_compare(table)

# %% [markdown]
# The order-3 term is fitted with NUTS or SVI (the Gibbs engine samples degree 2 only). On
# data simulated with a planted order-3 term, LOO prefers `degree=3`; the difference is large
# relative to its standard error only when the term is large relative to the noise.

# %%
sim3 = bayesfm.simulate_fm(300 if FAST else 2000, group_sizes=(6, 5, 4, 3), rank=2, degree=3,
                           factor_sd=0.8, seed=2)
deg = {f"degree {k}": BayesianFMRegressor(rank=2, degree=k, **DEG3).fit(
    sim3.X, sim3.y, groups=sim3.groups) for k in (2, 3)}
show(compare(deg))

# %% [markdown]
# ## 2. MovieLens 100K: which rank?
#
# User and item are the only fields here, so every row holds exactly one pair: the FFM is the
# plain FM with unused extra vectors and the order-3 term is zero. The question is the rank.

# %%
if not FAST and DATA:
    from bayesfm.data import load_movielens_100k

    X_tr, y_tr, X_te, y_te, info = load_movielens_100k("u1", path=DATA, download=False)
    ml = {f"fm, rank {k}": BayesianFMRegressor(rank=k, **GIBBS).fit(
        X_tr, y_tr, groups=info.group_of_feature) for k in (2, 8, 16)}
    ml_table = compare(ml)
    for name, est in ml.items():
        rmse = np.sqrt(np.mean((np.clip(est.predict(X_te), 1, 5) - y_te) ** 2))
        ml_table.loc[name, "test RMSE"] = rmse
    print(show(ml_table).join(ml_table["test RMSE"].round(4)))
    plot_compare(ml_table)
else:
    print("skipped: set BAYESFM_DATA (and unset BAYESFM_FAST) to run on MovieLens 100K")

# %% [markdown]
# ## 3. frappe: plain or field-aware, degree 2 or 3?
#
# Ten one-hot fields (user, item, daytime, weekday, ...), 57,722 training clicks (the
# published split), probit link. Variants and ranks are compared by Gibbs fits; the degree by
# two SVI fits (same engine on both sides: LOO then judges the two approximate posteriors).

# %%
if not FAST and DATA:
    from sklearn.metrics import roc_auc_score

    from bayesfm.data import load_frappe

    F_tr, c_tr, F_te, c_te, finfo = load_frappe("published", path=DATA, download=False)
    groups = finfo.group_of_feature
    fr = {
        "fm, rank 8": BayesianFMClassifier(rank=8, **GIBBS),
        "ffm, rank 4": BayesianFMClassifier(rank=4, model="ffm", **GIBBS),
    }
    for est in fr.values():
        est.fit(F_tr, c_tr, groups=groups)
    fr_table = compare(fr)
    for name, est in fr.items():
        fr_table.loc[name, "test AUC"] = roc_auc_score(c_te, est.predict_proba(F_te)[:, 1])
    print(show(fr_table).join(fr_table["test AUC"].round(4)))
    plot_compare(fr_table)
    svi = dict(DEG3, link="logit")
    fr3 = {f"fm degree {k} (SVI)": BayesianFMClassifier(rank=4, degree=k, **svi).fit(
        F_tr, c_tr, groups=groups) for k in (2, 3)}
    print(show(compare(fr3)))
else:
    print("skipped: set BAYESFM_DATA (and unset BAYESFM_FAST) to run on frappe")

# %% [markdown]
# **Reading the tables.** A model is clearly worse when `-elpd_diff` is several times its
# `dse`; within about two `dse` the data do not separate the models, and the simpler one (the
# smaller `p`) is the safer choice. Pareto-k warnings from ArviZ flag rows whose LOO estimate is
# unreliable (influential rows, common for features seen once); many of them mean the
# comparison needs K-fold cross-validation instead.
