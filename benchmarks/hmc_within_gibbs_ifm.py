"""HMC-within-Gibbs for the input-aware FM against plain NUTS: mixing per second (issue 17).

A prototype, not library code. The IFM's factor-estimating network (FEN) reads the row's
field embeddings ``e_ng = sum_{i in g} x_ni v_i``, i.e. the same factors ``v`` that the FM
part uses, so given the FEN's weights the conditional of ``v`` is not Gaussian (``v``
enters a ReLU network) and no exact Gibbs step for ``v`` exists. What is conjugate given
``v`` and the FEN's weights is everything else (site names and priors as in
:func:`bayesfm.model.fm_model`):

- ``(w0, w, mu_w) | lambda_w, tau``: jointly Gaussian (the score is linear in ``w0`` and
  ``w`` once the factors ``m_n(g)`` are fixed by ``v`` and the FEN; ``mu_w`` is drawn with
  them because a constant trades off between ``w0`` and a one-hot group's weights);
- ``(mu_w, lambda_w) | w`` and ``(mu_v, lambda_v) | v``: Normal-Gamma, per group (and factor);
- ``lambda_fen[l] | FEN weights``: Gamma (each weight of layer ``l`` has precision
  ``lambda_fen[l] * fan_in``);
- ``tau | everything``: Gamma.

So the sampler is numpyro's ``HMCGibbs(NUTS(fm_model), gibbs_fn, gibbs_sites)`` with those
sites in the Gibbs block and NUTS on ``v`` and the FEN's weights, on bayesfm's own model.
It is run against NUTS on the whole model with the settings of
:func:`bayesfm.engines.nuts.run_nuts` (centred, target acceptance 0.8, tree depth 10,
diagonal mass matrix, chains started within 0.1 of the prior's centre in unconstrained space),
on the recovery problem of ``benchmarks/recovery_ifm_cfm.py`` (``simulate_fm(model="ifm")``,
three one-hot fields of 10, 8 and 6 features, rank 3, noise sd 0.5, seed 0, 2,000 training
and 500 held-out rows), the same warm-up and kept draws for both. Chains run one after the
other (as ``run_nuts`` does); the first chain's time includes compilation, so
``compile ~ first - second``.

Printed per engine: wall time (compilation included and, apart, estimated), divergences,
bulk ESS per second and rank R-hat of ``eta_ref`` (the scores of the 20 fixed training rows
of :func:`bayesfm.engines.reference_rows`, min and median over the rows), of the noise sd
and of the total log likelihood, and the 90% equal-tailed interval coverage of the held-out
``E[y | x]`` (the planted scores); then the ratios HMCGibbs / NUTS. ``--check`` instead runs
the correctness check of the Gibbs blocks on a tiny problem: both samplers' posterior means
of ``eta_ref`` must agree within 4 Monte Carlo standard errors of their difference.

    python benchmarks/hmc_within_gibbs_ifm.py                     # 2 chains x (500 + 500)
    python benchmarks/hmc_within_gibbs_ifm.py --warmup 300 --samples 300
    python benchmarks/hmc_within_gibbs_ifm.py --check             # the tiny agreement check

Measured (``--warmup 150 --samples 150``, 2 chains, one run, CPU: a shared 2-core machine
under other load, so seconds are noisy; the 500 + 500 default did not fit the session):

    engine    wall s  compile s  leapfrog/iter  ESS/s eta_ref min  median  noise sd  log lik
    NUTS      695     ~98        827            0.139              0.37    0.474     0.139
    HMCGibbs  407     ~57        517            0.080              0.54    0.643     0.319

R-hat max (eta_ref, noise sd, log lik): NUTS 1.025, 1.008, 0.996; HMCGibbs 1.063, 1.000,
1.011. Held-out 90% coverage: NUTS 0.904 (width 0.359), HMCGibbs 0.870 (width 0.354).
HMCGibbs / NUTS ESS/s: eta_ref min 0.57, median 1.46, noise sd 1.36, log lik 2.29. Cheaper
iterations (the NUTS block still has v and the FEN, nearly the same geometry, but shorter
trees), not clearly better mixing: the worst eta_ref row mixes worse per second, and 150
draws per chain leave these ESS figures uncertain by tens of percent.

``--check --warmup 300 --samples 300`` (200 rows, fields 4, 3, 2, rank 2): NUTS R-hat max
1.008, HMCGibbs 1.027; the 21 posterior means differ by at most 2.52 standard errors (rms
1.24): agreement. ``tests/benchmarks/test_hmc_within_gibbs_ifm.py`` checks every conditional
of the Gibbs block against the model's log joint, deterministically.
"""

