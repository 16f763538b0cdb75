"""``numpyro.infer.MCMC`` adapter for the one blocked Gibbs sampler of every FM.

:class:`FMGibbs` wraps the pure :func:`~bayesfm.engines.gibbs.init` /
:func:`~bayesfm.engines.gibbs.step` pair as a :class:`numpyro.infer.mcmc.MCMCKernel` (the
pattern of numpyro's ``HMCGibbs``: one kernel, parameterised by its parts), so ``MCMC``
supplies chains, thinning and the progress bar. The likelihood and the interaction term are
passed in; their Gibbs parts are looked up in :mod:`~bayesfm.engines.gibbs.latents` and
:mod:`~bayesfm.engines.gibbs.terms`. The data travel inside the kernel state as jit
*arguments*: ``MCMC`` closes its sample function over the model arguments, and closed-over
arrays would be embedded in the compiled program as constants (compile time then grows with
the data). What is kept of each draw is set by ``store`` (:mod:`~bayesfm.engines.store`).
"""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import jax
import numpy as np
from jax.sharding import Mesh
from numpyro.infer.mcmc import MCMCKernel
from numpyro.util import is_prng_key

from bayesfm.engines import store as stores
from bayesfm.engines.drive import each_chain
from bayesfm.engines.gibbs.blocks import GibbsData, prepare_data
from bayesfm.engines.gibbs.latents import LATENTS, GibbsLatent, latent_for
from bayesfm.engines.gibbs.mesh import row_mesh
from bayesfm.engines.gibbs.mixing import GibbsMoves, mixing_moves
from bayesfm.engines.gibbs.sweep import GibbsState, init, step
from bayesfm.engines.gibbs.terms import term_for
from bayesfm.model.interactions import Interaction, get_interaction
from bayesfm.model.likelihoods import LIKELIHOODS, Likelihood, get_likelihood
from bayesfm.model.priors import FMPriors

__all__ = ["FMGibbs", "FMGibbsState", "GibbsSweep"]


class FMGibbsState(NamedTuple):
    """``MCMC``-facing state.

    The chain (batched over chains when they are vectorised), the data (never batched: it
    enters the compiled sweep as an argument), the key ``MCMC`` reads and replaces, the
    running moments (``store="moments"``) and ``sites``, what ``MCMC`` collects of the draw
    (its ``sample_field``: the sites, or in the ``"moments"`` mode the small ones and
    ``eta_ref``, plus ``log_likelihood`` and the latent part's statistics) and ``ref``, the
    rows whose scores are collected as ``eta_ref`` (an argument of the compiled sweep, like
    the data, so another choice of rows does not compile it again).
    """

    chain: GibbsState
    data: GibbsData
    rng_key: jax.Array
    moments: stores.Moments | None
    sites: dict[str, jax.Array]
    ref: jax.Array | None = None


def _sites(
    chain: GibbsState, data: GibbsData, ref_rows: jax.Array | None, latent: GibbsLatent,
    small: tuple[str, ...] | None, pointwise: bool = False,
) -> dict[str, jax.Array]:
    """Return the collected values of one chain's draw (all sites, or the ``small`` ones)."""
    out = dict(chain.params) if small is None else {n: chain.params[n] for n in small}
    if pointwise:  # every row's, read from the caches: no pass over the draws afterwards
        out["log_likelihood_pointwise"] = latent.pointwise_log_likelihood(chain, data)
        out["log_likelihood"] = out["log_likelihood_pointwise"].sum(-1)
    else:
        out["log_likelihood"] = latent.log_likelihood(chain, data)
    out.update(latent.stat_values(chain))
    if ref_rows is not None:
        out["eta_ref"] = latent.yhat(chain, data)[ref_rows]
    return out


@partial(jax.jit, static_argnames=("latent", "term", "priors", "mesh", "small", "pointwise"))
def _start(
    key: jax.Array, params: Any, data: GibbsData, ref_rows: jax.Array | None,
    init_scale: Any, num_warmup: Any, *, latent: GibbsLatent, term: Any, priors: FMPriors,
    mesh: Mesh, small: tuple[str, ...] | None, pointwise: bool,
) -> tuple[GibbsState, dict[str, jax.Array]]:
    """Start one chain and read what is collected of it, in one compiled program."""
    chain = init(key, data, latent=latent, term=term, priors=priors, init_scale=init_scale,
                 num_warmup=num_warmup, params=params, mesh=mesh)
    return chain, _sites(chain, data, ref_rows, latent, small, pointwise)


