"""bayesfm's exact blocked Gibbs engine against myFM, on the same data, rank and sweeps.

    BAYESFM_DATA=/path/to/data python benchmarks/bench_myfm.py                # everything
    BAYESFM_DATA=... python benchmarks/bench_myfm.py --bench ml100k ml1m10 --json out.json
    python benchmarks/bench_myfm.py --bench scale [--scale-1e7]                # bayesfm only
    python benchmarks/bench_myfm.py --bench scale --scale-1e7 --scale-rows 10000000

Benchmarks (``--bench``, default all):

``ml100k``
    MovieLens 100K folds u1..u5 (``--folds``), one-hot user + item, two groups, rank 10.
``ml1m10``, ``ml1m32``
    MovieLens 1M users 1-2998, the random 90/10 split of ``../shared/bench/myfm_reference.py``,
    grouped, rank 10 and rank 32.
``frappe``, ``frappe_full``
    frappe published files (train ``frappe.validation.libfm``, test ``frappe.test.libfm``) and
    the 288,609-row rebuild (``frappe/full`` train -> test); probit, rank 8. Two settings: the
    10 fields as groups (bayesfm's recommended use) and one group (myfm_reference.py's setting);
    both libraries run both.
``ordinal``
    MovieLens 100K folds u1..u5 as ordinal data: bayesfm's ``BayesianFMOrdinal`` (ordered
    probit, ``classes=[1..5]``) against myFM's ``MyFMOrderedProbit`` (labels ``rating - 1``),
    grouped user + item, rank 10. The metric is the RMSE of the expected rating
    ``sum_c c P(y = c)`` (bayesfm ``predict_expected``, myFM ``predict_proba @ [1..5]``).
``scale``
    Synthetic one-hot rows (4 groups, Zipf-like feature popularity), rows 1e4..1e6 (1e7 with
    ``--scale-1e7``; ``--scale-rows`` picks row counts), features 1e3..1e5: seconds per sweep
    of bayesfm alone, through ``bayesfm.engines.gibbs.prepare_data/init/step`` directly
    (Gaussian ``latent_for`` part, plain FM ``term_for`` part), excluding compilation.

Both libraries make 200 sweeps and average the predictions of the last 195: myFM's default
(``n_kept_samples = n_iter - 5``), and ``num_warmup=5, num_samples=195, num_chains=1`` for
bayesfm's public estimators (``method="gibbs"``, ``random_state=0``, myFM ``random_seed=0``).
bayesfm runs at its default settings (``--settings default``: the pointwise log likelihood
of every training row in ``idata_``, the convergence check) with ``progress_bar=False``;
``--settings lean`` adds ``log_likelihood=False`` (no pointwise ``(draws, rows)`` log
likelihood; the per-draw total is still computed), reported separately and labelled. RMSE is of the
raw predictions (neither library clips them to 1..5).

Every measurement runs in its own subprocess (this script re-invoked with ``--only``), so the
peak RSS (``VmHWM``: ``ru_maxrss`` of the process image) is that library's alone and neither
library's imports or caches help the other. The parent loads the data once with bayesfm's
loaders (checking them against the reference construction) and hands them to the children as
``.npz`` files; the myFM child never imports jax or bayesfm. Timings exclude imports and data
loading and include everything from
``fit`` to the end of ``predict``. For bayesfm:

* ``wall`` is the first fit in a fresh process with an empty persistent compilation cache (a
  user's very first fit of these shapes: tracing and XLA compilation included);
* ``2nd`` is a second fit + predict in the same process (jit caches and the now populated
  persistent cache: what re-running a cell costs);
* ``no-compile`` is ``wall`` minus the union of the time spans JAX reports for tracing,
  lowering and compiling (``jax.monitoring``) during that fit;
* the breakdown splits the fit into building the Design, ``prepare_data`` (host-side blocks),
  the MCMC run, the DataTree conversion (``to_datatree``, incl. the per-draw log likelihood
  over the training rows), the convergence check, and ``predict``.

``--disk-cache-run`` adds a third bayesfm process that reuses the first one's persistent cache
(a re-run of the script). The load average is recorded before every subprocess.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

BENCHES = ("ml100k", "ml1m10", "ml1m32", "frappe", "frappe_full", "ordinal", "scale")
FOLDS = ("u1", "u2", "u3", "u4", "u5")
SCALE_GRID = ((10_000, 1_000), (10_000, 10_000), (100_000, 1_000), (100_000, 10_000),
              (100_000, 100_000), (1_000_000, 1_000), (1_000_000, 10_000),
              (1_000_000, 100_000))
SCALE_1E7 = ((10_000_000, 1_000), (10_000_000, 10_000), (10_000_000, 100_000))
SCALE_GROUP_SHARES = (0.5, 0.3, 0.15, 0.05)
#: The stages of a bayesfm fit that child_bayesfm times by wrapping them.
STAGES = ("design", "prepare_data", "engine", "datatree", "convergence")


def _peak_rss_mib() -> float:
    """Peak resident set of this process image, in MiB.

    ``VmHWM`` of ``/proc/self/status`` starts afresh at ``exec``; ``ru_maxrss`` would carry
    the parent's peak into a child started by fork + exec (Linux keeps the larger of the two).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --------------------------------------------------------------------------------------------
