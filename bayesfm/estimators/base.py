"""scikit-learn estimators over the Bayesian FM: the user-facing edge of bayesfm."""

from __future__ import annotations

import dataclasses
import numbers
import os
import warnings
from typing import Any, Self

import jax
import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from bayesfm.data.design import Design, check_finite, from_sparse
from bayesfm.engines import (
    METHODS,
    STORES,
    FitProblem,
    auto_progress_bar,
    enable_compilation_cache,
    fit_gibbs,
    release_compiled_programs,
    run_nuts,
    run_svi,
)
from bayesfm.engines.svi import GUIDES
from bayesfm.model import FMPriors
from bayesfm.model_variants import check_variant
from bayesfm.predict import (
    PredictiveSummary,
    chunk_size,
    eta_chunks,
    factor_width,
    inverse_link,
    posterior_predictive,
    subset_draws,
    summarize_predictions,
)
from bayesfm.results import (
    check_convergence,
    convergence_summary,
    draws_from_datatree,
    prediction_group,
    to_datatree,
)

__all__ = ["BayesianFMRegressor", "BayesianFMClassifier", "PrecisionWarning"]


def _check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


class _BaseBayesianFM(BaseEstimator):
    """Shared fitting and prediction; subclasses fix the likelihood and the label handling."""

    def __init__(
        self,
        rank: int = 8,
        method: str = "gibbs",
        *,
        model: str = "fm",
        degree: int = 2,
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
        batch_size: int | None = None,
        log_likelihood: bool | str = "auto",
        progress_bar: bool | None = None,
        store: str = "draws",
        max_kept: int = 100,
    ) -> None:
        self.rank = rank
        self.method = method
        self.model = model
        self.degree = degree
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

    _likelihood: str = "gaussian"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = False
        return tags

    # -- validation ------------------------------------------------------------------------
    def _validate_params(self) -> FMPriors:  # type: ignore[override]
        _check_positive_int(self.rank, "rank")
        if self.method not in METHODS:
            raise ValueError(
                f"unknown method {self.method!r}; valid methods: {', '.join(METHODS)}"
            )
        check_variant(self.model, self.degree)
        _check_positive_int(self.num_warmup, "num_warmup", minimum=0)
        _check_positive_int(self.num_samples, "num_samples")
        _check_positive_int(self.num_chains, "num_chains")
        _check_positive_int(self.thinning, "thinning")
        if self.method in ("gibbs", "nuts") and self.thinning > self.num_samples:
            raise ValueError(
                f"thinning ({self.thinning}) must not exceed num_samples ({self.num_samples}): "
                "num_samples counts post-warmup sweeps, of which every thinning-th is kept"
            )
        if self.store not in STORES:
            raise ValueError(f"unknown store {self.store!r}; valid stores: {', '.join(STORES)}")
        _check_positive_int(self.max_kept, "max_kept")
        if self.store == "moments":
            if self.method != "gibbs":
                raise ValueError(
                    f"store='moments' needs method='gibbs' (got method={self.method!r}); "
                    "NUTS and SVI keep every draw"
                )
            if self.log_likelihood is True:
                raise ValueError(
                    "log_likelihood=True needs every draw of w and v, which store='moments' "
                    "does not keep; use log_likelihood='auto' or False, or store='draws'"
                )
        _check_positive_int(self.svi_steps, "svi_steps")
        if self.batch_size is not None:
            _check_positive_int(self.batch_size, "batch_size")
        if self.guide not in GUIDES:
            raise ValueError(f"unknown guide {self.guide!r}; valid guides: {', '.join(GUIDES)}")
        if self.parameterization not in ("centered", "noncentered"):
            raise ValueError(
                f"unknown parameterization {self.parameterization!r}; "
                "valid: centered, noncentered"
            )
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"learning_rate must be a number, got {lr!r} ({type(lr).__name__})")
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"learning_rate must be finite and > 0, got {lr}")
        if self.progress_bar is not None and not isinstance(self.progress_bar, bool):
            raise TypeError(f"progress_bar must be True, False or None, got {self.progress_bar!r}")
        if self.priors is not None and not isinstance(self.priors, dict):
            raise TypeError(
                f"priors must be a dict of prior constants (e.g. {{'a0': 2.0}}), got "
                f"{self.priors!r} ({type(self.priors).__name__})"
            )
        priors = dict(self.priors or {})
        unknown = set(priors) - set(FMPriors._fields)
        if unknown:
            raise ValueError(
                f"unknown prior constants {sorted(unknown)}; valid: {', '.join(FMPriors._fields)}"
            )
        for k, v in priors.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"prior constant {k} must be a number, got {v!r}")
            if not np.isfinite(v) or (k != "mu0" and v <= 0):
                raise ValueError(f"prior constant {k} must be finite (and > 0), got {v}")
        return FMPriors(**priors)

    def _design(self, X: Any, *, reset: bool, groups: Any = None) -> Design:
        """Validate ``X`` and turn it into a Design laid out like the training data."""
        if isinstance(X, pd.DataFrame) and not _all_numeric(X):
            return self._design_from_frame(X, reset=reset)
        if reset:
            self.encoder_ = None
        elif getattr(self, "encoder_", None) is not None:
            raise TypeError(
                "this model was fitted on a DataFrame; pass a DataFrame with the same columns"
            )
        _check_X_shape_and_kind(X)
        X = validate_data(
            self, X, reset=reset, accept_sparse=["csr", "csc", "coo"],
            dtype=[np.float64, np.float32], ensure_min_samples=1,
        )
        if reset:
            design = from_sparse(X, groups=groups, dtype=_float_dtype())
            _warn_if_imprecise(design)
            return design
        return self.design_template_.with_rows(X)

    def _design_from_frame(self, X: pd.DataFrame, *, reset: bool) -> Design:
        from bayesfm.data.encoder import FMEncoder

        if not reset and getattr(self, "encoder_", None) is None:
            raise TypeError("this model was fitted on an array; pass an array, not a DataFrame")
        _check_feature_names(self, X, reset=reset)
        _check_n_features(self, X, reset=reset)
        if X.shape[0] == 0:
            raise ValueError("X has 0 rows; at least one row is required")
        if reset:
            self.encoder_ = FMEncoder().fit(X)
        design = self.encoder_.transform(X)
        dtype = _float_dtype() if reset else self.design_template_.values.dtype
        return dataclasses.replace(design, values=design.values.astype(dtype))

    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        raise NotImplementedError

    def _check_sample_weight(self, sample_weight: Any, n_rows: int) -> np.ndarray | None:
        if sample_weight is None:
            return None
        sw = np.asarray(sample_weight)
        if sw.dtype.kind not in "biuf":
            try:
                sw = sw.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(
                    f"sample_weight must be numeric, got dtype {sw.dtype} (first value "
                    f"{sw.ravel()[0].item()!r})"
                ) from None
        sw = sw.astype(np.float64)
        if sw.ndim == 0:
            sw = np.full(n_rows, float(sw))
        if sw.shape != (n_rows,):
            raise ValueError(
                f"sample_weight has shape {sw.shape}, but X has {n_rows} rows"
            )
        check_finite(sw, "sample_weight")
        if np.any(sw < 0):
            row = int(np.argmax(sw < 0))
            raise ValueError(f"sample_weight must be non-negative, got {sw[row]} at row {row}")
        if not np.any(sw > 0):
            raise ValueError("sample_weight is zero for every row")
        return sw

    # -- fitting ---------------------------------------------------------------------------
    def _make_problem(
        self, design: Design, y: np.ndarray, priors: FMPriors, sw: np.ndarray | None
    ) -> FitProblem:
        return FitProblem(design, y, self._likelihood, int(self.rank), priors, sw,
                          model=self.model, degree=int(self.degree))

    def fit(
        self, X: Any, y: Any, *, groups: Any = None, sample_weight: Any = None
    ) -> Self:
        """Draw from the posterior of the FM given ``X`` and ``y``.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame of shape (n_rows, n_features)
            A DataFrame with categorical, string, boolean or list columns is encoded column
            by column (one group per column: one-hot, scaled numeric value, multi-hot; see
            :class:`bayesfm.data.FMEncoder`); an all-numeric DataFrame is used like an array.
        y : array-like of shape (n_rows,)
        groups : array-like of shape (n_features,), optional
            Group (field) of every column of an array or sparse ``X``; default one group.
        sample_weight : array-like of shape (n_rows,), optional
            Non-negative row weights.

        Returns
        -------
        self
        """
        priors = self._validate_params()
        if groups is not None and isinstance(X, pd.DataFrame):
            raise ValueError("groups cannot be given with a DataFrame: columns are the groups")
        design = self._design(X, reset=True, groups=groups)
        y_arr = self._check_y(y, design.n_rows)
        sw = self._check_sample_weight(sample_weight, design.n_rows)
        problem = self._make_problem(design, y_arr, priors, sw)
        rs = check_random_state(self.random_state)
        key = jax.random.key(int(rs.randint(np.iinfo(np.int32).max)))
        progress = auto_progress_bar(self.progress_bar)
        enable_compilation_cache()
        if self.method == "gibbs":
            result = fit_gibbs(
                problem, rng_key=key, num_warmup=self.num_warmup, num_samples=self.num_samples,
                num_chains=self.num_chains, thinning=self.thinning, progress_bar=progress,
                store=self.store, max_kept=self.max_kept,
            )
        elif self.method == "nuts":
            result = run_nuts(
                problem, rng_key=key, num_warmup=self.num_warmup, num_samples=self.num_samples,
                num_chains=self.num_chains, thinning=self.thinning,
                parameterization=self.parameterization, progress_bar=progress,
            )
        else:
            result = run_svi(
                problem, rng_key=key, guide=self.guide, num_steps=self.svi_steps,
                learning_rate=self.learning_rate, batch_size=self.batch_size,
                num_samples=self.num_samples, progress_bar=progress,
            )
        self.idata_ = to_datatree(
            result, problem, log_likelihood=self.log_likelihood,
            attrs={"method": self.method, "estimator": type(self).__name__,
                   "store": self.store},
        )
        self.design_template_ = design.take(np.arange(0))
        if self.method in ("gibbs", "nuts"):
            self.convergence_problems_ = check_convergence(self.idata_)
        else:
            self.convergence_problems_ = []
        release_compiled_programs()  # many fits in one process must not exhaust its mappings
        return self

    # -- prediction ------------------------------------------------------------------------
    def _summaries(self, X: Any, prob: float | None, kind: str) -> Any:
        check_is_fitted(self, "idata_")
        design = self._design(X, reset=False)
        draws = draws_from_datatree(self.idata_, dtype=design.values.dtype)
        return summarize_predictions(
            draws, design.indices, design.values, likelihood=self._likelihood, prob=prob,
            kind=kind, rng_key=jax.random.key(0),
        )

    def predict_interval(self, X: Any, prob: float = 0.9, *, kind: str = "mean") -> np.ndarray:
        """Equal-tailed credible interval of the prediction for every row.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        prob : float, default 0.9
            Posterior mass inside the interval.
        kind : {"mean", "predictive"}
            Regressor only: ``"mean"`` bounds ``E[y | x]``; ``"predictive"`` adds the noise.
            For the classifier the interval is always on the click probability.

        Returns
        -------
        ndarray of shape (n_rows, 2)
            Lower and upper bounds.
        """
        s = self._summaries(X, prob, kind)
        return np.column_stack([s.lower, s.upper])

    def predict_summary(
        self, X: Any, prob: float | None = 0.9, *, kind: str = "mean"
    ) -> PredictiveSummary:
        """Posterior mean, sd and ``prob`` interval of every row's prediction, in one pass.

        The same numbers as :meth:`predict` (or ``predict_proba(X)[:, 1]``), the regressor's
        ``return_std`` and :meth:`predict_interval`, computed together chunk by chunk.

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
        >>> s = fm.predict_summary(X, prob=0.9)  # doctest: +SKIP
        >>> s.mean, s.sd, s.lower, s.upper  # doctest: +SKIP
        """
        return self._summaries(X, prob, kind)

    def predict_draws(self, X: Any) -> np.ndarray:
        """Posterior draws of ``E[y | x]`` (the click probability for the classifier).

        Holds ``(n_draws_total, n_rows)`` floats in memory: for many rows use
        :meth:`predict` and :meth:`predict_interval`, which work chunk by chunk.

        Returns
        -------
        ndarray of shape (n_draws_total, n_rows)
            ``n_draws_total`` is ``num_chains * (num_samples // thinning)``, or with
            ``store="moments"`` the number of kept prediction draws (at most
            ``num_chains * max_kept``).
        """
        check_is_fitted(self, "idata_")
        design = self._design(X, reset=False)
        draws = draws_from_datatree(self.idata_, dtype=design.values.dtype)
        link = inverse_link(self._likelihood)
        rows = chunk_size(int(draws.w0.shape[0]), design.max_nnz, factor_width(draws))
        out = np.empty((int(draws.w0.shape[0]), design.n_rows))
        for sl, eta in eta_chunks(draws, design.indices, design.values, rows):
            out[:, sl] = link(np.asarray(eta, dtype=np.float64))
        return out

    def sample_posterior_predictive(
        self, X: Any, num_draws: int | None = None, random_state: Any = None
    ) -> np.ndarray:
        """Replicated observations for the rows of ``X``: one simulated ``y`` per draw.

        The input of a posterior predictive check (:func:`bayesfm.plots.plot_ppc`): a new
        ``y`` from the likelihood (Gaussian noise with the draw's ``tau``, or a 0/1 click)
        for every posterior draw and row.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        num_draws : int, optional
            Use this many posterior draws, picked at random without replacement; default
            all of them.
        random_state : int, numpy Generator or None
            Seed of the draw choice and of the simulated noise.

        Returns
        -------
        ndarray of shape (num_draws, n_rows)
            float64 values (regressor) or int64 labels 0/1 (classifier).

        Examples
        --------
        >>> y_rep = fm.sample_posterior_predictive(X, num_draws=100)  # doctest: +SKIP
        >>> bayesfm.plots.plot_ppc(y, y_rep)  # doctest: +SKIP
        """
        check_is_fitted(self, "idata_")
        design = self._design(X, reset=False)
        draws = draws_from_datatree(self.idata_, dtype=design.values.dtype)
        total = int(draws.w0.shape[0])
        rng = np.random.default_rng(random_state)
        if num_draws is not None:
            _check_positive_int(num_draws, "num_draws")
            if num_draws > total:
                raise ValueError(f"num_draws={num_draws}, but the fit holds {total} draws")
            keep = np.sort(rng.choice(total, size=num_draws, replace=False))
            draws = subset_draws(draws, keep)
        return posterior_predictive(
            draws, design.indices, design.values, likelihood=self._likelihood, rng=rng
        )

    def predict_idata(self, X: Any) -> xr.DataTree:
        """Return the fit's DataTree plus a ``predictions`` group for the rows of ``X``.

        ``predictions["mu"]`` holds the draws of :meth:`predict_draws` with dims
        ``(chain, draw, pred_obs)``; ``idata_`` itself is left unchanged.
        """
        mu = self.predict_draws(X)
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

        Rows are ``w0``, ``w[feature]``, ``mu_w[group]``, ``lambda_w[group]``, ``tau``,
        ``eta_ref[row]`` (predictions on fixed training rows) and ``log_likelihood``.
        """
        check_is_fitted(self, "idata_")
        return convergence_summary(self.idata_, ci_prob=ci_prob)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the fitted model to one file at ``path`` as JSON plus netCDF, never pickle.

        The write is atomic; read it back with :func:`bayesfm.load`. See
        :func:`bayesfm.persistence.save_model`.

        Examples
        --------
        >>> fm.save("fm.bayesfm")  # doctest: +SKIP
        >>> bayesfm.load("fm.bayesfm").predict(X)  # doctest: +SKIP
        """
        from bayesfm.persistence import save_model

        save_model(self, path)