from __future__ import annotations

import argparse
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve, solve_triangular
from numpyro.infer import MCMC, NUTS, HMCGibbs, init_to_uniform

from bayesfm.data import from_sparse, simulate_fm
from bayesfm.engines.problem import FitProblem, reference_rows
from bayesfm.model import fm_model, fm_score, get_interaction, get_likelihood
from bayesfm.results.convergence import ess_bulk, mcse_mean, rhat_rank

#: Sites of the Gibbs block (exact full conditionals given ``v`` and the FEN's weights).
GIBBS_SITES = ("w0", "w", "mu_w", "lambda_w", "mu_v", "lambda_v", "lambda_fen", "tau")


def make_problem(args: argparse.Namespace) -> tuple[FitProblem, Any]:
    """The recovery problem of recovery_ifm_cfm.py as a FitProblem, and the simulation."""
    sim = simulate_fm(n_rows=args.rows + args.test, group_sizes=tuple(args.sizes),
                      rank=args.rank, model="ifm", seed=args.seed, noise_sd=args.noise)
    design = from_sparse(sim.X[:args.rows], sim.groups)
    problem = FitProblem(design, np.asarray(sim.y[:args.rows]), get_likelihood("gaussian"),
                         get_interaction("ifm", 2, None), args.rank)
    return problem, sim


