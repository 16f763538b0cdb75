# ruff: noqa
# Run at commit 0f0a163 (the last commit before the one-engine refactor) to make
# gibbs_golden_0f0a163.npz; kept for the record: the APIs it calls no longer exist.
"""Draws of the pre-refactor Gibbs engines (commit 0f0a163) on small problems, kept so the
one-engine refactor can be checked draw for draw."""
import jax, numpy as np
from bayesfm.data import simulate_fm, from_sparse
from bayesfm.engines.gibbs_kernel import run_gibbs
from bayesfm.engines.gibbs_ffm import run_gibbs_ffm
from bayesfm.engines.gibbs_deg3 import run_gibbs_deg3
from bayesfm.engines.gibbs_ordinal import run_gibbs_ordinal
from bayesfm.model import FMPriors

out = {}
def problem(task, **kw):
    sim = simulate_fm(120, group_sizes=(8, 6, 4), rank=2, task=task, seed=3, **kw)
    d = from_sparse(sim.X, groups=sim.groups, dtype=np.float32)
    return d, sim.y
common = dict(rank=2, num_warmup=5, num_samples=15, num_chains=2, progress_bar=False,
              rng_key=jax.random.key(7))
for lik, task in (("gaussian", "regression"), ("probit", "binary")):
    d, y = problem(task)
    args = (d.indices, d.values, d.group_of_feature, y)
    r = run_gibbs(*args, n_groups=d.n_groups, likelihood=lik, **common)
    out.update({f"fm_{lik}_{k}": v for k, v in r.items()})
    r = run_gibbs_ffm(*args, n_groups=d.n_groups, likelihood=lik, **common)
    out.update({f"ffm_{lik}_{k}": v for k, v in r.items()})
    r = run_gibbs_deg3(*args, n_groups=d.n_groups, likelihood=lik, **common)
    out.update({f"deg3_{lik}_{k}": v for k, v in r.items()})
d, y = problem("regression")
sw = np.random.default_rng(0).integers(1, 3, size=len(y)).astype(np.float64)
r = run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=d.n_groups,
              sample_weight=sw, **common)
out.update({f"fm_weighted_{k}": v for k, v in r.items()})
r = run_gibbs(d.indices, d.values, d.group_of_feature, y, n_groups=d.n_groups, store="moments",
              max_kept=4, ref_rows=np.arange(5), **common)
out.update({f"fm_moments_{k}": v for k, v in r.items() if not isinstance(v, dict)})
for name in ("posterior_moments", "prediction_draws"):
    out.update({f"fm_moments_{name}_{k}": v for k, v in r[name].items()})
d, y = problem("ordinal")
r = run_gibbs_ordinal(d.indices, d.values, d.group_of_feature, y, n_groups=d.n_groups,
                      n_classes=4, **common)
out.update({f"fm_ordinal_{k}": v for k, v in r.items()})
import jaxlib
out["_jax_version"] = np.array(f"jax {jax.__version__}, jaxlib {jaxlib.__version__}")
np.savez_compressed("gibbs_golden_0f0a163.npz", **out)
print(len(out), sum(v.nbytes for v in out.values()))