class BayesianFMRegressor(RegressorMixin, _BaseBayesianFM):
    """Bayesian factorization machine regression (Gaussian likelihood).

    Parameters
    ----------
    rank : int, default 8
        Number of latent factors ``k`` per feature.
    method : {"gibbs", "nuts", "svi"}, default "gibbs"
        Inference engine: exact blocked Gibbs (fast, the default), NUTS (small problems,
        any likelihood) or SVI (approximate, minibatches).
    model : {"fm", "ffm"}, default "fm"
        Plain FM, or field-aware FM (one factor vector per feature and other group, with
        its own Normal-Gamma prior per group, other group and factor); the groups are the
        fields. See :mod:`bayesfm.model_variants`.
    degree : {2, 3}, default 2
        ``3`` adds the order-3 ANOVA kernel over a second factor matrix ``v3`` with its
        own hyperpriors (``model="fm"`` only; every engine, Gibbs with ``store="draws"``).
    num_warmup, num_samples, num_chains, thinning : int
        MCMC settings (``num_samples`` is also the number of draws taken from an SVI guide).
    random_state : int, RandomState or None
        Seed; the same value gives the same draws. ``None`` draws fresh entropy.
    priors : dict, optional
        Overrides of the prior constants ``a0, b0, gamma0, mu0, reg0``
        (:class:`bayesfm.model.FMPriors`).
    parameterization : {"centered", "noncentered"}
        NUTS parameterisation of ``w`` and ``v``.
    guide : {"normal", "lowrank", "map"}
        SVI autoguide.
    svi_steps : int
        Upper bound on SVI steps (early stopping usually ends sooner).
    learning_rate : float
        SVI Adam step size.
    batch_size : int, optional
        SVI minibatch size.
    log_likelihood : bool or "auto"
        Keep the pointwise log likelihood in ``idata_`` (``"auto"``: when under 512 MiB and
        ``store="draws"``).
    progress_bar : bool or None
        ``None``: on in a terminal or notebook.
    store : {"draws", "moments"}, default "draws"
        What the fit keeps (``"moments"``: ``method="gibbs"`` with the plain degree-2 FM
        only). ``"draws"``: every draw
        of every parameter after thinning, ``num_chains * num_samples // thinning * p * k``
        floats for ``v`` alone. ``"moments"``, the mode for large data: draws of ``w0``,
        ``tau``, the hyperparameters, the scores of 20 fixed training rows (``eta_ref``) and
        the log likelihood; running mean and variance of ``w`` and ``v`` over every
        post-warmup sweep (group ``posterior_moments``; ``v``'s are descriptive only, as ``v``
        is identified up to rotation and sign); and at most ``max_kept`` draws per chain of
        ``(w0, w, v, tau)``, evenly spread, which every prediction uses (group
        ``prediction_draws``). Convergence is then judged without ``w``.
    max_kept : int, default 100
        ``store="moments"``: prediction draws kept per chain. A posterior mean from ``S``
        (nearly independent) draws has Monte Carlo sd ``sd_post / sqrt(S)``: 200 draws (two
        chains) put it at 7 % of the posterior sd (0.5 % of the posterior variance), and
        intervals from 200 draws have tail quantiles good to a few percent of their width;
        predictions cost ``S`` scores per row.

    Attributes
    ----------
    idata_ : xarray.DataTree
        Posterior, sample_stats, log_likelihood, observed_data and constant_data.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had column names.
    convergence_problems_ : list of str
        Identifiable quantities whose R-hat or ESS failed the checks (empty if none).

    Examples
    --------
    >>> from bayesfm import BayesianFMRegressor
    >>> from bayesfm.data import simulate_fm
    >>> sim = simulate_fm(n_rows=300, group_sizes=(10, 8), rank=2, seed=0)
    >>> fm = BayesianFMRegressor(rank=2, num_warmup=100, num_samples=100, num_chains=1,
    ...                          random_state=0, progress_bar=False)
    >>> fm = fm.fit(sim.X, sim.y, groups=sim.groups)  # doctest: +SKIP
    >>> fm.predict_interval(sim.X[:2]).shape  # doctest: +SKIP
    (2, 2)
    """

    _likelihood = "gaussian"

    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        y_arr = _numeric(_as_1d(y, n_rows))
        check_finite(y_arr, "y")
        return y_arr

    def predict(self, X: Any, return_std: bool = False) -> Any:
        """Posterior mean of ``E[y | x]`` (and its posterior standard deviation).

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        return_std : bool, default False

        Returns
        -------
        mean : ndarray of shape (n_rows,)
        std : ndarray of shape (n_rows,)
            Only with ``return_std=True``.
        """
        s = self._summaries(X, None, "mean")
        return (s.mean, s.sd) if return_std else s.mean


