# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Exploring with the posterior: Thompson sampling against greedy recommendations
#
# A recommender that always shows the item with the best *posterior mean* (greedy) can get
# stuck: an item it underrates is never shown, so it never learns better. Thompson sampling
# ranks by one *posterior draw* instead, so items the posterior is unsure of are tried in
# proportion to their chance of being best. This notebook plays both, and epsilon-greedy,
# against a simulated click environment with a planted logit FM:
#
# 1. every round, each user is shown one item (`recommend(..., n=1, strategy=...)`);
# 2. the environment clicks with the planted probability;
# 3. the classifier is refitted on all clicks so far, from its last posterior draw
#    (`fit_more(n, X, y)`: a warm start, a few sweeps per round).
#
# Regret of a round: the sum over users of the best item's click probability minus the
# shown item's. The curves are the mean cumulative regret over seeds, with their spread.
# `BAYESFM_FAST=1` runs a small version (fewer seeds and rounds).

# %%
import os
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from bayesfm import BayesianFMClassifier

FAST = os.environ.get("BAYESFM_FAST") == "1"
plt.rcParams.update({"figure.dpi": 60})
warnings.filterwarnings("ignore", message="The chains have not converged")

N_USERS, N_ITEMS, RANK = 30, 30, 2
ROUNDS = 3 if FAST else 12
SEEDS = 2 if FAST else 10
SWEEPS = 15  # per round, after the warm start
EPSILON = 0.1

# %% [markdown]
# ## The environment: a planted logit FM
#
# Users and items are one-hot groups; the click probability of user `u` and item `i` is
# `sigmoid(w0 + w_u + w_i + <v_u, v_i>)`. Each round's impressions are rows of a design with a
# fixed capacity; rows not yet observed carry weight 0 (frequency weights), so every refit
# has the same shapes and reuses one compiled sampler. The classifier uses the logit link,
# whose Polya-Gamma Gibbs step takes integer frequency weights (a weight-0 row adds nothing).


# %%
def planted(seed):
    rng = np.random.default_rng(seed)
    v_u = rng.normal(0, 1.0, (N_USERS, RANK))
    v_i = rng.normal(0, 1.0, (N_ITEMS, RANK))
    eta = (-1.5 + rng.normal(0, 0.5, N_USERS)[:, None] + rng.normal(0, 0.8, N_ITEMS)
           + v_u @ v_i.T)
    return expit(eta)  # (users, items)


def rows(users, items):
    n = len(users)
    cols = np.stack([users, N_USERS + np.asarray(items)], 1).ravel()
    return sp.csr_matrix((np.ones(2 * n), (np.repeat(np.arange(n), 2), cols)),
                         shape=(n, N_USERS + N_ITEMS))


USERS = sp.eye(N_USERS, N_USERS + N_ITEMS, format="csr")  # one context row per user
GROUPS = np.repeat([0, 1], [N_USERS, N_ITEMS])


def play(strategy, seed):
    """Cumulative regret per round of one strategy in one environment."""
    p = planted(seed)
    rng = np.random.default_rng(1000 + seed)
    capacity = N_USERS * (ROUNDS + 1)
    users = np.tile(np.arange(N_USERS), ROUNDS + 1)
    items = np.zeros(capacity, np.int64)
    clicks = np.zeros(capacity, np.int64)
    weight = np.zeros(capacity)
    # Round 0: one random item per user, so the first fit has data.
    items[:N_USERS] = rng.integers(N_ITEMS, size=N_USERS)
    clicks[:N_USERS] = rng.uniform(size=N_USERS) < p[np.arange(N_USERS), items[:N_USERS]]
    weight[:N_USERS] = 1.0
    fm = BayesianFMClassifier(rank=RANK, link="logit", num_warmup=30, num_samples=SWEEPS,
                              num_chains=1, random_state=seed, progress_bar=False,
                              log_likelihood=False)
    fm.fit(rows(users, items), clicks, groups=GROUPS, sample_weight=weight,
           group_names=["user", "item"])
    regret = []
    for r in range(1, ROUNDS + 1):
        if strategy == "thompson":
            shown = fm.recommend(USERS, n=1, strategy="thompson",
                                 random_state=seed * 10_000 + r).items[:, 0]
        else:
            shown = fm.recommend(USERS, n=1).items[:, 0]
            if strategy == "epsilon-greedy":
                explore = rng.uniform(size=N_USERS) < EPSILON
                shown = np.where(explore, rng.integers(N_ITEMS, size=N_USERS), shown)
        sl = slice(r * N_USERS, (r + 1) * N_USERS)
        items[sl] = shown
        clicks[sl] = rng.uniform(size=N_USERS) < p[np.arange(N_USERS), shown]
        weight[sl] = 1.0
        regret.append(float((p.max(1) - p[np.arange(N_USERS), shown]).sum()))
        fm.fit_more(SWEEPS, rows(users, items), clicks, sample_weight=weight)
    return np.cumsum(regret)


# %% [markdown]
# ## Play every strategy in every environment
#
# The same seed gives the same environment and the same round-0 impressions to every
# strategy, so the strategies are compared pair by pair.

# %%
STRATEGIES = ("thompson", "greedy", "epsilon-greedy")
t0 = time.perf_counter()
regret = {s: np.array([play(s, seed) for seed in range(SEEDS)]) for s in STRATEGIES}
print(f"{len(STRATEGIES) * SEEDS} games of {ROUNDS} rounds in {time.perf_counter() - t0:.0f} s")

