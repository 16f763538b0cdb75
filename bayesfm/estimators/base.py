"""The one estimator behind every bayesfm model: fit, predict, intervals, draws, save.

:class:`BayesianFMBase` holds fitting and prediction once (scikit-learn's
``_GeneralizedLinearRegressor`` pattern); the regressor, the classifier and the ordinal
estimator are thin subclasses that choose their likelihood (:meth:`_get_likelihood`) and
check and decode their labels.
"""

from __future__ import annotations

import os
from typing import Any, Self

import jax
import numpy as np
import pandas as pd
import xarray as xr
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from bayesfm.data.design import Design
from bayesfm.engines import (
    FitProblem,
    auto_progress_bar,
    check_supported,
    enable_compilation_cache,
    fit_gibbs,
    release_compiled_programs,
    run_nuts,
    run_svi,
)
from bayesfm.estimators._inputs import Layout, design_of, layout_of
from bayesfm.estimators._predict import draws_for, summaries_for
from bayesfm.estimators._recommend import RecommendMixin
from bayesfm.estimators._relations import Joined, fit_designs, join
from bayesfm.estimators._validation import (
    check_params,
    check_positive_int,
    check_sample_weight,
    mesh_attrs,
)
from bayesfm.estimators._warm import WarmStartMixin
from bayesfm.model import FMPriors, Likelihood, get_interaction
from bayesfm.persistence import save_model
from bayesfm.results import (
    TRAIN_DIGEST,
    PosteriorDraws,
    PredictiveSummary,
    check_convergence,
    convergence_summary,
    design_digest,
    keeps_pointwise,
    mean_draws,
    posterior_predictive,
    prediction_group,
    store_replicates,
    to_datatree,
)

__all__ = ["BayesianFMBase"]