class BayesianFMClassifier(ClassifierMixin, _BaseBayesianFM):
    """Bayesian factorization machine for binary labels (click-through rate).

    Parameters
    ----------
    rank : int, default 8
    method : {"gibbs", "nuts", "svi"}, default "gibbs"
        ``"gibbs"`` needs ``link="probit"``.
    link : {"probit", "logit"}, default "probit"
        ``P(y = 1 | x) = Phi(eta)`` or ``sigmoid(eta)``.
    model : {"fm", "ffm"}, default "fm"
    degree : {2, 3}, default 2
    **kwargs
        As :class:`BayesianFMRegressor`.

    Attributes
    ----------
    classes_ : ndarray, ``[0, 1]``
    idata_ : xarray.DataTree

    Examples
    --------
    >>> from bayesfm import BayesianFMClassifier
    >>> clf = BayesianFMClassifier(rank=4, link="probit")
    >>> clf.get_params()["link"]
    'probit'
    """

    def __init__(
        self,
        rank: int = 8,
        method: str = "gibbs",
        *,
        link: str = "probit",
        model: str = "fm",
        degree: int = 2,
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
        batch_size: int | None = None,
        log_likelihood: bool | str = "auto",
        progress_bar: bool | None = None,
        store: str = "draws",
        max_kept: int = 100,
    ) -> None:
        super().__init__(
            rank, method, model=model, degree=degree, num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=num_chains, thinning=thinning, random_state=random_state,
            priors=priors, parameterization=parameterization, guide=guide,
            svi_steps=svi_steps, learning_rate=learning_rate, batch_size=batch_size,
            log_likelihood=log_likelihood, progress_bar=progress_bar, store=store,
            max_kept=max_kept,
        )
        self.link = link

    @property
    def _likelihood(self) -> str:  # type: ignore[override]
        if self.link not in ("probit", "logit"):
            raise ValueError(f"unknown link {self.link!r}; valid links: probit, logit")
        return self.link

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        y_arr = _numeric(_as_1d(y, n_rows))
        check_finite(y_arr, "y")
        bad = ~np.isin(y_arr, (0.0, 1.0))
        if bad.any():
            prefix = ""
            if np.unique(y_arr).size > 2:
                prefix = "Only binary classification is supported. "
            raise ValueError(
                f"{prefix}labels must be 0 or 1; found {np.unique(y_arr[bad])[:5].tolist()} "
                f"(first at row {int(np.argmax(bad))})"
            )
        if np.unique(y_arr).size < 2:
            raise ValueError(
                f"y contains one class only ({int(y_arr[0])}); a classifier needs both 0 and 1"
            )
        self.classes_ = np.array([0, 1])
        return y_arr

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior mean of the class probabilities, shape ``(n_rows, 2)``."""
        p1 = self._summaries(X, None, "mean").mean
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X: Any) -> np.ndarray:
        """Most probable label (0 or 1) under the posterior mean probability."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