# %%
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
rounds = np.arange(1, ROUNDS + 1)
for s, c in zip(STRATEGIES, ("C0", "C1", "C2"), strict=True):
    m = regret[s].mean(0)
    se = regret[s].std(0, ddof=1) / np.sqrt(SEEDS)
    ax.plot(rounds, m, color=c, label=s)
    ax.fill_between(rounds, m - 2 * se, m + 2 * se, color=c, alpha=0.2)
    for run in regret[s]:
        ax.plot(rounds, run, color=c, alpha=0.15, lw=0.7)
    ax2.plot(rounds, np.diff(regret[s], prepend=0, axis=1).mean(0), color=c, label=s)
ax.set_xlabel("round")
ax.set_ylabel("cumulative regret (clicks lost)")
ax.set_title(f"mean over {SEEDS} seeds, band: 2 standard errors; thin: each seed")
ax.legend()
ax2.set_xlabel("round")
ax2.set_ylabel("regret of the round (mean over seeds)")
ax2.set_title("is exploring paying off yet?")
plt.show()

# %% [markdown]
# ## Is Thompson sampling better than greedy?
#
# The paired difference of the final cumulative regret (greedy minus Thompson, same
# environment) and its standard error over seeds. A positive difference favours Thompson.
#
# **Measured (stored outputs, 10 seeds x 12 rounds x 30 users x 30 items):** it did *not*.
# Thompson sampling lost 148 clicks on average, greedy 89 and epsilon-greedy 98: greedy lost
# 59 fewer than Thompson (6.7 paired standard errors), epsilon-greedy 50 fewer (5.5). Why,
# measured with `benchmarks/bench_bandit.py` (its commands are in its docstring):
#
# - *The Thompson draws are sound.* After the 12 rounds of a Thompson game (seed 0), the
#   warm-started chain of 15 sweeps a round that the game ranks by and a cold chain of
#   500 + 500 sweeps on the same rows give the same expected regret for the next Thompson
#   round (8.8 clicks both). The long chain's 90% intervals cover 88% of the true click
#   probabilities; the warm chain's cover 76%, so its draws are, if anything, narrower than
#   the posterior, not wider.
# - *The posterior is wide because the data are few*: 390 binary clicks for 900 user-item
#   pairs, and a pair's 90% interval is 0.5 wide after 12 rounds. Ranking by one draw of so
#   wide a posterior is close to ranking at random (a random item loses about 14 clicks a
#   round): the right panel shows Thompson's regret per round falling only from 14 to 10,
#   greedy's from 13 to 5.
# - *The horizon is too short for exploring to pay back*: each user sees 12 of the 30
#   items. With 10 items and 40 rounds (2 seeds) Thompson's regret per round falls from 8
#   to under 3, but greedy's falls too, to about 2, and greedy still wins (131 and 92
#   clicks against 180 and 148). On the posterior that Thompson's own game reached at round
#   40 (seed 0) the next Thompson round would lose 3.0 clicks and the next greedy round 1.9
#   (a long chain on the same rows: 3.1 and 2.0). Letting items arrive during the game (30
#   items in 3 batches over 30 rounds, 2 seeds) does not change the order either (greedy
#   166 and 124, Thompson 243 and 218): greedy tries the new items too. Nor do fewer
#   users (10 users, 10 items, 3 random views each to start, 40 rounds, 2 seeds: greedy 42
#   and 21, Thompson 60 and 57), though there greedy's regret per round levels off near
#   0.4 while Thompson's is still falling (from 2.6 to under 1): a crossover, if any,
#   lies beyond 40 rounds.
# - *Greedy does not owe its lead to the posterior mean's optimism* (averaging the sigmoid
#   over draws favours uncertain pairs when clicks are rare): ranking by the posterior mean
#   of the logit instead loses as much (88 and 77 clicks against greedy's 87 and 78, 2 seeds;
#   with 10 items and 40 rounds 153 and 90).
# - *Not a replayed noise sequence*: every refit of this loop once drew the same random
#   key (an integer seed and a fixed row capacity); that is fixed, and greedy still won by
#   5.0 paired standard errors before the fix and by 6.7 after it.
#
# Here 30 users a round share every item's weights, so each round's clicks inform the items
# for all of them: the "free exploration" of diverse contexts under which greedy is a strong
# policy (Bastani, Bayati and Khosravi, *Mostly exploration-free algorithms for contextual
# bandits*, Management Science 2021). The claim (Thompson below greedy by two
# standard errors) is not shown; a horizon long enough for Thompson's exploration to pay
# back was not affordable here (one refit costs about 1.4 s, mostly tracing the sweep loop
# again on every `fit_more` call).

# %%
for s in STRATEGIES:
    final = regret[s][:, -1]
    print(f"{s}: mean cumulative regret after {ROUNDS} rounds {final.mean():.1f} "
          f"(se {final.std(ddof=1) / np.sqrt(SEEDS):.1f})")
for other in ("greedy", "epsilon-greedy"):
    diff = regret[other][:, -1] - regret["thompson"][:, -1]
    se = diff.std(ddof=1) / np.sqrt(SEEDS)
    print(f"{other} - thompson after {ROUNDS} rounds: {diff.mean():.2f} "
          f"(paired se {se:.2f}, {diff.mean() / se:.1f} se)")
