"""Relation blocks (issue 18): bayesfm's Gibbs sweep with relations against myFM, one run.

    BAYESFM_DATA=../shared/data python benchmarks/bench_relations.py
    BAYESFM_DATA=../shared/data python benchmarks/bench_relations.py --sweeps 64 --skip-myfm

MovieLens 100K fold u1 (``u1.base`` -> ``u1.test``), rank 10: the rows' own features are the
user and item one-hots; two relations add, for the row's user, the set of items it rated
(``implicit_user_items``, ``1/sqrt(count)``) and, for the row's item, the set of users who
rated it (``implicit_item_users``), both from the training rows only. Four groups, in this
order: user, item, implicit items, implicit users. Both libraries make ``--sweeps`` sweeps
and average the predictions of all but the first 5 (myFM's default ``n_kept_samples``);
bayesfm runs ``bayesfm.engines.gibbs.run_gibbs`` (Gaussian, one chain, ``relations=``) and
scores the test rows through the relations (:func:`~bayesfm.engines.gibbs.relations.
relation_scores`); myFM runs ``MyFM().fit(X, y, X_rel=[RelationBlock, RelationBlock],
group_shapes=..., rank=10, n_iter=...)``. Wall times include compilation (bayesfm) and
prediction. ``--estimator`` runs bayesfm through the public ``BayesianFMRegressor`` instead
(``fit(..., relations=)``, ``predict(..., relations=)``, ``log_likelihood=False``; the
DataTree and the convergence check included). ``--materialized N`` also times N sweeps of
bayesfm on the materialised design (the same model, every row holding its user's and item's
sets), for the per-sweep speed-up.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp


def load(fold: str) -> tuple:
    root = Path(os.environ["BAYESFM_DATA"]) / "ml-100k"
    train = np.loadtxt(root / f"{fold}.base", dtype=np.int64)
    test = np.loadtxt(root / f"{fold}.test", dtype=np.int64)
    return train, test


def features(train: np.ndarray, test: np.ndarray) -> dict:
    from bayesfm.data.relations import implicit_item_users, implicit_user_items

    n_users, n_items = 943, 1682
    ut, it = train[:, 0] - 1, train[:, 1] - 1
    us, is_ = test[:, 0] - 1, test[:, 1] - 1

    def onehot(u: np.ndarray, i: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([sp.eye(n_users, format="csr")[u],
                          sp.eye(n_items, format="csr")[i]], format="csr")

    by_user = implicit_user_items(ut, it, n_users, n_items)
    by_item = implicit_item_users(it, ut, n_items, n_users)
    return dict(
        X_train=onehot(ut, it), X_test=onehot(us, is_),
        y_train=train[:, 2].astype(float), y_test=test[:, 2].astype(float),
        rel_train=[by_user.with_index(ut), by_item.with_index(it)],
        rel_test=[by_user.with_index(us), by_item.with_index(is_)],
        group_sizes=[n_users, n_items, n_items, n_users],
    )


def run_bayesfm(f: dict, sweeps: int, rank: int, seed: int) -> dict:
    import jax

    from bayesfm.data import from_sparse
    from bayesfm.engines.gibbs import prepare_data, run_gibbs
    from bayesfm.engines.gibbs.relations import relation_scores

    t0 = time.perf_counter()
    row = from_sparse(f["X_train"])
    gof = np.repeat(np.arange(4), f["group_sizes"])
    out = run_gibbs(row.indices, row.values, gof, f["y_train"], n_groups=4, rank=rank,
                    num_warmup=5, num_samples=sweeps - 5, num_chains=1,
                    rng_key=jax.random.key(seed), progress_bar=False,
                    relations=f["rel_train"])
    t_fit = time.perf_counter() - t0
    test = from_sparse(f["X_test"])
    dummy = prepare_data(test.indices, test.values, gof, f["y_test"], n_groups=4,
                         relations=f["rel_test"])
    score = jax.jit(lambda p: relation_scores(p, test.indices, test.values, dummy.relations))
    draws = {k: out[k][0] for k in ("w0", "w", "v")}
    pred = np.asarray(jax.lax.map(score, draws, batch_size=16)).mean(axis=0)
    wall = time.perf_counter() - t0
    rmse = float(np.sqrt(np.mean((pred - f["y_test"]) ** 2)))
    return dict(rmse=rmse, wall=wall, fit=t_fit)


def run_estimator(f: dict, sweeps: int, rank: int, seed: int) -> dict:
    """The public path: ``BayesianFMRegressor.fit(..., relations=)`` and ``predict``."""
    from bayesfm import BayesianFMRegressor

    t0 = time.perf_counter()
    fm = BayesianFMRegressor(rank=rank, num_warmup=5, num_samples=sweeps - 5, num_chains=1,
                             random_state=seed, progress_bar=False, log_likelihood=False)
    fm.fit(f["X_train"], f["y_train"], groups=np.repeat([0, 1], f["group_sizes"][:2]),
           relations=f["rel_train"])
    t_fit = time.perf_counter() - t0
    pred = fm.predict(f["X_test"], relations=f["rel_test"])
    wall = time.perf_counter() - t0
    return dict(rmse=float(np.sqrt(np.mean((pred - f["y_test"]) ** 2))), wall=wall, fit=t_fit)


def _seconds_per_sweep(data, sweeps: int, rank: int, seed: int) -> float:
    """Seconds per Gibbs sweep on prepared ``data`` (the first, compiling sweep excluded)."""
    import jax

    from bayesfm.engines.gibbs import init, latent_for, step, term_for
    from bayesfm.model import get_interaction, get_likelihood

    parts = dict(latent=latent_for(get_likelihood("gaussian")),
                 term=term_for(get_interaction("fm"), n_groups=4, rank=rank))
    s = init(jax.random.key(seed), data, **parts)
    s = step(s, data, **parts)
    jax.block_until_ready(s.e)
    t0 = time.perf_counter()
    for _ in range(sweeps):
        s = step(s, data, **parts)
    jax.block_until_ready(s.e)
    return (time.perf_counter() - t0) / sweeps


def run_materialized(f: dict, sweeps: int, rank: int, seed: int) -> float:
    """Seconds per sweep on the materialised design (compilation excluded)."""

    from bayesfm.data.relations import materialize
    from bayesfm.engines.gibbs import prepare_data

    full = materialize(f["X_train"], f["rel_train"], group_sizes=f["group_sizes"][:2])
    data = prepare_data(full.indices, full.values, full.group_of_feature, f["y_train"],
                        n_groups=4)
    return _seconds_per_sweep(data, sweeps, rank, seed)


def relation_sweep_time(f: dict, sweeps: int, rank: int, seed: int) -> float:
    """Seconds per sweep with relation blocks (compilation excluded)."""

    from bayesfm.data import from_sparse
    from bayesfm.engines.gibbs import prepare_data

    row = from_sparse(f["X_train"])
    gof = np.repeat(np.arange(4), f["group_sizes"])
    data = prepare_data(row.indices, row.values, gof, f["y_train"], n_groups=4,
                        relations=f["rel_train"])
    return _seconds_per_sweep(data, sweeps, rank, seed)


def run_myfm(f: dict, sweeps: int, rank: int, seed: int) -> dict:
    import myfm
    from myfm import RelationBlock

    def blocks(rels: list) -> list:
        return [RelationBlock(r.index, sp.csr_matrix(r.data)) for r in rels]

    t0 = time.perf_counter()
    fm = myfm.MyFMRegressor(rank=rank, random_seed=seed)
    fm.fit(f["X_train"], f["y_train"], X_rel=blocks(f["rel_train"]),
           group_shapes=f["group_sizes"], n_iter=sweeps, n_kept_samples=sweeps - 5)
    pred = fm.predict(f["X_test"], X_rel=blocks(f["rel_test"]))
    wall = time.perf_counter() - t0
    return dict(rmse=float(np.sqrt(np.mean((pred - f["y_test"]) ** 2))), wall=wall)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fold", default="u1")
    ap.add_argument("--sweeps", type=int, default=512)
    ap.add_argument("--rank", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-myfm", action="store_true")
    ap.add_argument("--estimator", action="store_true",
                    help="run bayesfm through BayesianFMRegressor (fit + predict with "
                         "relations=, log_likelihood=False) instead of run_gibbs")
    ap.add_argument("--materialized", type=int, default=0,
                    help="also time this many sweeps on the materialised design")
    ap.add_argument("--materialized-rows", type=int, default=0,
                    help="time both per-sweep figures on N evenly spaced training rows "
                         "(the materialised design of all 80,000 rows holds 24M nonzeros)")
    args = ap.parse_args(argv)
    f = features(*load(args.fold))
    nnz_rel = sum(r.data.nnz for r in f["rel_train"])
    nnz_mat = sum(r.rows().nnz for r in f["rel_train"])
    print(f"ML-100K {args.fold}: {f['X_train'].shape[0]} train rows, relation tables "
          f"{nnz_rel} nonzeros (materialised {nnz_mat}), rank {args.rank}, {args.sweeps} sweeps")
    run = run_estimator if args.estimator else run_bayesfm
    b = run(f, args.sweeps, args.rank, args.seed) if args.sweeps else None
    if b is None:
        args.skip_myfm = True
    else:
        label = "BayesianFMRegressor" if args.estimator else "bayesfm Gibbs + relations"
        print(f"{label}: RMSE {b['rmse']:.4f}  wall {b['wall']:.1f} s "
              f"(fit {b['fit']:.1f} s)")
    if not args.skip_myfm:
        m = run_myfm(f, args.sweeps, args.rank, args.seed)
        print(f"myFM + RelationBlock:      RMSE {m['rmse']:.4f}  wall {m['wall']:.1f} s")
        print(f"wall ratio bayesfm / myFM: {b['wall'] / m['wall']:.2f}")
    if args.materialized:
        if args.materialized_rows:
            # Evenly spaced rows (u1.base is sorted by user): every user and item kind.
            keep = np.linspace(0, f["X_train"].shape[0] - 1, args.materialized_rows).astype(int)
            f = dict(f, X_train=f["X_train"][keep], y_train=f["y_train"][keep],
                     rel_train=[r.with_index(r.index[keep]) for r in f["rel_train"]])
        print(f"per-sweep timing on {f['X_train'].shape[0]} rows "
              f"({sum(r.rows().nnz for r in f['rel_train'])} materialised relation nonzeros)")
        t_rel = relation_sweep_time(f, args.materialized, args.rank, args.seed)
        t_mat = run_materialized(f, args.materialized, args.rank, args.seed)
        print(f"per sweep: relations {t_rel * 1e3:.1f} ms, materialised {t_mat * 1e3:.1f} ms, "
              f"speed-up {t_mat / t_rel:.1f}x")


if __name__ == "__main__":
    main()