# Data (parent side): load with bayesfm's loaders, cross-check, write one .npz per job.
# --------------------------------------------------------------------------------------------
def _save_job(path: Path, Xtr: Any, ytr: Any, Xte: Any, yte: Any, groups: Any,
              task: str, rank: int, name: str) -> None:
    Xtr, Xte = sp.csr_matrix(Xtr, dtype=np.float64), sp.csr_matrix(Xte, dtype=np.float64)
    np.savez(
        path, tr_data=Xtr.data, tr_indices=Xtr.indices, tr_indptr=Xtr.indptr,
        tr_shape=np.array(Xtr.shape), te_data=Xte.data, te_indices=Xte.indices,
        te_indptr=Xte.indptr, te_shape=np.array(Xte.shape), ytr=np.asarray(ytr),
        yte=np.asarray(yte), groups=np.asarray(groups, dtype=np.int64),
        task=np.array(task), rank=np.array(rank), name=np.array(name),
    )


def _load_job(path: str) -> dict[str, Any]:
    z = np.load(path)
    tr = sp.csr_matrix((z["tr_data"], z["tr_indices"], z["tr_indptr"]),
                       shape=tuple(z["tr_shape"]))
    te = sp.csr_matrix((z["te_data"], z["te_indices"], z["te_indptr"]),
                       shape=tuple(z["te_shape"]))
    return dict(Xtr=tr, ytr=z["ytr"], Xte=te, yte=z["yte"], groups=z["groups"],
                task=str(z["task"]), rank=int(z["rank"]), name=str(z["name"]))


def _same(a: sp.spmatrix, b: sp.spmatrix) -> bool:
    return a.shape == b.shape and (sp.csr_matrix(a) != sp.csr_matrix(b)).nnz == 0


def _ml1m_reference(data: Path) -> tuple:
    """The split exactly as myfm_reference.py builds it."""
    lines = (data / "ml-1m-half" / "ratings.dat").read_text(encoding="latin-1").splitlines()
    raw = np.array([line.split("::")[:3] for line in lines], dtype=np.int64)
    _, u = np.unique(raw[:, 0], return_inverse=True)
    _, i = np.unique(raw[:, 1], return_inverse=True)
    nu, ni, n = u.max() + 1, i.max() + 1, len(raw)
    X = sp.csr_matrix((np.ones(2 * n), (np.repeat(np.arange(n), 2),
                                        np.stack([u, nu + i], 1).ravel())), shape=(n, nu + ni))
    y = raw[:, 2].astype(float)
    perm = np.random.default_rng(0).permutation(n)
    cut = int(0.9 * n)
    tr, te = perm[:cut], perm[cut:]
    return X[tr], y[tr], X[te], y[te]


