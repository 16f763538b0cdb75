"""Correctness battery of NUTS on the FM model: simulation-based calibration.

The truth is drawn from the model's own prior and every replication runs numpyro's functional
NUTS, vmapped over the simulated data sets (see ``tests/engines/gibbs/test_calibration.py``
for the method and ``tests/_model_helpers.py`` for the helpers). The acceptance rule: a
chi-square test of the binned ranks against uniform gives p > 0.01 for each checked quantity;
with an exact sampler a fixed seed passes it with probability 0.99 per quantity, and the seeds
were not searched.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from numpyro.infer.hmc import hmc
from numpyro.infer.util import initialize_model

from bayesfm.model import fm_model
from tests._model_helpers import (
    QUANTITIES,
    Problem,
    assert_uniform,
    eta,
    prior_draws,
    sbc_ranks,
    tiny_problem,
    truth_of,
)

pytestmark = pytest.mark.battery


def nuts_replications(problem: Problem, prior: dict[str, np.ndarray], *, num_warmup: int,
                      num_draws: int, thin: int, seed: int, max_tree_depth: int = 8,
                      parameterization: str = "noncentered") -> dict[str, np.ndarray]:
    """NUTS (numpyro's functional ``hmc``) per replication, vmapped over the data sets.

    Each replication adapts its own step size and diagonal mass matrix; the sample kernel
    regenerates the potential from the batched ``y``. One scan over warm-up and draws keeps
    a single copy of the tree builder in the compiled program.
    """
    kw = dict(n_groups=problem.n_groups, rank=problem.rank, parameterization=parameterization)
    fixed = (problem.indices, problem.values, problem.group_of_feature)
    y = np.asarray(prior["y"], np.float32)
    info = initialize_model(jax.random.key(0), fm_model, model_args=(*fixed, y[0]),
                            model_kwargs=kw, dynamic_args=True)
    init_kernel, sample_kernel = hmc(potential_fn_gen=info.potential_fn, algo="NUTS")
    leaves, tree = jax.tree.flatten(info.param_info.z)

    def run(key: jax.Array, y: jax.Array) -> tuple:
        k_init, k_run = jax.random.split(key)
        ks = jax.random.split(k_init, len(leaves))
        # The estimator's start (run_nuts): uniform in (-0.1, 0.1) on the unconstrained scale.
        z = jax.tree.unflatten(tree, [jax.random.uniform(k, a.shape, minval=-0.1, maxval=0.1)
                                      for k, a in zip(ks, leaves, strict=True)])
        args = (*fixed, y)
        state = init_kernel(z, num_warmup, max_tree_depth=max_tree_depth, model_args=args,
                            model_kwargs=kw, rng_key=k_run)
        constrain = info.postprocess_fn(*args, **kw)

        def one(s: object, _: None) -> tuple:
            s = sample_kernel(s, args, kw)
            c = constrain(s.z)
            return s, (c["w0"], c["tau"], c["w"][0], c["w"], c["v"], s.diverging)

        out = jax.lax.scan(one, state, None, length=num_warmup + num_draws * thin)[1]
        return tuple(a[num_warmup + thin - 1 :: thin] for a in out)

    keys = jax.random.split(jax.random.key(seed), y.shape[0])
    # Batches of 20 replications, one batch after another (lax.map): vmapped NUTS builds
    # every replication's tree in lockstep to the deepest one's, so one vmap over all 160
    # made each step cost the deepest of 160 trees. Measured on the regression test below:
    # 86 s -> 64 s of CPU, the same replications and draws per replication (float rounding
    # of the batch shape moves the chaotic trajectories, so the ranks differ: p = 0.19, 0.32,
    # 0.41, 0.12 for w0, tau, w_0, pred, divergences 4.1%).
    run_all = jax.jit(lambda k, y: jax.lax.map(lambda a: run(*a), (k, y), batch_size=20))
    w0, tau, w_0, w, v, div = (np.asarray(a) for a in run_all(keys, jax.numpy.asarray(y)))
    return {"w0": w0, "tau": tau, "w_0": w_0, "pred": eta(problem, w0, w, v)[..., 0],
            "diverging": div}


@pytest.mark.xdist_group("sbc_nuts")
def test_nuts_sbc_regression():
    # 160 replications x (150 warm-up + 19 draws x 3): compile dominates (about 20 s).
    problem = tiny_problem(seed=10)
    prior = prior_draws(problem, 160, "gaussian", seed=11)
    post = nuts_replications(problem, prior, num_warmup=150, num_draws=19, thin=3, seed=12)
    truth = truth_of(problem, prior)
    # Divergences would bias the draws; the non-centred model keeps them rare here.
    assert post["diverging"].mean() < 0.05
    # 160 replications in 5 bins of 4 rank values: 32 expected per bin.
    assert_uniform({k: sbc_ranks(post[k], truth[k]) for k in QUANTITIES}, 19, 5)


@pytest.mark.slow
def test_nuts_sbc_long_centered():
    """The centred model too, with more replications and draws."""
    problem = tiny_problem(seed=13)
    prior = prior_draws(problem, 500, "gaussian", seed=14)
    post = nuts_replications(problem, prior, num_warmup=300, num_draws=39, thin=4, seed=15,
                             max_tree_depth=10, parameterization="centered")
    truth = truth_of(problem, prior)
    assert_uniform({k: sbc_ranks(post[k], truth[k]) for k in QUANTITIES}, 39, 10)
