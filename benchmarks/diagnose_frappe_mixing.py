"""Which directions of the frappe probit posterior does the Gibbs sampler cross slowly?

    BAYESFM_DATA=/path/to/data python benchmarks/diagnose_frappe_mixing.py \
        [--rows 57722] [--chains 4] [--sweeps 600] [--rank 8] [--moves none|all] [--priors JSON] \
        [--plot traces.png]

Runs ``--chains`` chains of :func:`bayesfm.engines.gibbs.step` (probit, plain FM) on the
published frappe training split (the first ``--rows`` rows), records every sweep's small
sites and a few derived quantities, and prints the rank-normalised split R-hat and bulk ESS
of each over the second half of the sweeps:

- ``w0``, every group's ``mu_w`` and ``lambda_w``, ``log lambda_v`` (all G x k),
- ``w0 + sum_g mu_w[g]`` (the bias against the group means, the ridge of complete groups),
- the scale of the scores (sd of ``yhat`` over the training rows) and the total log likelihood,
- every group's mean squared factor norm ``|v_i|^2`` and mean ``(w_i - mu_w)^2``,
- the weights of the rarest and the most frequent features of the largest groups,
- the click probabilities of 200 test rows.

``--plot`` saves the traces of the slowest of them (one line per chain). The data come only
from ``$BAYESFM_DATA``.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def load(rows: int) -> tuple[Any, Any, Any, Any]:
    """Design of the first ``rows`` training rows, the labels, the test design, the info."""
    from bayesfm.data import from_sparse, load_frappe

    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding frappe/")
    X, y, Xt, yt, info = load_frappe("published", path=os.environ["BAYESFM_DATA"],
                                     download=False)
    X, y = X[:rows], y[:rows]
    design = from_sparse(X, groups=info.group_of_feature)
    return design, np.asarray(y, np.float32), design.with_rows(Xt[:200]), info


def traces(design: Any, y: np.ndarray, test: Any, *, rank: int, chains: int, sweeps: int,
           seed: int, moves: Any, priors: Any = None) -> dict[str, np.ndarray]:
    """Every sweep's recorded quantities, ``(chain, sweep, ...)``."""
    from jax import lax
    from jax.scipy.special import ndtr

    from bayesfm.engines.gibbs import init, latent_for, prepare_data, step, term_for
    from bayesfm.model import fm_predict, get_interaction, get_likelihood

    data = prepare_data(design.indices, design.values, design.group_of_feature, y,
                        n_groups=design.n_groups)
    kw: dict[str, Any] = dict(latent=latent_for(get_likelihood("probit")),
                              term=term_for(get_interaction("fm"), design.n_groups, rank))
    if priors is not None:
        kw["priors"] = priors
    step_kw = {} if moves is None else {"moves": moves}
    gof = jnp.asarray(design.group_of_feature)
    count = np.bincount(np.asarray(design.indices)[np.asarray(design.values) != 0].ravel(),
                        minlength=gof.shape[0])
    # The rarest and the most frequent seen feature of every group with > 10 features.
    watch = []
    for g in range(design.n_groups):
        members = np.flatnonzero((np.asarray(design.group_of_feature) == g) & (count > 0))
        if members.size > 10:
            order = members[np.argsort(count[members])]
            watch += [order[0], order[-1]]
    watch = jnp.asarray(np.array(watch))
    t_idx, t_val = jnp.asarray(test.indices), jnp.asarray(test.values)
    size = jnp.asarray(np.bincount(design.group_of_feature, minlength=design.n_groups))
    latent = kw["latent"]

    def record(s: Any) -> dict[str, jax.Array]:
        p = s.params
        yhat = latent.yhat(s, data)
        dev = jax.ops.segment_sum((p["w"] - p["mu_w"][gof]) ** 2, gof, design.n_groups) / size
        vn = jax.ops.segment_sum(jnp.sum(p["v"] ** 2, 1), gof, design.n_groups) / size
        return {
            "w0": p["w0"], "mu_w": p["mu_w"], "log_lambda_w": jnp.log(p["lambda_w"]),
            "log_lambda_v": jnp.log(p["lambda_v"]).ravel(), "mu_v": p["mu_v"].ravel(),
            "w0_plus_mu_w": p["w0"] + p["mu_w"].sum(), "score_sd": jnp.std(yhat),
            "log_likelihood": latent.log_likelihood(s, data), "w_dev2": dev,
            "v_norm2": vn, "w_watch": p["w"][watch],
            "p_test": ndtr(fm_predict(p["w0"], p["w"], p["v"], t_idx, t_val)),
        }

    def chain(key: jax.Array) -> dict[str, jax.Array]:
        s = init(key, data, **kw)

        def one(s: Any, _: None) -> tuple:
            s = step(s, data, **kw, **step_kw)
            return s, record(s)

        return lax.scan(one, s, None, length=sweeps)[1]

    keys = jax.random.split(jax.random.key(seed), chains)
    run = jax.jit(lambda k: lax.map(chain, k))
    t0 = time.perf_counter()
    out = jax.block_until_ready(run(keys))
    print(f"{chains} chains x {sweeps} sweeps: {time.perf_counter() - t0:.1f} s")
    return {k: np.asarray(v) for k, v in out.items()}


