"""``numpyro.infer.MCMC`` adapter for the blocked Gibbs sampler, and ``run_gibbs``.

:class:`FMGibbs` wraps the pure :func:`bayesfm.engines.gibbs.init` / :func:`~.gibbs.step` pair
as a :class:`numpyro.infer.mcmc.MCMCKernel`, so ``MCMC`` supplies chains, thinning and the
progress bar. The data travel inside the kernel state as jit *arguments*: ``MCMC`` closes its
sample function over the model arguments, and closed-over arrays would be embedded in the
compiled program as constants (compile time then grows with the data).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr
from numpyro.infer import MCMC
from numpyro.infer.mcmc import MCMCKernel
from numpyro.util import is_prng_key

from bayesfm.engines.gibbs import (
    GibbsData,
    GibbsState,
    _check_likelihood,
    init,
    prepare_data,
    step,
)
from bayesfm.model import FMPriors

__all__ = ["FMGibbs", "FMGibbsState", "run_gibbs"]

_SITES = ("w0", "w", "v", "mu_w", "lambda_w", "mu_v", "lambda_v")


class FMGibbsState(NamedTuple):
    """``MCMC``-facing state: the chain, the data it runs on, and the chain's key.

    Attributes
    ----------
    chain : GibbsState
        Parameters and caches (batched over chains when chains are vectorised).
    data : GibbsData
        Never batched; carried so that it enters the compiled sweep as an argument.
    rng_key : PRNG key
        The key ``MCMC`` reads and replaces (``post_warmup_state``).

    """

    chain: GibbsState
    data: GibbsData
    rng_key: jax.Array

    @property
    def sites(self) -> dict[str, jax.Array]:
        """Draws of the model's sites, in the shapes of :func:`bayesfm.model.fm_model`."""
        out = {name: getattr(self.chain, name) for name in _SITES}
        if self.chain.z is None:  # Gaussian likelihood
            out["tau"] = self.chain.tau
        out["log_likelihood"] = self.log_likelihood
        return out

    @property
    def log_likelihood(self) -> jax.Array:
        """Total log likelihood of the training rows at the current draw, from the caches.

        O(N) per draw, where recomputing every score from the draws afterwards would cost
        O(k * nnz) per draw.
        """
        chain, data = self.chain, self.data
        if chain.z is None:
            tau = chain.tau[..., None]
            lp = 0.5 * jnp.log(tau / (2 * jnp.pi)) - 0.5 * tau * chain.e * chain.e
        else:
            yhat = chain.z - chain.e
            lp = log_ndtr((2.0 * data.y - 1.0) * yhat)
        if data.weight is not None:
            lp = lp * data.weight
        return jnp.sum(lp, axis=-1)


def _as_arrays(data: Any) -> tuple[Any, Any, Any, int | None]:
    if hasattr(data, "indices") and hasattr(data, "group_of_feature"):
        return data.indices, data.values, data.group_of_feature, getattr(data, "n_groups", None)
    indices, values, group_of_feature = data
    return indices, values, group_of_feature, None


