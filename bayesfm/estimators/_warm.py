"""Warm starts: more draws of the same chains, or a refit on new rows from the last draw.

libFM's ``n_more_iter`` (and what fastFM and libFM users asked for): a fitted Gibbs chain is
continued where it stopped instead of starting again. ``fit`` keeps the training problem and
the sampler's last state (chains, caches, keys) in the private ``_warm_`` attribute; a model
read back from a file has neither, and continues only on rows given again.
"""

from __future__ import annotations

from typing import Any, Self

import jax
import numpy as np
import xarray as xr
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from bayesfm.engines import FitProblem, auto_progress_bar, fit_gibbs
from bayesfm.estimators._validation import check_params, check_positive_int, check_sample_weight
from bayesfm.model import get_interaction
from bayesfm.results import (
    TRAIN_DIGEST,
    check_convergence,
    design_digest,
    keeps_pointwise,
    to_datatree,
)

__all__ = ["WarmStartMixin"]

_DRAW_GROUPS = ("posterior", "sample_stats", "log_likelihood")


def _append_draws(old: xr.DataTree, new: xr.DataTree) -> xr.DataTree:
    """``old`` with the draws of ``new`` after its own, along ``draw`` (renumbered)."""
    out = old.copy()
    for g in _DRAW_GROUPS:
        if g not in old.children or g not in new.children:
            continue
        a, b = old[g].to_dataset(), new[g].to_dataset()
        b = b.assign_coords(draw=np.arange(a.sizes["draw"], a.sizes["draw"] + b.sizes["draw"]))
        both = xr.concat([a, b], dim="draw", data_vars="minimal", coords="minimal",
                         compat="override", join="override")
        both.attrs = a.attrs
        out[g] = xr.DataTree(both)
    return out