class Conditionals:
    """The full conditionals of the Gibbs block given ``v`` and the FEN's weights.

    Each method returns the parameters of one conditional, so that the test can compare
    them with the model's log joint; :meth:`gibbs_fn` draws from them in turn. The data are
    closed over (constants to XLA): ``HMCGibbs`` hands the gibbs_fn no model arguments, and
    at 2,000 rows that is harmless.
    """

    def __init__(self, problem: FitProblem) -> None:
        d = problem.design
        self.term, self.pri = problem.interaction, problem.priors
        self.n_groups, self.n_features, self.n_rows = d.n_groups, d.n_features, d.n_rows
        self.dtype = d.values.dtype
        self.idx, self.val = jnp.asarray(d.indices), jnp.asarray(d.values)
        self.gof = jnp.asarray(d.group_of_feature)
        self.y = jnp.asarray(problem.y, self.dtype)
        self.member = jax.nn.one_hot(self.gof, self.n_groups, dtype=self.dtype).T  # (G, p)
        self.n_in_group = self.member.sum(axis=1)  # (G,)
        self.sites = self.term.network_sites(self.n_groups, problem.rank)
        self.n_layers = self.term.n_layers(self.n_groups, problem.rank)

    def normal_gamma(self, x: jax.Array) -> tuple[jax.Array, ...]:
        """``(mu, lambda) | members x`` (shape (p, ...)) of every group: Normal-Gamma.

        Returns ``(mean, kappa, shape, rate)``: ``lambda ~ Gamma(shape, rate)``,
        ``mu | lambda ~ Normal(mean, 1 / (kappa lambda))``, each of shape (G, ...).
        """
        pri = self.pri
        n = self.n_in_group.reshape((-1,) + (1,) * (x.ndim - 1))
        xbar = jnp.tensordot(self.member, x, axes=1) / n
        ss = jnp.tensordot(self.member, (x - xbar[self.gof]) ** 2, axes=1)
        kappa = pri.gamma0 + n
        shape = jnp.broadcast_to(pri.a0 + 0.5 * n, xbar.shape)
        rate = pri.b0 + 0.5 * ss + 0.5 * pri.gamma0 * n * (xbar - pri.mu0) ** 2 / kappa
        mean = (pri.gamma0 * pri.mu0 + n * xbar) / kappa
        return mean, jnp.broadcast_to(kappa, xbar.shape), shape, rate

    def lambda_fen(self, hmc_sites: dict) -> tuple[jax.Array, jax.Array]:
        """``lambda_fen[l] | the layer's weights``: Gamma ``(shape, rate)`` per layer."""
        count = [0.0] * self.n_layers
        ss = [jnp.zeros((), self.dtype)] * self.n_layers
        for s in self.sites:  # each weight of layer l has precision lambda_fen[l] * fan_in
            arr = hmc_sites[s.name]
            count[s.layer] += arr.size
            ss[s.layer] = ss[s.layer] + s.fan_in * jnp.sum(arr**2)
        return (self.pri.a0 + 0.5 * jnp.asarray(count, self.dtype),
                self.pri.b0 + 0.5 * jnp.stack(ss))

    def linear_design(self, params: dict) -> tuple[jax.Array, jax.Array]:
        """Columns ``[1, x'_n1 .. x'_np]`` (N, 1 + p) and the pairwise term (N,), given v, FEN."""
        xs = self.term.row_values(params, self.idx, self.val, self.gof, n_groups=self.n_groups)
        pair = self.term.score(params, self.idx, xs, self.gof, n_groups=self.n_groups)
        design = jnp.zeros((self.n_rows, 1 + self.n_features), self.dtype).at[:, 0].set(1.0)
        rows = jnp.arange(self.n_rows)[:, None]
        return design.at[rows, 1 + self.idx].add(xs), pair

    def theta(self, params: dict) -> tuple[jax.Array, jax.Array]:
        """``theta = (w0, w, mu_w) | lambda_w, tau, v, FEN``: Gaussian ``(precision, P mean)``."""
        pri, p, n_groups = self.pri, self.n_features, self.n_groups
        design, pair = self.linear_design(params)
        lam_w = params["lambda_w"]
        lam_f = lam_w[self.gof]
        n_theta = 1 + p + n_groups
        fi = 1 + jnp.arange(p)
        gi = 1 + p + self.gof
        gg = 1 + p + jnp.arange(n_groups)
        q = jnp.zeros((n_theta, n_theta), self.dtype).at[0, 0].set(pri.reg0)
        q = q.at[fi, fi].add(lam_f).at[fi, gi].add(-lam_f).at[gi, fi].add(-lam_f)
        q = q.at[gg, gg].add((pri.gamma0 + self.n_in_group) * lam_w)
        b = jnp.zeros(n_theta, self.dtype).at[gg].set(pri.gamma0 * lam_w * pri.mu0)
        tau = params["tau"]
        prec = q.at[:1 + p, :1 + p].add(tau * design.T @ design)
        return prec, b.at[:1 + p].add(tau * design.T @ (self.y - pair))

    def tau(self, params: dict) -> tuple[jax.Array, jax.Array]:
        """``tau | everything``: Gamma ``(shape, rate)``."""
        design, pair = self.linear_design(params)
        lin = jnp.concatenate([params["w0"][None], params["w"]])
        resid = self.y - design @ lin - pair
        return self.pri.a0 + 0.5 * self.n_rows, self.pri.b0 + 0.5 * jnp.sum(resid**2)

    def gibbs_fn(self, rng_key: jax.Array, gibbs_sites: dict, hmc_sites: dict) -> dict:
        """One systematic scan of the block, each step exact given the latest values.

        Order: ``lambda_fen``; ``(mu_v, lambda_v)``; ``lambda_w`` with ``mu_w`` integrated
        out; ``(w0, w, mu_w)`` jointly; ``tau``. Drawing ``lambda_w`` from the Normal-Gamma
        and dropping its ``mu_w`` is a partially collapsed step (van Dyk & Park 2008),
        valid because ``mu_w`` is drawn next, given everything.
        """
        dt = self.dtype
        k_fen, k_v, k_w, k_theta, k_tau = jax.random.split(rng_key, 5)
        out: dict[str, jax.Array] = {}
        shape, rate = self.lambda_fen(hmc_sites)
        out["lambda_fen"] = jax.random.gamma(k_fen, shape, dtype=dt) / rate
        out["mu_v"], out["lambda_v"] = _draw_normal_gamma(k_v, *self.normal_gamma(hmc_sites["v"]))
        _, out["lambda_w"] = _draw_normal_gamma(k_w, *self.normal_gamma(gibbs_sites["w"]))
        params = {**hmc_sites, **gibbs_sites, **out}
        prec, b = self.theta(params)
        chol = jnp.linalg.cholesky(prec)
        z = jax.random.normal(k_theta, b.shape, dt)
        theta = cho_solve((chol, True), b) + solve_triangular(chol.T, z, lower=False)
        p = self.n_features
        out["w0"], out["w"], out["mu_w"] = theta[0], theta[1:1 + p], theta[1 + p:]
        shape, rate = self.tau({**params, **out})
        out["tau"] = jax.random.gamma(k_tau, shape, dtype=dt) / rate
        return out


def _draw_normal_gamma(key: jax.Array, mean: jax.Array, kappa: jax.Array, shape: jax.Array,
                       rate: jax.Array) -> tuple[jax.Array, jax.Array]:
    k_lam, k_mu = jax.random.split(key)
    lam = jax.random.gamma(k_lam, shape, dtype=mean.dtype) / rate
    mu = mean + jax.random.normal(k_mu, mean.shape, mean.dtype) * jax.lax.rsqrt(kappa * lam)
    return mu, lam


