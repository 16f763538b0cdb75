"""Quick timing of the blocked Gibbs sweep on MovieLens 100K (u1.base / u1.test) or ML-1M-half.

User and item one-hot, two groups, rank 10, 200 sweeps (the first ``--burn`` discarded for the
test prediction), like myFM's grouped rank-10 run (ML-100K u1: RMSE 0.9067, about 4.7 s;
ML-1M-half random 90/10 split: RMSE 0.8445, about 28 s; see ../shared/bench).

    BAYESFM_DATA=../shared/data python benchmarks/gibbs_quick.py [--data ml1m] [--rank 10] \
        [--sweeps 200] [--kernel]

The data come only from ``$BAYESFM_DATA`` (the folder holding ``ml-100k/`` and
``ml-1m-half/``). ``--kernel`` also times the full ``run_gibbs`` path (numpyro MCMC with
progress bar).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from bayesfm.data import from_sparse
from bayesfm.engines.gibbs import init, latent_for, prepare_data, step, term_for
from bayesfm.model import fm_predict, get_interaction, get_likelihood


def data_dir() -> Path:
    """The folder named by ``BAYESFM_DATA`` (no default: data are never found by guessing)."""
    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding ml-100k/ and ml-1m-half/")
    return Path(os.environ["BAYESFM_DATA"])


def load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.loadtxt(data_dir() / "ml-100k" / name, dtype=np.int64)
    return a[:, 0] - 1, a[:, 1] - 1, a[:, 2].astype(np.float64)


def load_split(which: str) -> tuple[tuple, tuple, int, int]:
    """(users, items, ratings) for train and test, and the numbers of users and items."""
    if which == "ml100k":
        return load("u1.base"), load("u1.test"), 943, 1682
    lines = (data_dir() / "ml-1m-half" / "ratings.dat").read_text().splitlines()
    raw = np.array([line.split("::")[:3] for line in lines], dtype=np.int64)
    _, u = np.unique(raw[:, 0], return_inverse=True)
    _, i = np.unique(raw[:, 1], return_inverse=True)
    perm = np.random.default_rng(0).permutation(len(raw))  # myfm_reference.py's split
    tr, te = perm[: int(0.9 * len(raw))], perm[int(0.9 * len(raw)) :]
    y = raw[:, 2].astype(np.float64)
    return (u[tr], i[tr], y[tr]), (u[te], i[te], y[te]), int(u.max()) + 1, int(i.max()) + 1


def onehot(users: np.ndarray, items: np.ndarray, n_users: int, n_items: int):
    import scipy.sparse as sp

    n = users.size
    rows = np.repeat(np.arange(n), 2)
    cols = np.stack([users, n_users + items], 1).ravel()
    return sp.csr_matrix((np.ones(2 * n), (rows, cols)), shape=(n, n_users + n_items))


def main(args: argparse.Namespace) -> None:
    (u_tr, i_tr, y_tr), (u_te, i_te, y_te), n_users, n_items = load_split(args.data)
    d_tr = from_sparse(onehot(u_tr, i_tr, n_users, n_items), group_sizes=[n_users, n_items])
    d_te = d_tr.with_rows(onehot(u_te, i_te, n_users, n_items))

    t0 = time.perf_counter()
    data = prepare_data(d_tr.indices, d_tr.values, d_tr.group_of_feature, y_tr,
                        n_groups=2, layout=args.layout)
    t_prep = time.perf_counter() - t0
    idx_te, val_te = jnp.asarray(d_te.indices), jnp.asarray(d_te.values)
    predict = jax.jit(lambda s: fm_predict(s.params["w0"], s.params["w"], s.params["v"],
                                           idx_te, val_te))
    parts = {"latent": latent_for(get_likelihood("gaussian")),
             "term": term_for(get_interaction("fm"), n_groups=2, rank=args.rank)}

    t0 = time.perf_counter()
    state = init(jax.random.key(args.seed), data, **parts)
    state = jax.block_until_ready(step(state, data, **parts))
    jax.block_until_ready(predict(state))
    t_first = time.perf_counter() - t0

    total = jnp.zeros(y_te.shape, state.params["w"].dtype)
    kept = 0
    t0 = time.perf_counter()
    for t in range(1, args.sweeps):
        state = step(state, data, **parts)
        if t >= args.burn:
            total = total + predict(state)
            kept += 1
    total = jax.block_until_ready(total)
    t_loop = time.perf_counter() - t0
    pred = np.clip(np.asarray(total) / kept, 1.0, 5.0)
    rmse = float(np.sqrt(np.mean((pred - y_te) ** 2)))
    layout = "+".join("dense" if bs.rows is None else "compact" for bs in data.blocks)
    print(f"{args.data} layout={layout} rank={args.rank} "
          f"sweeps={args.sweeps} prep={t_prep:.2f}s first(compile+1 sweep)={t_first:.2f}s "
          f"loop={t_loop:.2f}s ({1e3 * t_loop / (args.sweeps - 1):.1f} ms/sweep) "
          f"test RMSE={rmse:.4f}")

    if args.kernel:
        from bayesfm.engines.gibbs import run_gibbs

        t0 = time.perf_counter()
        draws = run_gibbs(d_tr.indices, d_tr.values, d_tr.group_of_feature, y_tr, n_groups=2,
                          rank=args.rank, num_warmup=args.burn,
                          num_samples=args.sweeps - args.burn, rng_key=jax.random.key(1),
                          progress_bar=args.progress)
        t_run = time.perf_counter() - t0
        preds = jax.vmap(lambda w0, w, v: fm_predict(w0, w, v, idx_te, val_te))(
            draws["w0"][0], draws["w"][0], draws["v"][0])
        pred = np.clip(np.asarray(preds).mean(0), 1.0, 5.0)
        rmse = float(np.sqrt(np.mean((pred - y_te) ** 2)))
        print(f"run_gibbs (MCMC, progress_bar={args.progress}): {t_run:.2f}s total incl. "
              f"compile, test RMSE={rmse:.4f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="ml100k", choices=["ml100k", "ml1m"])
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--sweeps", type=int, default=200)
    parser.add_argument("--burn", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout", default="auto", choices=["auto", "dense", "compact"])
    parser.add_argument("--kernel", action="store_true")
    parser.add_argument("--progress", action="store_true")
    main(parser.parse_args())