def _as_arrays(data: Any) -> tuple[Any, Any, Any, int | None]:
    if hasattr(data, "indices") and hasattr(data, "group_of_feature"):
        return data.indices, data.values, data.group_of_feature, getattr(data, "n_groups", None)
    indices, values, group_of_feature = data
    return indices, values, group_of_feature, None


def _check_positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer with store='moments', got {value!r}")
    return int(value)


class GibbsSweep(NamedTuple):
    """One sweep of every chain of an :class:`FMGibbs` kernel, as a hashable value.

    Everything that shapes the compiled sweep apart from the arrays it is called with: the
    parts (latent, term, priors, mesh), the moves, what is collected (``small`` sites,
    ``pointwise``), whether the chains are batched, the warm-up
    length and the moments store's keep plan. It holds no data, so a compiled program
    keyed by it keeps no training rows alive; equal values trace to the same program.
    """

    latent: GibbsLatent
    term: Any
    priors: FMPriors
    mesh: Mesh
    moves: GibbsMoves
    small: tuple[str, ...] | None
    pointwise: bool
    vectorized: bool
    num_warmup: int
    plan: stores.KeepPlan | None

    def one(self, chain: GibbsState, data: tuple[GibbsData, jax.Array | None]
            ) -> tuple[GibbsState, dict]:
        """One sweep of one chain and what is collected of it (``data``: with the ref rows)."""
        data, ref = data
        chain = step(chain, data, latent=self.latent, term=self.term, priors=self.priors,
                     mesh=self.mesh, moves=self.moves)
        return chain, _sites(chain, data, ref, self.latent, self.small, self.pointwise)

    def __call__(self, state: FMGibbsState) -> FMGibbsState:  # type: ignore[override]
        """Run one sweep of every chain (and update the running moments, if kept)."""
        chain = state.chain._replace(rng_key=state.rng_key)
        m, plan = state.moments, self.plan
        if self.vectorized:
            chain, sites = each_chain(self.one, chain, (state.data, state.ref))
            if m is not None:
                m = stores.keep(m, chain.params, m.sweep[0], 1, plan, self.num_warmup)
                m = jax.vmap(partial(stores.welford, num_warmup=self.num_warmup))(
                    m, chain.params)
        else:
            chain, sites = self.one(chain, (state.data, state.ref))
            if m is not None:
                m = stores.keep(m, chain.params, m.sweep, 0, plan, self.num_warmup)
                m = stores.welford(m, chain.params, self.num_warmup)
        return FMGibbsState(chain, state.data, chain.rng_key, m, sites, state.ref)