def _frappe_reference(folder: Path, train: str) -> tuple:
    from sklearn.datasets import load_svmlight_file

    Xtr, ytr = load_svmlight_file(str(folder / train), n_features=5382, zero_based=True)
    Xte, yte = load_svmlight_file(str(folder / "frappe.test.libfm"), n_features=5382,
                                  zero_based=True)
    return Xtr, (ytr > 0).astype(int), Xte, (yte > 0).astype(int)


def make_jobs(bench: str, folds: list[str], tmp: Path) -> list[tuple[str, Path, list]]:
    """``[(split label, job file, [(setting, grouped), ...])]`` for one benchmark."""
    from bayesfm.data import load_frappe, load_movielens_1m_half, load_movielens_100k

    if not os.environ.get("BAYESFM_DATA"):
        raise SystemExit("set BAYESFM_DATA to the folder holding ml-100k/, ml-1m-half/, frappe/")
    data = Path(os.environ["BAYESFM_DATA"])
    jobs = []
    if bench in ("ml100k", "ordinal"):
        task = "regression" if bench == "ml100k" else "ordinal"
        for fold in folds:
            Xtr, ytr, Xte, yte, info = load_movielens_100k(fold)
            path = tmp / f"{bench}_{fold}.npz"
            _save_job(path, Xtr, ytr, Xte, yte, info.group_of_feature, task, 10,
                      f"ml100k/{fold}")
            jobs.append((fold, path, [("grouped", True)]))
    elif bench in ("ml1m10", "ml1m32"):
        Xtr, ytr, Xte, yte, info = load_movielens_1m_half()
        ref = _ml1m_reference(data)
        if not (_same(Xtr, ref[0]) and np.array_equal(ytr, ref[1]) and _same(Xte, ref[2])
                and np.array_equal(yte, ref[3])):
            raise SystemExit("load_movielens_1m_half differs from myfm_reference.py's split")
        rank = 10 if bench == "ml1m10" else 32
        path = tmp / f"{bench}.npz"
        _save_job(path, Xtr, ytr, Xte, yte, info.group_of_feature, "regression", rank,
                  f"ml-1m-half rank {rank}")
        jobs.append(("90/10", path, [("grouped", True)]))
    elif bench in ("frappe", "frappe_full"):
        kind = "published" if bench == "frappe" else "full"
        Xtr, ytr, Xte, yte, info = load_frappe(kind)
        folder = data / "frappe" if kind == "published" else data / "frappe" / "full"
        train = "frappe.validation.libfm" if kind == "published" else "frappe.train.libfm"
        ref = _frappe_reference(folder, train)
        if not (_same(Xtr, ref[0]) and np.array_equal(ytr, ref[1]) and _same(Xte, ref[2])
                and np.array_equal(yte, ref[3])):
            raise SystemExit(f"load_frappe({kind!r}) differs from the svmlight reference")
        path = tmp / f"{bench}.npz"
        _save_job(path, Xtr, ytr, Xte, yte, info.group_of_feature, "binary", 8,
                  f"frappe/{kind}")
        jobs.append(("train->test", path, [("grouped", True), ("ungrouped", False)]))
    else:
        raise ValueError(bench)
    return jobs


# --------------------------------------------------------------------------------------------
# Children
# --------------------------------------------------------------------------------------------
def _metrics(task: str, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    if task in ("regression", "ordinal"):
        return {"rmse": float(np.sqrt(np.mean((p - y) ** 2))),
                "rmse_clipped": float(np.sqrt(np.mean((np.clip(p, 1, 5) - y) ** 2)))}
    from sklearn.metrics import log_loss, roc_auc_score

    return {"auc": float(roc_auc_score(y, p)),
            "logloss": float(log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)))}


