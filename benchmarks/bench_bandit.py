"""Why greedy beats Thompson sampling in the bandit notebook: the game and its diagnostics.

The environment is the one of ``examples/bandit_thompson.py``: a batched contextual bandit on
a planted rank-2 logit FM (every round each of ``--users`` users is shown one of ``--items``
arms, clicks are Bernoulli; regret is the best available arm's click probability minus the
shown arm's, summed over users). Items can also arrive over the game (``--batches``: the
catalogue grows in equal batches at evenly spaced rounds, as in news recommendation), and the
policies are

- ``thompson``: ``recommend(strategy="thompson")``, one posterior draw per user and round;
- ``greedy``: ``recommend()``, the posterior mean of the click probability;
- ``plugin``: the posterior mean of the *logit* (no averaging of the sigmoid over the draws,
  so no optimism for uncertain pairs: a point-estimate greedy).

``game`` prints each policy's final cumulative regret per seed, the per-round regret (mean
over seeds) and greedy minus Thompson with its paired standard error. ``posterior`` plays one
Thompson game and then compares the warm-started 15-sweep posterior the game ranks by with a
long cold chain on the same rows: coverage of the true click probabilities, width, and the
expected regret of one Thompson round under each (is the draw stale or too wide?).

    python benchmarks/bench_bandit.py game --items 30 --rounds 12 --seeds 2
    python benchmarks/bench_bandit.py game --items 10 --rounds 40 --seeds 2
    python benchmarks/bench_bandit.py game --items 30 --batches 3 --rounds 30 --seeds 2
    python benchmarks/bench_bandit.py posterior --items 30 --rounds 12
    python benchmarks/bench_bandit.py posterior --items 10 --rounds 40

Round 0 shows every user ``--start-views`` random items (1, as in the notebook); with few
users one view each can hold no click at all, which the first fit refuses (a classifier needs
both labels). Every ``fit_more`` of a round reuses the compiled sweep loop of the first
(its settings and shapes are equal), so a 12-round game of one seed costs about 6 s.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from bayesfm import BayesianFMClassifier

warnings.filterwarnings("ignore", message="The chains have not converged")


class Game:
    def __init__(self, args: argparse.Namespace, seed: int):
        self.a, self.seed = args, seed
        nu, ni, k = args.users, args.items, args.rank
        rng = np.random.default_rng(seed)
        v_u, v_i = rng.normal(0, 1.0, (nu, k)), rng.normal(0, 1.0, (ni, k))
        self.p = expit(-1.5 + rng.normal(0, 0.5, nu)[:, None] + rng.normal(0, 0.8, ni)
                       + v_u @ v_i.T)
        b = args.batches
        self.enter = np.repeat(np.arange(b) * args.rounds // b + 1, ni // b)
        self.users_x = sp.eye(nu, nu + ni, format="csr")

    def rows(self, users, items):
        nu, ni = self.a.users, self.a.items
        n = len(users)
        cols = np.stack([users, nu + np.asarray(items)], 1).ravel()
        return sp.csr_matrix((np.ones(2 * n), (np.repeat(np.arange(n), 2), cols)),
                             shape=(n, nu + ni))

    def play(self, strategy: str):
        a, p, nu, ni = self.a, self.p, self.a.users, self.a.items
        rng = np.random.default_rng(1000 + self.seed)
        o = nu * a.start_views  # round 0: start_views random items per user
        cap = o + nu * a.rounds
        users = np.tile(np.arange(nu), a.start_views + a.rounds)
        items, clicks, weight = np.zeros(cap, np.int64), np.zeros(cap, np.int64), np.zeros(cap)
        items[:o] = rng.integers(ni // a.batches, size=o)
        clicks[:o] = rng.uniform(size=o) < p[users[:o], items[:o]]
        weight[:o] = 1.0
        fm = BayesianFMClassifier(rank=a.rank, link="logit", num_warmup=30,
                                  num_samples=a.sweeps, num_chains=1, random_state=self.seed,
                                  progress_bar=False, log_likelihood=False)
        fm.fit(self.rows(users, items), clicks, groups=np.repeat([0, 1], [nu, ni]),
               sample_weight=weight, group_names=["user", "item"])
        regret = []
        for r in range(1, a.rounds + 1):
            avail = self.enter <= r
            excl = np.broadcast_to(~avail, (nu, ni)) if a.batches > 1 else None
            if strategy == "thompson":
                shown = fm.recommend(self.users_x, n=1, strategy="thompson", exclude=excl,
                                     random_state=self.seed * 10_000 + r).items[:, 0]
            elif strategy == "plugin":
                shown = np.where(~avail, -np.inf, self.mean_logit(fm)).argmax(1)
            else:
                shown = fm.recommend(self.users_x, n=1, exclude=excl).items[:, 0]
            sl = slice(o + (r - 1) * nu, o + r * nu)
            items[sl] = shown
            clicks[sl] = rng.uniform(size=nu) < p[np.arange(nu), shown]
            weight[sl] = 1.0
            regret.append(float((p[:, avail].max(1) - p[np.arange(nu), shown]).sum()))
            fm.fit_more(a.sweeps, self.rows(users, items), clicks, sample_weight=weight)
        return np.cumsum(regret), fm, (items, clicks, weight)

    def mean_logit(self, fm):
        nu = self.a.users
        post = fm.idata_.posterior
        w0 = post["w0"].values.reshape(-1)
        w = post["w"].values.reshape(w0.size, -1)
        v = post["v"].values.reshape(w0.size, w.shape[1], -1)
        return (w0[:, None, None] + w[:, :nu, None] + w[:, None, nu:]
                + np.einsum("suk,sik->sui", v[:, :nu], v[:, nu:])).mean(0)


def game(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    out = {}
    for s in args.strategies.split(","):
        out[s] = np.array([Game(args, seed).play(s)[0] for seed in range(args.seeds)])
        per_round = np.diff(out[s], prepend=0, axis=1).mean(0)
        print(f"{s:9s} final {out[s][:, -1].round(1).tolist()}  mean {out[s][:, -1].mean():.1f}"
              f"\n          per round {per_round.round(1).tolist()}", flush=True)
    if "thompson" in out and "greedy" in out and args.seeds > 1:
        d = out["greedy"][:, -1] - out["thompson"][:, -1]
        se = d.std(ddof=1) / np.sqrt(d.size)
        print(f"greedy - thompson: {d.mean():.2f}, paired se {se:.2f} ({d.mean() / se:.1f} se)")
    print(f"{time.perf_counter() - t0:.0f} s")


def posterior(args: argparse.Namespace) -> None:
    g = Game(args, args.seed)
    nu, ni, p = args.users, args.items, g.p
    cum, fm, (items, clicks, weight) = g.play("thompson")
    print("thompson per round", np.diff(cum, prepend=0).round(1).tolist())
    long = BayesianFMClassifier(rank=args.rank, link="logit", num_warmup=500, num_samples=500,
                                num_chains=1, random_state=7, progress_bar=False,
                                log_likelihood=False)
    long.fit(g.rows(np.tile(np.arange(nu), args.start_views + args.rounds), items), clicks,
             groups=np.repeat([0, 1], [nu, ni]), sample_weight=weight,
             group_names=["user", "item"])
    best = p.max(1)
    for name, model in (("warm, 15 sweeps a round", fm), ("cold, 500 + 500 sweeps", long)):
        rec = model.recommend(g.users_x, n=ni, prob=0.9)
        order = np.argsort(rec.items, axis=1)
        mean, lo, hi = (np.take_along_axis(x, order, 1) for x in (rec.mean, rec.lower, rec.upper))
        ts = [p[np.arange(nu), model.recommend(g.users_x, n=1, strategy="thompson",
                                               random_state=s).items[:, 0]] for s in range(40)]
        print(f"{name}: 90% interval coverage {((p >= lo) & (p <= hi)).mean():.2f}, width "
              f"{(hi - lo).mean():.3f}; next round's regret: thompson "
              f"{(best[None] - np.array(ts)).sum(1).mean():.2f}, greedy "
              f"{(best - p[np.arange(nu), mean.argmax(1)]).sum():.2f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("game", "posterior"))
    ap.add_argument("--users", type=int, default=30)
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--rank", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--batches", type=int, default=1, help="items arrive in this many batches")
    ap.add_argument("--sweeps", type=int, default=15)
    ap.add_argument("--start-views", type=int, default=1,
                    help="random items each user is shown in round 0 (a few users need more)")
    ap.add_argument("--seeds", type=int, default=2, help="game: seeds 0..seeds-1")
    ap.add_argument("--seed", type=int, default=0, help="posterior: the game's seed")
    ap.add_argument("--strategies", default="thompson,greedy,plugin")
    args = ap.parse_args()
    game(args) if args.what == "game" else posterior(args)