class WarmStartMixin:
    """Adds :meth:`fit_more` to the Bayesian FM estimators (``method="gibbs"``)."""

    def fit_more(
        self, num_samples: int, X: Any = None, y: Any = None, *, num_warmup: int = 0,
        sample_weight: Any = None,
    ) -> Self:
        """Continue the fitted Gibbs chains: more draws, or a refit on new rows.

        Without ``X``: the same chains run ``num_samples`` more sweeps (``thinning`` as in
        the fit) on the training rows and their draws are appended to ``idata_``. The chain
        continues exactly where it stopped (the sampler's last state, keys included), so a
        fit with ``num_samples=200`` followed by ``fit_more(200)`` holds the same draws as
        one fit with ``num_samples=400`` and the same seed.

        With ``X`` and ``y`` (all the rows to fit now, e.g. the old ones plus new
        interactions, in the training columns): every chain starts from its last draw
        instead of from scratch, runs ``num_warmup`` sweeps (default 0) and keeps
        ``num_samples``; ``idata_`` is replaced by the new posterior. A posterior that
        changes little with the new rows is then reached in a few sweeps
        (``benchmarks/bench_warm_start.py``).

        Parameters
        ----------
        num_samples : int
            Sweeps to run (and keep, every ``thinning``-th) per chain.
        X, y : optional
            Rows and labels to refit on, laid out like the training data (a DataFrame goes
            through the fitted encoder: levels unseen at fit time get no feature).
        num_warmup : int, default 0
            Refit only: sweeps discarded first.
        sample_weight : array-like, optional
            Refit only: row weights of ``X``.

        Returns
        -------
        self

        Examples
        --------
        >>> from bayesfm import BayesianFMRegressor
        >>> from bayesfm.data import simulate_fm
        >>> sim = simulate_fm(n_rows=200, group_sizes=(8, 6), rank=2, seed=0)
        >>> fm = BayesianFMRegressor(rank=2, num_warmup=50, num_samples=50, num_chains=1,
        ...                          random_state=0, progress_bar=False)
        >>> fm = fm.fit(sim.X, sim.y, groups=sim.groups)  # doctest: +SKIP
        >>> fm.fit_more(50).idata_.posterior.sizes["draw"]  # doctest: +SKIP
        100
        >>> fm = fm.fit_more(20, sim.X, sim.y)  # refit from the last draw  # doctest: +SKIP
        """
        check_is_fitted(self, "idata_")
        est: Any = self
        check_positive_int(num_samples, "num_samples")
        if est.method != "gibbs":
            raise NotImplementedError(f"fit_more continues Gibbs chains; method={est.method!r}")
        warm = getattr(self, "_warm_", None)
        if X is None:
            if y is not None or sample_weight is not None:
                raise ValueError("y and sample_weight need X (the rows to refit on)")
            if est.store != "draws":
                raise NotImplementedError("fit_more without X continues store='draws' fits "
                                          "only; refit on X, y instead")
            if warm is None:
                raise ValueError("this model holds no sampler state (read from a file?): "
                                 "pass X and y to refit from its last draw")
            problem, state = warm
            # The key only seeds a start that resume replaces: the chains keep their own.
            result = self._sweeps(problem, jax.random.key(0), 0, num_samples, resume=state)
            new = to_datatree(result, problem, log_likelihood=self._pointwise_kept(),
                              attrs=dict(est.idata_.attrs))
            est.idata_ = _append_draws(est.idata_, new)
        else:
            if y is None:
                raise ValueError("X needs y")
            if num_warmup != 0:
                check_positive_int(num_warmup, "num_warmup")
            design = est._design(X, reset=False)
            y_arr = est._check_y(y, design.n_rows)
            sw = check_sample_weight(sample_weight, design.n_rows)
            old = warm[0] if warm is not None else None
            lik = est._get_likelihood() if old is None else old.likelihood
            priors = old.priors if old is not None else check_params(est)
            term = old.interaction if old else get_interaction(est.model, est.degree)
            problem = FitProblem(design, y_arr, lik, term, int(est.rank), priors, sw)
            start = (warm[1].chain.params if warm is not None else _last_draw(est))
            # A new key for every refit: an int random_state gives the same seed each call,
            # and an online loop refits rows of one fixed capacity (weight-0 rows not yet
            # observed), so seed and row count alone would replay one noise sequence every
            # round (Thompson's draws then err the same way round after round).
            refits = getattr(est, "_refits_", 0) + 1
            rs = check_random_state(est.random_state)
            key = jax.random.fold_in(jax.random.key(int(rs.randint(np.iinfo(np.int32).max))),
                                     design.n_rows)
            key = jax.random.fold_in(key, refits)
            est._refits_ = refits
            result = self._sweeps(problem, key, num_warmup, num_samples, init_params=start)
            est.idata_ = to_datatree(result, problem, log_likelihood=est.log_likelihood,
                                     attrs=dict(est.idata_.attrs))
            est.idata_.attrs[TRAIN_DIGEST] = design_digest(design.indices, design.values)
        est._warm_ = (problem, result.last_state)
        est.convergence_problems_ = check_convergence(est.idata_)
        # Unlike fit, the compiled sampler is kept: an online loop refits the same shapes.
        return self

    def _pointwise_kept(self) -> bool:
        return "log_likelihood" in self.idata_.children  # type: ignore[attr-defined]

    def _sweeps(self, problem: FitProblem, key: jax.Array, num_warmup: int, num_samples: int,
                **start: Any) -> Any:
        est: Any = self
        n_draws = est.num_chains * (num_samples // est.thinning)
        pointwise = keeps_pointwise(est.log_likelihood, problem.design.n_rows, n_draws,
                                    moments=est.store == "moments")
        if start.get("resume") is not None:
            pointwise = self._pointwise_kept()
        return fit_gibbs(
            problem, rng_key=key, num_warmup=num_warmup, num_samples=num_samples,
            num_chains=est.num_chains, thinning=est.thinning,
            progress_bar=auto_progress_bar(est.progress_bar), store=est.store,
            max_kept=est.max_kept, pointwise_log_likelihood=pointwise, moves=est.moves,
            devices=est.devices, **start)


def _last_draw(est: Any) -> dict[str, Any]:
    """Return the last draw of every chain of the model's sites, batched over chains."""
    post = est.idata_["posterior"]
    if "w" not in post:
        raise NotImplementedError("a store='moments' model read from a file keeps no full "
                                  "last draw; refit it with fit")
    names = [n for n in post.data_vars if n not in ("eta_ref", "log_likelihood")]
    last = {n: np.asarray(post[n].isel(draw=-1).values) for n in names}
    if est.num_chains == 1:
        last = {n: a[0] for n, a in last.items()}
    return {n: jax.device_put(a) for n, a in last.items()}