class BayesianFMBase(RecommendMixin, WarmStartMixin, BaseEstimator):
    """Shared fitting and prediction; subclasses choose the likelihood and the labels.

    Subclasses implement :meth:`_get_likelihood` and :meth:`_check_y` (and, for discrete
    labels, :meth:`_decode`). Parameters are documented on :class:`BayesianFMRegressor`.
    """

    def __init__(
        self,
        rank: int = 8,
        method: str = "gibbs",
        *,
        model: str = "fm",
        degree: int = 2,
        model_options: dict[str, Any] | None = None,
        num_warmup: int = 500,
        num_samples: int = 500,
        num_chains: int = 2,
        thinning: int = 1,
        random_state: Any = None,
        priors: dict[str, float] | None = None,
        parameterization: str = "centered",
        guide: str = "normal",
        svi_steps: int = 20_000,
        learning_rate: float = 0.01,
        batch_size: int | str | None = "auto",
        log_likelihood: bool | str = "auto",
        progress_bar: bool | None = None,
        store: str = "draws",
        max_kept: int = 100,
        moves: str = "none",
        devices: int | None = None,
        categorical: list[str] | None = None,
        numeric: list[str] | None = None,
    ) -> None:
        self.rank = rank
        self.method = method
        self.model = model
        self.degree = degree
        self.model_options = model_options
        self.num_warmup = num_warmup
        self.num_samples = num_samples
        self.num_chains = num_chains
        self.thinning = thinning
        self.random_state = random_state
        self.priors = priors
        self.parameterization = parameterization
        self.guide = guide
        self.svi_steps = svi_steps
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.log_likelihood = log_likelihood
        self.progress_bar = progress_bar
        self.store = store
        self.max_kept = max_kept
        self.moves = moves
        self.devices = devices
        self.categorical = categorical
        self.numeric = numeric

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags

    # -- what subclasses choose ------------------------------------------------------------
    def _get_likelihood(self) -> Likelihood:
        """Return the likelihood object of this estimator (after :meth:`_check_y` in ``fit``)."""
        raise NotImplementedError

    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        """Validate labels; return them coded as the likelihood expects (float64)."""
        raise NotImplementedError

    def _decode(self, codes: np.ndarray) -> np.ndarray:  # noqa: D102 - user labels of codes
        return codes

    # -- inputs ----------------------------------------------------------------------------
    def _design(self, X: Any, *, reset: bool, layout: Layout | None = None) -> Design:
        """Validate ``X`` and turn it into a Design laid out like the training data."""
        if isinstance(X, Joined):  # rows joined with their relations (predict)
            return X.materialised()
        return design_of(self, X, reset=reset, layout=layout)

    def _join(self, X: Any, relations: Any) -> Any:
        """Join the rows to predict with their relations (``X`` itself without any)."""
        return join(self, X, relations)

    # -- fitting ---------------------------------------------------------------------------
    def _run_engine(self, problem: FitProblem, key: jax.Array) -> Any:
        progress = auto_progress_bar(self.progress_bar)
        if self.method == "gibbs":
            n_draws = self.num_chains * (self.num_samples // self.thinning)
            pointwise = keeps_pointwise(self.log_likelihood, problem.design.n_rows, n_draws,
                                        moments=self.store == "moments")
            return fit_gibbs(
                problem, rng_key=key, num_warmup=self.num_warmup, num_samples=self.num_samples,
                num_chains=self.num_chains, thinning=self.thinning, progress_bar=progress,
                store=self.store, max_kept=self.max_kept, pointwise_log_likelihood=pointwise,
                moves=self.moves, devices=self.devices,
            )
        if self.method == "nuts":
            return run_nuts(
                problem, rng_key=key, num_warmup=self.num_warmup, num_samples=self.num_samples,
                num_chains=self.num_chains, thinning=self.thinning,
                parameterization=self.parameterization, progress_bar=progress,
            )
        return run_svi(
            problem, rng_key=key, guide=self.guide, num_steps=self.svi_steps,
            learning_rate=self.learning_rate, batch_size=self.batch_size,
            num_samples=self.num_samples, progress_bar=progress, devices=self.devices,
        )

    def fit(
        self, X: Any, y: Any, *, groups: Any = None, sample_weight: Any = None,
        feature_names: Any = None, group_names: Any = None, relations: Any = None,
    ) -> Self:
        """Draw from the posterior of the FM given ``X`` and ``y``.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame of shape (n_rows, n_features)
            A DataFrame with categorical, string, boolean or list columns is encoded column
            by column (one group per column: one-hot, scaled numeric value, multi-hot; see
            :class:`bayesfm.data.FMEncoder`), as is one with columns declared in
            ``categorical`` / ``numeric``; an all-numeric DataFrame is otherwise used like an
            array with its column names. A :class:`~bayesfm.data.Design` brings its groups
            and names.
        y : array-like of shape (n_rows,)
        groups : array-like of shape (n_features,) or DatasetInfo, optional
            Group (field) of every column of an array or sparse ``X``; default one group. A
            loader's :class:`~bayesfm.data.DatasetInfo` gives groups and names at once.
        sample_weight : array-like of shape (n_rows,), optional
            Non-negative row weights (frequency weights).
        feature_names, group_names : sequence of str, optional
            Coordinates of ``idata_`` for an array or sparse ``X`` (default ``x0 ..``,
            ``g0 ..``), so that ``idata_.posterior.w.sel(feature="user=42")`` works.
        relations : sequence of Relation, optional
            Relation blocks (:mod:`bayesfm.data.relations`: shared sub-rows such as a
            user's set of rated items), one index entry per row of ``X``; their features
            follow ``X``'s columns and are labelled by their names in ``idata_``. Gibbs
            samples them from the distinct sub-rows (plain FM, ``model="fm"``); NUTS and SVI
            fit the materialised design. Every method that takes ``X`` then takes the rows'
            ``relations=`` too. Array or sparse ``X`` only.

        Returns
        -------
        self
        """
        priors: FMPriors = check_params(self)
        if groups is not None and isinstance(X, pd.DataFrame):
            raise ValueError("groups cannot be given with a DataFrame: columns are the groups")
        X, layout = layout_of(X, groups, feature_names, group_names)
        design = self._design(X, reset=True, layout=layout)
        design, rels = fit_designs(self, X, design, relations, self.method)
        y_arr = self._check_y(y, design.n_rows)
        sw = check_sample_weight(sample_weight, design.n_rows)
        likelihood = self._get_likelihood()
        interaction = get_interaction(self.model, self.degree, self.model_options)
        check_supported(likelihood, interaction, self.method, self.store)
        interaction.check_rows(design.indices, design.values, design.group_of_feature,
                               design.group_names)
        problem = FitProblem(design, y_arr, likelihood, interaction, int(self.rank), priors, sw,
                             rels)
        rs = check_random_state(self.random_state)
        key = jax.random.key(int(rs.randint(np.iinfo(np.int32).max)))
        enable_compilation_cache()
        result = self._run_engine(problem, key)
        self.idata_ = to_datatree(
            result, problem, log_likelihood=self.log_likelihood,
            attrs={"method": self.method, "estimator": type(self).__name__,
                   "store": self.store,
                   **mesh_attrs(self.method, self.devices, design.n_rows)},
        )
        self.idata_.attrs[TRAIN_DIGEST] = design_digest(design.indices, design.values)
        self.design_template_ = design.take(np.arange(0))
        self._warm_ = (problem, getattr(result, "last_state", None))  # for fit_more
        self._refits_ = 0  # fit_more refits since this fit (each folds its count into its key)
        if self.method in ("gibbs", "nuts"):
            self.convergence_problems_ = check_convergence(self.idata_)
        else:
            self.convergence_problems_ = []
        release_compiled_programs()  # many fits in one process must not exhaust its mappings
        return self

    # -- prediction ------------------------------------------------------------------------
    def _draws(self, X: Any, *, at_prior_means: bool = False) -> tuple[PosteriorDraws, Design]:
        """Return the draws that predict ``X`` and its design (unseen levels: group prior)."""
        return draws_for(self, X, at_prior_means=at_prior_means)

    def _summaries(self, X: Any, prob: float | None, kind: str) -> PredictiveSummary:
        return summaries_for(self, X, prob, kind)

    def predict_interval(self, X: Any, prob: float = 0.9, *, kind: str = "mean",
                         relations: Any = None) -> np.ndarray:
        """Equal-tailed credible interval of the prediction for every row.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        prob : float, default 0.9
            Posterior mass inside the interval.
        kind : {"mean", "predictive"}
            ``"mean"`` bounds ``E[y | x]`` (the click probability for the classifier, the
            expected class value for the ordinal estimator); ``"predictive"`` bounds a new
            ``y``, exactly from the predictive mixture over the draws (regression: quantiles
            of the mixture of normals; classifier and ordinal: the central range of classes
            under the mean class probabilities).

        relations : sequence of Relation, optional
            The rows' relation blocks, for a model fitted with ``relations=``.

        Returns
        -------
        ndarray of shape (n_rows, 2)
            Lower and upper bounds.
        """
        s = self._summaries(self._join(X, relations), prob, kind)
        return np.column_stack([s.lower, s.upper])

    def predict_summary(
        self, X: Any, prob: float | None = 0.9, *, kind: str = "mean", relations: Any = None,
    ) -> PredictiveSummary:
        """Posterior mean, sd and ``prob`` interval of every row's prediction, in one pass.

        The same numbers as the mean prediction (:meth:`predict` of the regressor,
        ``predict_proba(X)[:, 1]`` of the classifier, ``predict_expected`` of the ordinal
        estimator), its sd and :meth:`predict_interval`, computed together chunk by chunk.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        prob : float or None, default 0.9
            Mass of the equal-tailed interval; ``None`` skips it (NaN bounds).
        kind : {"mean", "predictive"}
            As in :meth:`predict_interval`.

        Returns
        -------
        PredictiveSummary
            ``mean``, ``sd``, ``lower``, ``upper``: arrays of shape (n_rows,).

        Examples
        --------
        >>> mean, sd, lower, upper = fm.predict_summary(X, prob=0.9)  # doctest: +SKIP
        """
        return self._summaries(self._join(X, relations), prob, kind)

    def predict_draws(self, X: Any, *, relations: Any = None) -> np.ndarray:
        """Posterior draws of ``E[y | x]`` (the click probability, the expected rating).

        Holds ``(n_draws_total, n_rows)`` floats in memory: for many rows use the mean
        prediction and :meth:`predict_interval`, which work chunk by chunk.

        Returns
        -------
        ndarray of shape (n_draws_total, n_rows)
            ``n_draws_total`` is ``num_chains * (num_samples // thinning)``, or with
            ``store="moments"`` the number of kept prediction draws (at most
            ``num_chains * max_kept``).
        """
        draws, design = self._draws(self._join(X, relations))
        return mean_draws(draws, design.indices, design.values)

    def sample_posterior_predictive(
        self, X: Any, num_draws: int | None = None, random_state: Any = None, *,
        relations: Any = None,
    ) -> np.ndarray:
        """Replicated observations for the rows of ``X``: one simulated ``y`` per draw.

        The input of a posterior predictive check: a new ``y`` from the likelihood (Gaussian
        noise with the draw's ``tau``, a 0/1 click, a class) for every posterior draw and
        row. They are also written into ``idata_``: for the training rows as
        ``posterior_predictive["y"]`` with the posterior's ``(chain, draw)`` dims and the
        ``obs`` dim of ``observed_data`` (so ``arviz_plots.plot_ppc_dist(fm.idata_)`` and
        ``arviz.loo_pit(fm.idata_)`` work), for other rows as ``predictions["y"]`` (dim
        ``pred_obs``).

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        num_draws : int, optional
            Use this many posterior draws, picked at random without replacement; default
            all of them (then the group has the posterior's chains and draws; with a subset
            one chain of the chosen draws).
        random_state : int, numpy Generator or None
            Seed of the draw choice and of the simulated noise.

        Returns
        -------
        ndarray of shape (num_draws, n_rows)
            float64 values (regressor) or labels (classifier and ordinal: ``classes_``).

        Examples
        --------
        >>> y_rep = fm.sample_posterior_predictive(X_train)  # doctest: +SKIP
        >>> arviz_plots.plot_ppc_dist(fm.idata_)  # doctest: +SKIP
        """
        draws, design = self._draws(self._join(X, relations))
        rng = np.random.default_rng(random_state)
        keep = None
        if num_draws is not None:
            check_positive_int(num_draws, "num_draws")
            if num_draws > draws.n_draws:
                raise ValueError(f"num_draws={num_draws}, but the fit holds {draws.n_draws} "
                                 "draws")
            keep = np.sort(rng.choice(draws.n_draws, size=num_draws, replace=False))
            draws = draws.subset(keep)
        rep = self._decode(posterior_predictive(draws, design.indices, design.values, rng=rng))
        store_replicates(self.idata_, rep, design_digest(design.indices, design.values), keep)
        return rep

    def predict_idata(self, X: Any, *, relations: Any = None) -> xr.DataTree:
        """Return the fit's DataTree plus a ``predictions`` group for the rows of ``X``.

        ``predictions["mu"]`` holds the draws of :meth:`predict_draws` with dims
        ``(chain, draw, pred_obs)``; ``idata_`` itself is left unchanged.
        """
        mu = self.predict_draws(X, relations=relations)
        post = self.idata_[prediction_group(self.idata_)]
        n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
        ds = xr.Dataset(
            {"mu": (("chain", "draw", "pred_obs"), mu.reshape(n_chains, n_draws, -1))},
            coords={"chain": post["chain"].values, "draw": post["draw"].values,
                    "pred_obs": np.arange(mu.shape[1])},
        )
        out = self.idata_.copy()
        out["predictions"] = xr.DataTree(ds)
        return out

    def summary(self, ci_prob: float = 0.9) -> pd.DataFrame:
        """Posterior summary with R-hat and ESS of the identifiable quantities.

        Rows are ``w0``, ``w[feature]``, ``mu_w[group]``, ``lambda_w[group]``, ``tau``, the
        free cutpoints, ``eta_ref[row]`` (predictions on fixed training rows) and
        ``log_likelihood``.
        """
        check_is_fitted(self, "idata_")
        return convergence_summary(self.idata_, ci_prob=ci_prob)

    def save(self, path: str | os.PathLike[str], *, log_likelihood: str = "recompute") -> None:
        """Save the fitted model to one file at ``path`` as JSON plus netCDF, never pickle.

        The write is atomic; read it back with :func:`bayesfm.load`. The pointwise
        ``log_likelihood`` group is left out and recomputed on load unless
        ``log_likelihood="keep"``. See :func:`bayesfm.persistence.save_model`.

        Examples
        --------
        >>> fm.save("fm.bayesfm")  # doctest: +SKIP
        >>> bayesfm.load("fm.bayesfm").predict(X)  # doctest: +SKIP
        """
        if getattr(self, "relation_shapes_", ()):
            raise NotImplementedError("saving a model fitted with relations= is not "
                                      "implemented yet")
        save_model(self, path, log_likelihood=log_likelihood)