def child_myfm(job: dict[str, Any], grouped: bool, sweeps: int) -> dict[str, Any]:
    import myfm

    rss0 = _peak_rss_mib()
    kwargs: dict[str, Any] = {"n_iter": sweeps}
    if grouped:
        kwargs["group_shapes"] = np.bincount(job["groups"]).tolist()
    cls = {"regression": myfm.MyFMRegressor, "binary": myfm.MyFMClassifier,
           "ordinal": myfm.MyFMOrderedProbit}[job["task"]]
    ytr = job["ytr"]
    if job["task"] == "ordinal":  # myFM wants class codes 0 .. C-1
        ytr = np.rint(ytr).astype(np.int64) - 1
    t0, c0 = time.perf_counter(), _cpu_s()
    f = cls(rank=job["rank"], random_seed=0)
    f.fit(job["Xtr"], ytr, **kwargs)
    t_fit = time.perf_counter() - t0
    if job["task"] == "ordinal":
        proba = f.predict_proba(job["Xte"])
        p = proba @ np.arange(1, proba.shape[1] + 1)
    elif job["task"] == "regression":
        p = f.predict(job["Xte"])
    else:
        p = f.predict_proba(job["Xte"])
    wall = time.perf_counter() - t0
    return {"wall": wall, "fit": t_fit, "predict": wall - t_fit, "cpu": _cpu_s() - c0,
            "rss_before_fit": rss0, "peak_rss": _peak_rss_mib(),
            **_metrics(job["task"], job["yte"], np.asarray(p))}


def _union(spans: list[tuple[float, float]], lo: float, hi: float) -> float:
    total, end = 0.0, lo
    for s, e in sorted(spans):
        s, e = max(s, end), min(e, hi)
        if e > s:
            total += e - s
            end = e
    return total


def child_bayesfm(job: dict[str, Any], grouped: bool, sweeps: int, burn: int,
                  n_fits: int, store: str = "draws", lean: bool = False) -> dict[str, Any]:
    import warnings

    import jax

    import bayesfm.engines.gibbs.kernel as gk
    import bayesfm.estimators._inputs as inputs
    import bayesfm.estimators.base as est
    from bayesfm import BayesianFMClassifier, BayesianFMOrdinal, BayesianFMRegressor

    rss0 = _peak_rss_mib()
    spans: list[tuple[float, float]] = []
    compile_events = ("/jax/core/compile/jaxpr_trace_duration",
                      "/jax/core/compile/jaxpr_to_mlir_module_duration",
                      "/jax/core/compile/backend_compile_duration")

    def on_span(event: str, start: float, end: float, **_: Any) -> None:
        if event in compile_events:
            spans.append((start, end))

    jax.monitoring.register_event_time_span_listener(on_span)
    times: dict[str, float] = {}

    def timed(module: Any, name: str, key: str) -> None:
        fn = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                times[key] = times.get(key, 0.0) + time.perf_counter() - t

        setattr(module, name, wrapper)

    # Patched where they are looked up: the estimators' input module builds the Design, their
    # base module imports the other stages by name, the one Gibbs kernel calls prepare_data.
    timed(inputs, "from_sparse", "design")
    timed(gk, "prepare_data", "prepare_data")
    timed(est, "fit_gibbs", "engine")          # includes prepare_data
    timed(est, "to_datatree", "datatree")
    timed(est, "check_convergence", "convergence")

    cls = {"regression": BayesianFMRegressor, "binary": BayesianFMClassifier,
           "ordinal": BayesianFMOrdinal}[job["task"]]
    extra: dict[str, Any] = {"store": store}
    if lean:  # no pointwise (draws, rows) log likelihood in idata_ (the default keeps it)
        extra["log_likelihood"] = False
    ytr = job["ytr"]
    if job["task"] == "ordinal":
        extra["classes"] = [1, 2, 3, 4, 5]
        ytr = np.rint(ytr).astype(np.int64)
    fits = []
    for _ in range(n_fits):
        times.clear()
        spans.clear()
        model = cls(rank=job["rank"], method="gibbs", num_warmup=burn,
                    num_samples=sweeps - burn, num_chains=1, random_state=0,
                    progress_bar=False, **extra)
        wall0, t0, c0 = time.time(), time.perf_counter(), _cpu_s()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(job["Xtr"], ytr, groups=job["groups"] if grouped else None)
            t_fit = time.perf_counter() - t0
            untimed = set(STAGES) - set(times)
            if untimed:  # a stage moved: its patch no longer sits where fit looks it up
                raise SystemExit(f"stages never called, so not timed: {sorted(untimed)}")
            if job["task"] == "ordinal":
                p = model.predict_expected(job["Xte"])
            elif job["task"] == "regression":
                p = model.predict(job["Xte"])
            else:
                p = model.predict_proba(job["Xte"])[:, 1]
        wall = time.perf_counter() - t0
        compile_s = _union(spans, wall0, time.time())
        fits.append({
            "wall": wall, "fit": t_fit, "predict": wall - t_fit, "cpu": _cpu_s() - c0,
            "compile": compile_s, "no_compile": wall - compile_s,
            "design": times.get("design", 0.0), "prepare_data": times.get("prepare_data", 0.0),
            "mcmc": times.get("engine", 0.0) - times.get("prepare_data", 0.0),
            "datatree": times.get("datatree", 0.0),
            "convergence": times.get("convergence", 0.0),
            "convergence_problems": len(model.convergence_problems_),
            **_metrics(job["task"], job["yte"], np.asarray(p)),
        })
    out = dict(fits[0])
    if n_fits > 1:
        out["second"] = fits[1]
    out.update(rss_before_fit=rss0, peak_rss=_peak_rss_mib(),
               dtype=str(jax.numpy.zeros(()).dtype), devices=str(jax.devices()))
    return out