def run_engine(engine: str, problem: FitProblem, seed: int, warmup: int, samples: int,
               chains: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Draws ``(chain, draw, ...)`` and timings of ``engine`` ("nuts" or "hmcgibbs")."""
    d = problem.design
    model = functools.partial(fm_model, **problem.model_kwargs())  # only arrays through jit
    inner = NUTS(model, target_accept_prob=0.8, max_tree_depth=10, dense_mass=False,
                 init_strategy=init_to_uniform(radius=0.1))
    kernel = inner if engine == "nuts" else HMCGibbs(
        inner, gibbs_fn=Conditionals(problem).gibbs_fn, gibbs_sites=list(GIBBS_SITES))
    # One chain per run() of one MCMC object: the second reuses the first's compiled
    # program, so the timings separate compilation from sampling.
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=samples, num_chains=1,
                progress_bar=False, jit_model_args=True)
    fields = ("diverging", "num_steps") if engine == "nuts" else (
        "hmc_state.diverging", "hmc_state.num_steps")
    data = (jnp.asarray(d.indices), jnp.asarray(d.values), jnp.asarray(d.group_of_feature),
            jnp.asarray(problem.y, d.values.dtype))
    per_chain, draws, stats = [], [], []
    for c in range(chains):
        t0 = time.perf_counter()
        mcmc.run(jax.random.fold_in(jax.random.key(seed), c), *data, extra_fields=fields)
        s = jax.block_until_ready(mcmc.get_samples())
        per_chain.append(time.perf_counter() - t0)
        draws.append({k: np.asarray(v) for k, v in s.items()})
        stats.append({k.split(".")[-1]: np.asarray(v)
                      for k, v in mcmc.get_extra_fields().items()})
    stacked = {k: np.stack([dc[k] for dc in draws]) for k in draws[0]}
    info = {
        "seconds": float(sum(per_chain)),
        "per_chain": per_chain,
        "compile": float(per_chain[0] - np.mean(per_chain[1:])) if chains > 1 else np.nan,
        "divergences": int(sum(st["diverging"].sum() for st in stats)),
        "mean_steps": float(np.mean([st["num_steps"].mean() for st in stats])),
    }
    return stacked, info


def derived(problem: FitProblem, draws: dict[str, np.ndarray], test_idx: np.ndarray,
            test_val: np.ndarray) -> dict[str, np.ndarray]:
    """Per-draw identifiable quantities: eta_ref, noise sd, total log likelihood, test eta."""
    d, term = problem.design, problem.interaction
    names = ("w0", "w", *term.score_sites(d.n_groups, problem.rank), "tau")
    n_chains, n_draws = draws["w0"].shape[:2]
    flat = {k: jnp.asarray(draws[k].reshape(n_chains * n_draws, *draws[k].shape[2:]))
            for k in names}
    ref = reference_rows(d.n_rows)
    gof = jnp.asarray(d.group_of_feature)
    idx, val = jnp.asarray(d.indices), jnp.asarray(d.values)
    y = jnp.asarray(problem.y, d.values.dtype)

    @jax.jit
    def one(params: dict) -> tuple[jax.Array, jax.Array, jax.Array]:
        eta = fm_score(params, term, idx, val, gof, d.n_groups)
        sd = jax.lax.rsqrt(params["tau"])
        ll = jnp.sum(jax.scipy.stats.norm.logpdf(y, eta, sd))
        eta_test = fm_score(params, term, jnp.asarray(test_idx), jnp.asarray(test_val), gof,
                            d.n_groups)
        return eta[ref], ll, eta_test

    eta_ref, ll, eta_test = jax.lax.map(one, flat)
    shape = (n_chains, n_draws)
    return {
        "eta_ref": np.asarray(eta_ref).reshape(*shape, -1),
        "noise_sd": (1.0 / np.sqrt(draws["tau"].astype(np.float64)))[..., None],
        "log_likelihood": np.asarray(ll, np.float64).reshape(*shape, 1),
        "eta_test": np.asarray(eta_test).reshape(*shape, -1),
    }


def summarise(q: dict[str, np.ndarray], info: dict, truth: np.ndarray) -> dict[str, float]:
    """ESS per second, R-hat and coverage of one engine's derived quantities."""
    out = dict(seconds=info["seconds"], compile=info["compile"],
               divergences=info["divergences"], mean_steps=info["mean_steps"])
    for name in ("eta_ref", "noise_sd", "log_likelihood"):
        ess = ess_bulk(q[name]) / info["seconds"]
        rhat = rhat_rank(q[name])
        out[f"ess_s_{name}_min"], out[f"ess_s_{name}_med"] = np.min(ess), np.median(ess)
        out[f"rhat_{name}_max"] = np.max(rhat)
    lo, hi = np.quantile(q["eta_test"].reshape(-1, truth.size), [0.05, 0.95], axis=0)
    out["coverage"] = float(np.mean((lo <= truth) & (truth <= hi)))
    out["width"] = float(np.mean(hi - lo))
    return out


def main(args: argparse.Namespace) -> None:
    problem, sim = make_problem(args)
    test = from_sparse(sim.X[args.rows:], sim.groups)
    truth = np.asarray(sim.eta[args.rows:])
    print(f"rows={args.rows} held-out={args.test} fields={args.sizes} rank={args.rank} "
          f"noise_sd={args.noise} seed={args.seed} warmup={args.warmup} "
          f"samples={args.samples} chains={args.chains} jax={jax.default_backend()}",
          flush=True)
    results = {}
    for engine in args.engines:
        draws, info = run_engine(engine, problem, args.seed, args.warmup, args.samples,
                                 args.chains)
        q = derived(problem, draws, test.indices, test.values)
        r = results[engine] = summarise(q, info, truth)
        chains = ", ".join(f"{t:.1f}" for t in info["per_chain"])
        print(f"{engine}: {r['seconds']:.1f} s (chains {chains}"
              f"; compile ~{r['compile']:.1f} s), divergences {r['divergences']}, "
              f"mean leapfrog steps {r['mean_steps']:.1f}", flush=True)
        print(f"  ESS/s eta_ref min {r['ess_s_eta_ref_min']:.3g} median "
              f"{r['ess_s_eta_ref_med']:.3g}, noise sd {r['ess_s_noise_sd_min']:.3g}, "
              f"log lik {r['ess_s_log_likelihood_min']:.3g}", flush=True)
        print(f"  R-hat max: eta_ref {r['rhat_eta_ref_max']:.3f}, noise sd "
              f"{r['rhat_noise_sd_max']:.3f}, log lik {r['rhat_log_likelihood_max']:.3f}; "
              f"90% coverage {r['coverage']:.3f}, width {r['width']:.3f}", flush=True)
    if {"nuts", "hmcgibbs"} <= set(results):
        a, b = results["hmcgibbs"], results["nuts"]
        print("HMCGibbs / NUTS ESS/s: " + ", ".join(
            f"{k[6:]} {a[k] / b[k]:.2f}" for k in a if k.startswith("ess_s_")), flush=True)


def check(args: argparse.Namespace) -> bool:
    """Tiny problem: HMCGibbs and NUTS posterior means of eta_ref agree within 4 MCSE.

    The difference of two independent estimates has standard error
    ``sqrt(mcse_a^2 + mcse_b^2)``; over 20 rows at 4 standard errors a correct sampler fails
    with probability about 20 * 6e-5 = 1e-3, while a wrong conditional (e.g. a tau rate off
    by a factor) moves the means of many rows by far more.
    """
    args.rows, args.test, args.sizes, args.rank = 200, 20, [4, 3, 2], 2
    problem, _ = make_problem(args)
    means, ses = {}, {}
    for engine in ("nuts", "hmcgibbs"):
        draws, info = run_engine(engine, problem, args.seed, args.warmup, args.samples,
                                 args.chains)
        q = derived(problem, draws, problem.design.indices[:1], problem.design.values[:1])
        x = np.concatenate([q["eta_ref"], q["noise_sd"]], axis=-1)
        means[engine] = x.mean(axis=(0, 1))
        ses[engine] = mcse_mean(x)
        print(f"{engine}: {info['seconds']:.1f} s, R-hat max {np.max(rhat_rank(x)):.3f}, "
              f"min ESS {np.min(ess_bulk(x)):.0f}", flush=True)
    z = (means["hmcgibbs"] - means["nuts"]) / np.hypot(ses["hmcgibbs"], ses["nuts"])
    print(f"|z| of the differences in posterior means (eta_ref rows, then noise sd): max "
          f"{np.max(np.abs(z)):.2f}, rms {np.sqrt(np.mean(z**2)):.2f}", flush=True)
    return bool(np.max(np.abs(z)) < 4.0)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--engines", nargs="+", default=["nuts", "hmcgibbs"],
                   choices=["nuts", "hmcgibbs"])
    p.add_argument("--rows", type=int, default=2000, help="training rows")
    p.add_argument("--test", type=int, default=500, help="held-out rows")
    p.add_argument("--sizes", type=int, nargs="+", default=[10, 8, 6],
                   help="features per one-hot field")
    p.add_argument("--rank", type=int, default=3)
    p.add_argument("--noise", type=float, default=0.5)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", action="store_true", help="run the tiny agreement check")
    a = p.parse_args()
    if a.check:
        raise SystemExit(0 if check(a) else 1)
    main(a)