class FMGibbs(MCMCKernel):
    """Exact blocked Gibbs sampling of the Bayesian FM as a NumPyro MCMC kernel.

    Parameters
    ----------
    data : Design or tuple of (indices, values, group_of_feature)
        Training rows; the block structure is computed here, once.
    y : array-like of shape (N,)
        Targets (0/1 for probit).
    rank : int
        Factor rank ``k``.
    n_groups : int, optional
        Number of groups; default from the design, or ``max(group_of_feature) + 1``.
    likelihood : {"gaussian", "probit"}
        ``"logit"`` raises ``ValueError``: it has no conjugate Gibbs update.
    priors : FMPriors
        Constants of the Normal-Gamma hierarchy.
    sample_weight : array-like of shape (N,), optional
        Per-row frequency weights, as in :func:`bayesfm.model.fm_model` (Gaussian only).
    init_scale : float, default 0.1
        Standard deviation of the initial factors.
    dtype : dtype, optional
        Default float32, or float64 under ``jax_enable_x64``.
    layout : {"auto", "dense", "compact"}
        Storage of the blocks (see :func:`bayesfm.engines.gibbs.prepare_data`).

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import MCMC
    >>> from bayesfm.engines.gibbs_kernel import FMGibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> kernel = FMGibbs((idx, val, np.array([0, 0, 1, 1])), np.array([1.0, 2.0, 3.0]), rank=2)
    >>> mcmc = MCMC(kernel, num_warmup=5, num_samples=10, progress_bar=False)
    >>> mcmc.run(jax.random.key(0))
    >>> mcmc.get_samples()["v"].shape
    (10, 4, 2)

    """

    sample_field = "sites"

    def __init__(
        self,
        data: Any,
        y: Any,
        *,
        rank: int,
        n_groups: int | None = None,
        likelihood: str = "gaussian",
        priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
        sample_weight: Any = None,
        init_scale: float = 0.1,
        dtype: Any = None,
        layout: str = "auto",
    ) -> None:
        indices, values, group_of_feature, design_groups = _as_arrays(data)
        if n_groups is None:
            n_groups = design_groups or int(np.max(group_of_feature)) + 1
        if likelihood == "probit" and sample_weight is not None:
            raise ValueError("sample_weight is not supported by the probit Gibbs sampler")
        self.rank = int(rank)
        self.n_groups = int(n_groups)
        self.likelihood = likelihood
        self.priors = FMPriors(*(float(c) for c in priors))
        self.init_scale = float(init_scale)
        _check_likelihood(likelihood)  # before any host work
        self.data = prepare_data(indices, values, group_of_feature, y, n_groups=self.n_groups,
                                 sample_weight=sample_weight, dtype=dtype, layout=layout)
        self._vectorized = False

    def init(
        self, rng_key: jax.Array, num_warmup: int, init_params: Any, model_args: Any,
        model_kwargs: Any,
    ) -> FMGibbsState:
        """Start one chain, or a batch of chains when ``rng_key`` is a batch of keys.

        ``init_params`` (optional) is a dict of site values (batched like the keys) to start
        from, e.g. the last draw of an earlier run.
        """
        def start(key: jax.Array, params: dict | None) -> GibbsState:
            return init(key, self.data, rank=self.rank, n_groups=self.n_groups,
                        likelihood=self.likelihood, priors=self.priors,
                        init_scale=self.init_scale, params=params)

        self._vectorized = not is_prng_key(rng_key)
        if self._vectorized:
            chain = jax.vmap(start)(rng_key, init_params)
        else:
            chain = start(rng_key, init_params)
        return FMGibbsState(chain, self.data, chain.rng_key)

    def sample(self, state: FMGibbsState, model_args: Any, model_kwargs: Any) -> FMGibbsState:
        """Run one sweep of every chain."""
        def sweep(chain: GibbsState, data: GibbsData) -> GibbsState:
            return step(chain, data, likelihood=self.likelihood, priors=self.priors)

        chain = state.chain._replace(rng_key=state.rng_key)
        if self._vectorized:
            chain = jax.vmap(sweep, in_axes=(0, None))(chain, state.data)
        else:
            chain = sweep(chain, state.data)
        return FMGibbsState(chain, state.data, chain.rng_key)


def run_gibbs(
    indices: Any,
    values: Any,
    group_of_feature: Any,
    y: Any,
    *,
    n_groups: int,
    rank: int,
    likelihood: str = "gaussian",
    sample_weight: Any = None,
    priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
    num_warmup: int = 100,
    num_samples: int = 200,
    num_chains: int = 1,
    thinning: int = 1,
    rng_key: jax.Array,
    progress_bar: bool = True,
    chain_method: str = "vectorized",
    init_scale: float = 0.1,
) -> dict[str, np.ndarray]:
    """Draw from the FM posterior with the exact blocked Gibbs sampler.

    Parameters
    ----------
    indices, values : array-like of shape (N, L)
        Padded rows (see :class:`bayesfm.data.Design`).
    group_of_feature : array-like of shape (p,)
        Group of every feature.
    y : array-like of shape (N,)
        Targets (0/1 for probit).
    n_groups : int
        Number of groups ``G``.
    rank : int
        Factor rank ``k``.
    likelihood : {"gaussian", "probit"}
        Observation model; ``"logit"`` raises ``ValueError``.
    sample_weight : array-like of shape (N,), optional
        Per-row frequency weights, as in :func:`bayesfm.model.fm_model` (Gaussian only).
    priors : FMPriors
        Constants of the Normal-Gamma hierarchy.
    num_warmup, num_samples, num_chains, thinning : int
        As in :class:`numpyro.infer.MCMC`; one sweep per draw.
    rng_key : PRNG key
        Seeds every chain.
    progress_bar : bool
        Show ``MCMC``'s progress bar.
    chain_method : {"vectorized", "sequential", "parallel"}
        How ``MCMC`` runs several chains.
    init_scale : float, default 0.1
        Standard deviation of the initial factors.

    Returns
    -------
    dict of str to ndarray
        Draws of ``w0, w, v, mu_w, lambda_w, mu_v, lambda_v`` (and ``tau`` for Gaussian), each
        with leading ``(chain, draw)`` dimensions.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from bayesfm.engines.gibbs_kernel import run_gibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> draws = run_gibbs(idx, val, [0, 0, 1, 1], [1.0, 2.0, 3.0], n_groups=2, rank=2,
    ...                   num_warmup=5, num_samples=10, num_chains=2,
    ...                   rng_key=jax.random.key(0), progress_bar=False)
    >>> draws["v"].shape, draws["tau"].shape
    ((2, 10, 4, 2), (2, 10))

    """
    kernel = FMGibbs((indices, values, group_of_feature), y, rank=rank, n_groups=n_groups,
                     likelihood=likelihood, priors=priors, sample_weight=sample_weight,
                     init_scale=init_scale)
    mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                thinning=thinning, chain_method=chain_method, progress_bar=progress_bar)
    mcmc.run(rng_key)
    return {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