def summarise(tr: dict[str, np.ndarray], info: Any, rank: int) -> list[tuple[str, float, float]]:
    """(name, R-hat, bulk ESS) of every recorded quantity over the second half of the sweeps."""
    from bayesfm.results.convergence import ess_bulk, rhat_rank

    groups = list(info.group_names)
    rows = []
    for name, a in tr.items():
        a = a[:, a.shape[1] // 2:]
        a = a.reshape(*a.shape[:2], -1).astype(np.float64)
        r, e = rhat_rank(a), ess_bulk(a)
        if name in ("mu_w", "log_lambda_w", "w_dev2", "v_norm2"):
            labels = [f"{name}[{g}]" for g in groups]
        elif name in ("log_lambda_v", "mu_v"):
            labels = [f"{name}[{g},{f}]" for g in groups for f in range(rank)]
        elif a.shape[2] == 1:
            labels = [name]
        else:
            labels = [f"{name}[{j}]" for j in range(a.shape[2])]
        rows += list(zip(labels, r, e, strict=True))
    return rows


def report(rows: list[tuple[str, float, float]]) -> None:
    """Print the scalar sites, then the worst of each vector site and the test rows' summary."""
    seen: dict[str, list] = {}
    for label, r, e in rows:
        seen.setdefault(label.split("[")[0], []).append((label, r, e))
    print(f"{'quantity':32s} {'R-hat':>8s} {'bulk ESS':>9s}")
    for base, items in seen.items():
        if base == "p_test":
            r = np.array([i[1] for i in items])
            e = np.array([i[2] for i in items])
            print(f"{'p_test (200 rows) median/99%/max':32s} {np.median(r):8.3f} "
                  f"{np.quantile(r, 0.99):8.3f} {r.max():8.3f}  ESS median {np.median(e):.0f}")
            continue
        shown = items if len(items) <= 12 else sorted(items, key=lambda i: -i[1])[:6]
        for label, r, e in shown:
            print(f"{label:32s} {r:8.3f} {e:9.0f}")
        if len(items) > 12:
            r = np.array([i[1] for i in items])
            print(f"{'  ... ' + base + ' median R-hat':32s} {np.median(r):8.3f}")


def plot(tr: dict[str, np.ndarray], info: Any, path: str) -> None:
    """Traces of the log likelihood, the score scale, w0 + sum mu_w and the lambda_w."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("log_likelihood", None), ("score_sd", None), ("w0_plus_mu_w", None)]
    panels += [("log_lambda_w", g) for g in range(len(info.group_names))]
    fig, axes = plt.subplots(len(panels) // 3 + (len(panels) % 3 > 0), 3,
                             figsize=(12, 2.2 * (len(panels) // 3 + 1)), squeeze=False)
    for ax, (name, g) in zip(axes.ravel(), panels, strict=False):
        a = tr[name] if g is None else tr[name][..., g]
        for c in range(a.shape[0]):
            ax.plot(a[c], lw=0.6)
        ax.set_title(name if g is None else f"{name}[{info.group_names[g]}]", fontsize=9)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print("saved", path)


def main(argv: list[str] | None = None) -> None:
    """Run the chains, print the table, save the traces."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=57722)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--sweeps", type=int, default=600)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--moves", default=None, help="the sweep's moves option (default: main's)")
    ap.add_argument("--priors", default=None,
                    help='FMPriors fields as JSON, e.g. \'{"a0": 10000, "b0": 1000}\'')
    ap.add_argument("--plot", default=None)
    args = ap.parse_args(argv)
    design, y, test, info = load(args.rows)
    moves = None
    priors = None
    if args.priors:
        import json

        from bayesfm.model import FMPriors

        priors = FMPriors(**json.loads(args.priors))
    if args.moves is not None:
        from bayesfm.engines.gibbs import mixing_moves

        moves = mixing_moves(args.moves)
    tr = traces(design, y, test, rank=args.rank, chains=args.chains, sweeps=args.sweeps,
                seed=args.seed, moves=moves, priors=priors)
    report(summarise(tr, info, args.rank))
    if args.plot:
        plot(tr, info, args.plot)


if __name__ == "__main__":
    main()