#: Largest feature value that float32 fits handle without a measurable loss of accuracy.
#: Measured (docs/precision.md): a standard-normal column times 1e4 (values up to 3e4) fits as
#: well as unscaled; times 1e5 and 1e6 the float32 RMSE grows by 20% and 70%, float64's not.
FLOAT32_MAX_ABS_VALUE = 5e4


class PrecisionWarning(UserWarning):
    """The data are such that float32 arithmetic loses accuracy."""


def _float_dtype() -> np.dtype[Any]:
    """float64 when JAX runs in 64-bit mode (``jax_enable_x64``), else float32."""
    return np.dtype(np.float64 if jax.config.jax_enable_x64 else np.float32)


def _warn_if_imprecise(design: Design) -> None:
    """Warn when float32 scores lose accuracy: feature values far from unit scale."""
    if design.values.dtype != np.float32 or design.values.size == 0:
        return
    k = int(np.argmax(np.abs(design.values)))
    big = float(np.abs(design.values.flat[k]))
    if big > FLOAT32_MAX_ABS_VALUE:
        row, slot = np.unravel_index(k, design.values.shape)
        col = int(design.indices[row, slot])
        warnings.warn(
            f"X has values up to {big:.3g} (column {col}, row {int(row)}); FM scores multiply "
            f"pairs of values, and in float32 values beyond {FLOAT32_MAX_ABS_VALUE:g} lose "
            "accuracy: standardise the column, or fit in float64 "
            "(jax.config.update('jax_enable_x64', True))",
            PrecisionWarning,
            stacklevel=4,
        )