class FMGibbs(MCMCKernel):
    """Exact blocked Gibbs sampling of the Bayesian FM as a NumPyro MCMC kernel.

    Parameters
    ----------
    data : Design or tuple of (indices, values, group_of_feature)
        Training rows; the block structure is computed here, once.
    y : array-like of shape (N,)
        Targets: values (Gaussian), 0/1 (probit) or class codes ``0 .. C-1`` (ordinal).
    rank : int
    likelihood, interaction, degree, n_classes
        The model, as :func:`bayesfm.model.fm_model` takes it; a likelihood or term without
        a Gibbs part raises ``ValueError`` naming those that have one.
    n_groups : int, optional
        Default from the design, or ``max(group_of_feature) + 1``.
    priors : FMPriors
    sample_weight : array-like of shape (N,), optional
        Per-row frequency weights (Gaussian; non-negative integers for logit).
    init_scale : float, default 0.1
        Standard deviation of the initial factors.
    dtype, layout
        Of the blocks (:func:`bayesfm.engines.gibbs.prepare_data`).
    store : {"draws", "moments"}
        What ``MCMC`` collects (:mod:`bayesfm.engines.store`); a ``"moments"`` run's
        moments are read with :meth:`collect_moments` from ``MCMC.last_state.moments``.
    num_samples, thinning, max_kept
        ``"moments"`` only: ``MCMC``'s ``num_samples`` and ``thinning`` (they place the kept
        draws) and the most prediction draws kept per chain.
    ref_rows : array of int, optional
        Training rows whose scores ``eta_ref`` are recorded every draw, read from the
        caches (with ``"moments"``, none when not given).
    pointwise_log_likelihood : bool, default False
        Also collect every training row's log likelihood at every draw
        (``log_likelihood_pointwise``, N floats a draw), read from the caches.
    moves : str or GibbsMoves, default "none"
        The exact mixing moves of every sweep (:data:`~bayesfm.engines.gibbs.MOVES`):
        ``"none"`` (the blocks and ridge moves only), ``"groups"``, ``"scale"``, ``"means"``
        or ``"all"``.
    devices : int, sequence of jax devices or None, default None
        The devices the rows are split over (:func:`~bayesfm.engines.gibbs.mesh.row_mesh`):
        ``None`` every device (of every process under ``jax.distributed``), ``n`` the first
        ``n``. One device is the mesh of size one; the draws agree across meshes up to the
        rounding of the sums over rows.
    process_rows : bool, default False
        Under ``jax.distributed``: ``data``, ``y`` (and ``sample_weight``) are this
        process's share of the rows (the input layout of :mod:`bayesfm.engines.hosts`);
        ``ref_rows`` number the rows of every process's shares in process order.
    bucket_rows : bool, default False
        Pad the rows to their shape bucket (:func:`~bayesfm.engines.gibbs.mesh.row_bucket`:
        zero-weight rows, which change no draw's distribution), so that a later fit of a
        nearby row count reuses the compiled sweep.
    relations : sequence of Relation, optional
        Relation blocks (:mod:`bayesfm.data.relations`) whose features follow the columns of
        ``data`` (``group_of_feature`` covers all of them); the sweep draws them from the
        distinct sub-rows (:mod:`~bayesfm.engines.gibbs.relations`), exactly as on the
        materialised design. The plain FM on one device only, without ``moves`` that
        rescale groups.

    Examples
    --------
    >>> import jax, numpy as np
    >>> from numpyro.infer import MCMC
    >>> from bayesfm.engines.gibbs import FMGibbs
    >>> idx = np.array([[0, 2], [1, 3], [0, 3]]); val = np.ones((3, 2), np.float32)
    >>> kernel = FMGibbs((idx, val, np.array([0, 0, 1, 1])), np.array([1.0, 2.0, 3.0]), rank=2)
    >>> mcmc = MCMC(kernel, num_warmup=5, num_samples=10, progress_bar=False)
    >>> mcmc.run(jax.random.key(0))
    >>> mcmc.get_samples()["v"].shape
    (10, 4, 2)
    """

    sample_field = "sites"

    def __init__(
        self, data: Any, y: Any, *, rank: int, likelihood: str | Likelihood = "gaussian",
        interaction: str | Interaction = "fm", degree: int = 2, n_classes: int | None = None,
        n_groups: int | None = None,
        priors: FMPriors = FMPriors(),  # noqa: B008 - NamedTuple default is immutable
        sample_weight: Any = None, init_scale: float = 0.1, dtype: Any = None,
        layout: str = "auto", store: str = "draws", num_samples: int | None = None,
        thinning: int = 1, max_kept: int = 100, ref_rows: Any = None,
        pointwise_log_likelihood: bool = False, moves: str | GibbsMoves = "none",
        devices: Any = None, process_rows: bool = False, bucket_rows: bool = False,
        relations: Any = None,
    ) -> None:
        if store not in stores.STORES:
            raise ValueError(f"unknown store {store!r}; valid: {', '.join(stores.STORES)}")
        if isinstance(likelihood, str) and likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; valid for Gibbs: "
                             f"{', '.join(LATENTS)}")
        self.likelihood = get_likelihood(likelihood, n_classes=n_classes)
        self.interaction = get_interaction(interaction, degree)
        self.latent = latent_for(self.likelihood)  # before any host work
        indices, values, group_of_feature, design_groups = _as_arrays(data)
        if n_groups is None:
            n_groups = design_groups or int(np.max(group_of_feature)) + 1
        self.rank, self.n_groups = int(rank), int(n_groups)
        self.term = term_for(self.interaction, self.n_groups, self.rank)
        self.priors = FMPriors(*(float(c) for c in priors))
        self.init_scale = float(init_scale)
        self.moves = mixing_moves(moves)
        if self.likelihood.task == "ordinal":
            codes = np.asarray(y, dtype=np.float64)
            c = int(getattr(self.likelihood, "n_classes", 0))
            if codes.size and (codes.min() < 0 or codes.max() >= c
                               or np.any(codes != np.round(codes))):
                raise ValueError(f"y must hold class codes 0 .. {c - 1}")
        if sample_weight is not None:
            self.latent.check_weights(np.asarray(sample_weight, np.float64))
        self.mesh = row_mesh(devices)
        relations = tuple(relations or ())
        if relations and self.interaction.name != "fm":
            raise NotImplementedError(
                f"relation blocks are sampled for the plain FM (model='fm') only, not "
                f"{self.interaction.name!r}; materialise them (bayesfm.data.materialize)")
        if relations and self.moves.group_scales:
            raise NotImplementedError("moves that rescale groups ('groups', 'all') are not "
                                      "implemented with relation blocks")
        self.data = prepare_data(indices, values, group_of_feature, y, n_groups=self.n_groups,
                                 sample_weight=sample_weight, dtype=dtype, layout=layout,
                                 mesh=self.mesh, process_rows=process_rows,
                                 bucket_rows=bucket_rows, relations=relations)
        # The training rows of every process; the data may carry padding rows after them.
        self.n_rows = int(np.shape(indices)[0]) * (jax.process_count() if process_rows else 1)
        self.store = store
        self.ref_rows: np.ndarray | None = None
        if store == "moments":
            self.plan = stores.keep_plan(_check_positive("num_samples", num_samples),
                                         _check_positive("thinning", thinning),
                                         _check_positive("max_kept", max_kept))
        if store == "moments" or ref_rows is not None:
            rows = np.zeros(0, np.int32) if ref_rows is None else np.asarray(ref_rows, np.int32)
            n_rows = self.n_rows
            if rows.ndim != 1 or np.any((rows < 0) | (rows >= n_rows)):
                raise ValueError(f"ref_rows must be row numbers in [0, {n_rows}), got {rows}")
            self.ref_rows = rows
        factors = self.interaction.factor_names
        #: Running moments are kept of these; prediction draws of ``kept_sites``.
        self.running_sites = ("w", *factors)
        self.kept_sites = ("w0", "w", *factors, *self.likelihood.prediction_sites)
        self.pointwise = bool(pointwise_log_likelihood)
        if self.pointwise and store == "moments":
            raise ValueError("pointwise_log_likelihood=True needs store='draws'")
        self._num_warmup = 0
        self._vectorized = False

    @property
    def parts(self) -> dict[str, Any]:  # noqa: D102 - the static arguments of init and step
        return {"latent": self.latent, "term": self.term, "priors": self.priors,
                "mesh": self.mesh}

    def _small_sites(self) -> tuple[str, ...] | None:
        if self.store == "draws":
            return None
        big = set(self.running_sites)
        names = ["w0", "mu_w", "lambda_w"]
        for name in self.interaction.factor_names:
            names += [f"mu_{name}", f"lambda_{name}"]
        return tuple(n for n in (*names, *self.latent.sites) if n not in big)

    def init(
        self, rng_key: jax.Array, num_warmup: int, init_params: Any, model_args: Any,
        model_kwargs: Any,
    ) -> FMGibbsState:
        """Start one chain, or a batch of chains when ``rng_key`` is a batch of keys.

        ``init_params`` (optional) is a dict of site values (batched like the keys) to start
        from, e.g. the last draw of an earlier run.
        """
        self._vectorized = not is_prng_key(rng_key)
        self._num_warmup = int(num_warmup)
        ref = None if self.ref_rows is None else jax.device_put(self.ref_rows)
        start = partial(_start, **self.parts, small=self._small_sites(), pointwise=self.pointwise)
        args = (self.data, ref, self.init_scale, jax.device_put(np.int32(num_warmup)))
        if self._vectorized:
            chain, sites = jax.vmap(start, in_axes=(0, 0, None, None, None, None))(
                rng_key, init_params, *args)
        else:
            chain, sites = start(rng_key, init_params, *args)
        moments = None
        if self.store == "moments":
            assert self.ref_rows is not None
            batch = chain.params["w0"].shape
            moments = stores.start(chain.params, self.running_sites, self.kept_sites,
                                   self.plan.n_keep, self.ref_rows, batch)
        return FMGibbsState(chain, self.data, chain.rng_key, moments, sites, ref)

    @property
    def sweep(self) -> GibbsSweep:
        """The sweep of every chain as a hashable value (set up by :meth:`init`).

        :func:`~bayesfm.engines.drive.sample_chains` keys its compiled sweep loop by it, so
        a later fit with equal settings and data shapes reuses the program.
        """
        moments = self.store == "moments"  # the only store whose sweep reads the warm-up
        return GibbsSweep(self.latent, self.term, self.priors, self.mesh, self.moves,
                          self._small_sites(), self.pointwise, self._vectorized,
                          self._num_warmup if moments else 0,
                          self.plan if moments else None)

    def sample(self, state: FMGibbsState, model_args: Any, model_kwargs: Any) -> FMGibbsState:
        """Run one sweep of every chain (and update the running moments, if kept)."""
        return self.sweep(state)

    def collect_moments(self, moments: stores.Moments, num_chains: int) -> tuple[dict, dict]:
        """Return the running moments and the kept draws of a finished ``"moments"`` run.

        See :func:`bayesfm.engines.store.collect`.
        """
        return stores.collect(moments, num_chains, self.plan)