def _simulate_onehot(n_rows: int, n_features: int, rank: int,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows with one feature of each of 4 groups (Zipf-like popularity) and FM targets."""
    rng = np.random.default_rng(seed)
    sizes = [max(2, int(round(s * n_features))) for s in SCALE_GROUP_SHARES]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    idx = np.empty((n_rows, len(sizes)), dtype=np.int32)
    for g, (size, off) in enumerate(zip(sizes, offsets, strict=True)):
        pop = 1.0 / (np.arange(size) + 10.0)
        idx[:, g] = off + rng.choice(size, size=n_rows, p=pop / pop.sum())
    p = int(sum(sizes))
    groups = np.repeat(np.arange(len(sizes)), sizes)
    w = rng.normal(0, 0.3, p)
    v = rng.normal(0, 0.3, (p, 2))
    s = v[idx].sum(1)
    y = 3.0 + w[idx].sum(1) + 0.5 * (np.sum(s * s, 1) - np.sum(v[idx] ** 2, axis=(1, 2)))
    y = y + rng.normal(0, 0.5, n_rows)
    return idx, np.ones(idx.shape, np.float32), groups, y


def child_scale(n_rows: int, n_features: int, rank: int, min_time: float) -> dict[str, Any]:
    import jax

    from bayesfm.engines.gibbs import init, latent_for, prepare_data, step, term_for
    from bayesfm.model import get_interaction, get_likelihood

    idx, val, groups, y = _simulate_onehot(n_rows, n_features, rank)
    n_groups = int(groups.max()) + 1
    parts = {"latent": latent_for(get_likelihood("gaussian")),
             "term": term_for(get_interaction("fm"), n_groups=n_groups, rank=rank)}
    rss0 = _peak_rss_mib()
    t0 = time.perf_counter()
    data = prepare_data(idx, val, groups, y, n_groups=n_groups)
    data = jax.block_until_ready(data)
    t_prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = init(jax.random.key(0), data, **parts)
    state = jax.block_until_ready(step(state, data, **parts))
    t_first = time.perf_counter() - t0
    state = jax.block_until_ready(step(state, data, **parts))  # one more, uncounted
    n, t0, c0 = 0, time.perf_counter(), _cpu_s()
    while n < 3 or (n < 200 and time.perf_counter() - t0 < min_time):
        state = jax.block_until_ready(step(state, data, **parts))
        n += 1
    t_loop, c_loop = time.perf_counter() - t0, _cpu_s() - c0
    # CPU seconds (user + system, all threads) depend less on the machine's load than wall
    # time does: under a load of 10 on 2 cores a process gets a fraction of a core.
    return {"rows": n_rows, "features": int(groups.size), "groups": n_groups,
            "nnz": int(idx.size), "rank": rank, "prepare_data": t_prep,
            "first_sweep_incl_compile": t_first, "sweeps_timed": n,
            "sec_per_sweep": t_loop / n, "ns_per_nnz_rank": 1e9 * t_loop / n / idx.size / rank,
            "cpu_per_sweep": c_loop / n,
            "cpu_ns_per_nnz_rank": 1e9 * c_loop / n / idx.size / rank,
            "rss_before_prepare": rss0, "peak_rss": _peak_rss_mib(),
            "tau_finite": bool(np.isfinite(float(state.params["tau"])))}


# --------------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------------
def _spawn(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    load = os.getloadavg()
    cmd = [sys.executable, os.path.abspath(__file__), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"child {' '.join(args)} failed with code {proc.returncode}")
    out = json.loads(lines[-1][len("RESULT "):])
    out["load_before"] = [round(x, 2) for x in load]
    return out


def _child_env(cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    if cache_dir is not None:
        env["BAYESFM_CACHE_DIR"] = cache_dir
    return env


def run_bench(bench: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    if bench == "scale":
        grid = list(SCALE_GRID) + (list(SCALE_1E7) if args.scale_1e7 else [])
        if args.scale_rows:
            grid = [(n, p) for n, p in grid if n in args.scale_rows]
        out = []
        for n_rows, n_features in grid:
            r = _spawn(["--only", "scale", "--rows", str(n_rows), "--features", str(n_features),
                        "--rank", str(args.scale_rank), "--min-time", str(args.min_time)],
                       _child_env(str(tmp / "scale-cache")))
            r.update(bench="scale")
            print(f"  scale N={n_rows:>9,} p={r['features']:>7,} nnz={r['nnz']:>10,}: "
                  f"{1e3 * r['sec_per_sweep']:8.1f} ms/sweep "
                  f"({r['ns_per_nnz_rank']:.2f} ns per nnz x rank; CPU "
                  f"{r['cpu_ns_per_nnz_rank']:.2f} ns), first sweep incl. compile "
                  f"{r['first_sweep_incl_compile']:.1f} s, prep {r['prepare_data']:.2f} s, "
                  f"peak RSS {r['peak_rss']:.0f} MiB", flush=True)
            out.append(r)
        return out
    rows = []
    for split, path, settings in make_jobs(bench, args.folds, tmp):
        for setting, grouped in settings:
            row: dict[str, Any] = {"bench": bench, "split": split, "setting": setting,
                                   "settings": args.settings}
            g = ["--grouped"] if grouped else []
            g += ["--store", args.store] + (["--lean"] if args.settings == "lean" else [])
            cache = tempfile.mkdtemp(prefix="bayesfm-jaxcache-", dir=tmp)
            row["bayesfm"] = _spawn(["--only", "bayesfm", "--job", str(path), *g,
                                     "--sweeps", str(args.sweeps), "--burn", str(args.burn),
                                     "--fits", "1" if args.no_second_fit else "2"],
                                    _child_env(cache))
            if args.disk_cache_run:
                row["bayesfm_disk_cache"] = _spawn(
                    ["--only", "bayesfm", "--job", str(path), *g, "--sweeps", str(args.sweeps),
                     "--burn", str(args.burn), "--fits", "1"], _child_env(cache))
            shutil.rmtree(cache, ignore_errors=True)
            if not args.no_myfm:
                row["myfm"] = _spawn(["--only", "myfm", "--job", str(path),
                                      *(["--grouped"] if grouped else []),
                                      "--sweeps", str(args.sweeps)], _child_env(None))
            print("  " + _line(row), flush=True)
            rows.append(row)
    return rows


def _metric(r: dict[str, Any]) -> str:
    if "rmse" in r:
        return f"RMSE {r['rmse']:.4f}"
    return f"AUC {r['auc']:.4f} / LL {r['logloss']:.4f}"


def _line(row: dict[str, Any]) -> str:
    b, m = row["bayesfm"], row.get("myfm")
    s = (f"{row['bench']} {row['split']} {row['setting']}: bayesfm {_metric(b)} "
         f"wall {b['wall']:.1f}s (no-compile {b['no_compile']:.1f}s")
    if "second" in b:
        s += f", 2nd {b['second']['wall']:.1f}s"
    if "bayesfm_disk_cache" in row:
        s += f", fresh process + disk cache {row['bayesfm_disk_cache']['wall']:.1f}s"
    s += f") RSS {b['peak_rss']:.0f}MiB"
    if m:
        s += (f" | myFM {_metric(m)} wall {m['wall']:.1f}s RSS {m['peak_rss']:.0f}MiB | "
              f"ratio {b['wall'] / m['wall']:.2f}")
    return s


def _delta(b: dict[str, Any], m: dict[str, Any]) -> str:
    if "rmse" in b:
        return f"{b['rmse'] - m['rmse']:+.4f}"
    return f"AUC {b['auc'] - m['auc']:+.4f}, LL {b['logloss'] - m['logloss']:+.4f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    out = []
    main = [r for r in rows if r["bench"] != "scale"]
    if main:
        out += [f"bayesfm settings: {main[0].get('settings', 'default')}", "",
                "| bench | split | setting | bayesfm metric | myFM metric | delta (b - m) "
                "| bayesfm wall (cold) | bayesfm 2nd fit | bayesfm no-compile | myFM wall "
                "| ratio cold | ratio 2nd | ratio no-compile | ratio disk cache "
                "| bayesfm RSS | myFM RSS | load |",
                "|" + " --- |" * 17]
        for r in main:
            b, m = r["bayesfm"], r.get("myfm")
            second = b.get("second", {}).get("wall", float("nan"))
            disk = r.get("bayesfm_disk_cache", {}).get("wall", float("nan"))
            cells = [r["bench"], r["split"], r["setting"], _metric(b),
                     _metric(m) if m else "-", _delta(b, m) if m else "-",
                     f"{b['wall']:.1f} s", f"{second:.1f} s", f"{b['no_compile']:.1f} s",
                     f"{m['wall']:.1f} s" if m else "-",
                     f"{b['wall'] / m['wall']:.2f}" if m else "-",
                     f"{second / m['wall']:.2f}" if m else "-",
                     f"{b['no_compile'] / m['wall']:.2f}" if m else "-",
                     f"{disk / m['wall']:.2f}" if m else "-",
                     f"{b['peak_rss']:.0f} MiB", f"{m['peak_rss']:.0f} MiB" if m else "-",
                     f"{b['load_before'][0]:.2f}"]
            out.append("| " + " | ".join(cells) + " |")
        out += ["", "bayesfm breakdown of the cold fit (seconds; CPU = user+sys core-seconds "
                "of fit+predict, myFM's in brackets):", "",
                "| bench | split | setting | design | prepare_data | MCMC (200 sweeps) "
                "| to_datatree | convergence | predict | compile+trace | CPU | "
                "2nd: MCMC | 2nd: to_datatree | RSS before fit |",
                "|" + " --- |" * 15]
        for r in main:
            b, m = r["bayesfm"], r.get("myfm")
            s2 = b.get("second", {})
            cpu = f"{b['cpu']:.1f}" + (f" [{m['cpu']:.1f}]" if m else "")
            cells = [r["bench"], r["split"], r["setting"], f"{b['design']:.2f}",
                     f"{b['prepare_data']:.2f}", f"{b['mcmc']:.1f}", f"{b['datatree']:.2f}",
                     f"{b['convergence']:.2f}", f"{b['predict']:.2f}", f"{b['compile']:.1f}",
                     cpu, f"{s2.get('mcmc', float('nan')):.1f}",
                     f"{s2.get('datatree', float('nan')):.2f}",
                     f"{b['rss_before_fit']:.0f} MiB"]
            out.append("| " + " | ".join(cells) + " |")
    scale = [r for r in rows if r["bench"] == "scale"]
    if scale:
        out += ["", "| rows | features | nnz | rank | s / sweep | ns per nnz x rank "
                "| CPU s / sweep | CPU ns per nnz x rank "
                "| first sweep incl. compile | prepare_data | peak RSS | load |",
                "|" + " --- |" * 12]
        for r in scale:
            out.append(f"| {r['rows']:,} | {r['features']:,} | {r['nnz']:,} | {r['rank']} "
                       f"| {r['sec_per_sweep']:.4f} | {r['ns_per_nnz_rank']:.2f} "
                       f"| {r.get('cpu_per_sweep', float('nan')):.4f} "
                       f"| {r.get('cpu_ns_per_nnz_rank', float('nan')):.2f} "
                       f"| {r['first_sweep_incl_compile']:.1f} s | {r['prepare_data']:.2f} s "
                       f"| {r['peak_rss']:.0f} MiB | {r['load_before'][0]:.2f} |")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", nargs="+", choices=BENCHES, default=list(BENCHES))
    ap.add_argument("--folds", nargs="+", choices=FOLDS, default=list(FOLDS))
    ap.add_argument("--sweeps", type=int, default=200)
    ap.add_argument("--burn", type=int, default=5)
    ap.add_argument("--json", help="write every measurement to this JSON file")
    ap.add_argument("--no-second-fit", action="store_true",
                    help="skip bayesfm's in-process second fit")
    ap.add_argument("--disk-cache-run", action="store_true",
                    help="also time bayesfm in a new process with a warm persistent cache")
    ap.add_argument("--no-myfm", action="store_true", help="bayesfm only")
    ap.add_argument("--store", choices=("draws", "moments"), default="draws",
                    help="bayesfm's memory mode (default: every draw)")
    ap.add_argument("--settings", choices=("default", "lean"), default="default",
                    help="bayesfm's estimator settings: 'default' (what users get, the "
                    "pointwise log likelihood included) or 'lean' (log_likelihood=False)")
    ap.add_argument("--scale-1e7", action="store_true", help="add 1e7 rows to the scale series")
    ap.add_argument("--scale-rows", type=int, nargs="+",
                    help="scale: run only the grid points with these row counts")
    ap.add_argument("--scale-rank", type=int, default=10)
    ap.add_argument("--min-time", type=float, default=3.0,
                    help="scale: time sweeps for at least this many seconds")
    # internal: one measurement in this (child) process
    ap.add_argument("--only", choices=("bayesfm", "myfm", "scale"), help=argparse.SUPPRESS)
    ap.add_argument("--job", help=argparse.SUPPRESS)
    ap.add_argument("--grouped", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--lean", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--fits", type=int, default=2, help=argparse.SUPPRESS)
    ap.add_argument("--rows", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--features", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--rank", type=int, default=10, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.only == "scale":
        res = child_scale(args.rows, args.features, args.rank, args.min_time)
        print("RESULT " + json.dumps(res), flush=True)
        return
    if args.only is not None:
        job = _load_job(args.job)
        if args.only == "myfm":
            res = child_myfm(job, args.grouped, args.sweeps)
        else:
            res = child_bayesfm(job, args.grouped, args.sweeps, args.burn, args.fits,
                                args.store, args.lean)
        print("RESULT " + json.dumps(res), flush=True)
        return

    uname = os.uname()
    meta = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "load_at_start": os.getloadavg(),
            "cpus": os.cpu_count(), "machine": f"{uname.sysname} {uname.release} "
            f"{uname.machine}", "python": sys.version.split()[0], "argv": sys.argv[1:]}
    print(f"load average at start: {meta['load_at_start']}", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_myfm-") as tmp:
        for bench in args.bench:
            print(f"== {bench}", flush=True)
            rows += run_bench(bench, args, Path(tmp))
    meta["load_at_end"] = os.getloadavg()
    print()
    print(markdown(rows))
    print(f"\nload average at start {meta['load_at_start']}, at end {meta['load_at_end']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