def _check_X_shape_and_kind(X: Any) -> None:
    """Errors that name ``X``: wrong number of dimensions, no rows or columns, text values."""
    if sp.issparse(X):
        shape = X.shape
    else:
        arr = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
        if arr.dtype.kind in "USV":
            first = arr.ravel()[0].item()
            raise TypeError(
                f"X must be numeric, got dtype {arr.dtype} (e.g. {first!r}); encode text "
                "columns with a DataFrame (bayesfm.data.FMEncoder)"
            )
        if arr.ndim != 2:
            raise ValueError(
                f"X must be 2-dimensional (rows x features), got shape {arr.shape}. Reshape "
                "your data: a single row is X.reshape(1, -1)"
            )
        shape = arr.shape
    if shape[0] == 0:
        raise ValueError(f"X has 0 rows (shape={shape}); at least one row is required")
    if shape[1] == 0:
        raise ValueError(
            f"X has 0 feature(s) (shape={shape}) while a minimum of 1 is required."
        )


def _as_1d(y: Any, n_rows: int) -> np.ndarray:
    if y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None")
    if isinstance(y, pd.DataFrame | pd.Series):
        y = y.to_numpy()
    if sp.issparse(y):
        raise TypeError("y must be a dense 1-D array, got a sparse matrix")
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = column_or_1d(y_arr, warn=True)
    if y_arr.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {y_arr.shape}")
    if y_arr.shape[0] != n_rows:
        raise ValueError(f"y has {y_arr.shape[0]} values, but X has {n_rows} rows")
    return y_arr


def _all_numeric(df: pd.DataFrame) -> bool:
    """All columns numeric (not bool): such a frame is used like an array, unencoded."""
    return all(
        pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in df.dtypes
    )


def _numeric(y: np.ndarray) -> np.ndarray:
    """Convert ``y`` to float64, or raise naming the first value that is not a number."""
    if y.dtype.kind in "biuf":
        return y.astype(np.float64)
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError):
        first = next((v for v in y if not isinstance(v, numbers.Real)), y[0])
        raise ValueError(
            f"Unknown label type: y must be numeric, got dtype {y.dtype} with value {first!r}"
        ) from None

