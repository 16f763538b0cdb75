"""Bayesian FM regression: the Gaussian likelihood."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin

from bayesfm.data.design import check_finite
from bayesfm.estimators._validation import as_1d, numeric_labels
from bayesfm.estimators.base import BayesianFMBase
from bayesfm.model import Gaussian, Likelihood
from bayesfm.persistence import register_estimator

__all__ = ["BayesianFMRegressor"]


@register_estimator
class BayesianFMRegressor(RegressorMixin, BayesianFMBase):
    """Bayesian factorization machine regression (Gaussian likelihood).

    Parameters
    ----------
    rank : int, default 8
        Number of latent factors ``k`` per feature.
    method : {"gibbs", "nuts", "svi"}, default "gibbs"
        Inference engine: exact blocked Gibbs (fast, the default), NUTS (small problems,
        any likelihood) or SVI (approximate, minibatches).
    model : {"fm", "ffm", "ifm", "cfm"}, default "fm"
        Plain FM, or field-aware FM (one factor vector per feature and other group, with
        its own Normal-Gamma prior per group, other group and factor); the groups are the
        fields. ``"ifm"``: input-aware FM (a factor-estimating network rescales each row's
        fields); ``"cfm"``: convolutional FM (3D convolutions over the cube of field-pair
        outer products; one-hot fields only). Both need ``method="nuts"`` or ``"svi"``.
        See :mod:`bayesfm.model.interactions`.
    degree : {2, 3}, default 2
        ``3`` adds the order-3 ANOVA kernel over a second factor matrix ``v3`` with its
        own hyperpriors (``model="fm"`` only; every engine).
    model_options : dict, optional
        Options of the model's neural part: ``model="ifm"`` ``hidden_units`` (list of
        layer widths, default ``[16]``) and ``temperature`` (softmax temperature, default
        1.0); ``model="cfm"`` ``channels`` (default 4). Other models take none.
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
    batch_size : int, "auto" or None, default "auto"
        SVI minibatch size; ``None``: every row at every step; ``"auto"``: every row up
        to 8,192 rows, above that 4,096 rows per step (fewer for a CFM, whose activations
        per row are large; :func:`bayesfm.engines.svi.auto_batch_size`).
    log_likelihood : bool or "auto"
        Keep the pointwise log likelihood in ``idata_`` (``"auto"``: when under 512 MiB and
        ``store="draws"``).
    progress_bar : bool or None
        ``None``: on in a terminal or notebook.
    store : {"draws", "moments"}, default "draws"
        What the fit keeps (``"moments"``: ``method="gibbs"``, every model). ``"draws"``: every
        draw
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
    moves : {"none", "groups", "scale", "means", "all"}, default "none"
        ``method="gibbs"``: exact mixing moves added to every sweep
        (:mod:`bayesfm.engines.gibbs.mixing`): ``"groups"`` moves each group's weights or
        factors with their mean and precision along the prior's scale line (an interweaving
        step against the slow hyperparameters), ``"scale"`` multiplies every score by a
        common factor (the latent-scale direction of probit and logit; the ordinal sampler
        has its own), ``"means"`` moves each complete one-hot group's factor means against
        the intercept and the other groups' weights (a shear that keeps every score; the
        slow direction of click data), ``"all"`` all three. Each leaves the posterior
        unchanged (simulation-based calibration in
        ``tests/engines/gibbs/test_calibration.py``); see the user guide's page on mixing
        for when they help.
    devices : int, optional
        ``method="gibbs"`` or ``"svi"``: the number of devices the training rows are split
        over (the user guide's page "Scaling out"); default every device JAX sees (one CPU,
        unless ``XLA_FLAGS=--xla_force_host_platform_device_count=N``; every GPU; every
        process's under ``jax.distributed``). The draws do not depend on it beyond the
        rounding of the sums over rows. ``idata_.attrs`` record ``num_devices`` and
        ``num_processes``.
    categorical, numeric : list of str, optional
        DataFrame columns to one-hot encode, and to encode as one scaled number, whatever
        their dtype (:class:`bayesfm.data.FMEncoder`). Integer ID columns (``user``,
        ``item``) are numbers by dtype: declare them ``categorical``; an undeclared integer
        column with more than 20 distinct values warns
        (:class:`bayesfm.data.IntegerColumnWarning`). Levels unseen at fit time get a weight
        and factors drawn per posterior draw from their field's prior, with an
        :class:`~bayesfm.data.UnseenLevelWarning` naming the fields.

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

    def _get_likelihood(self) -> Likelihood:
        return Gaussian()

    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        y_arr = numeric_labels(as_1d(y, n_rows))
        check_finite(y_arr, "y")
        return y_arr

    def predict(self, X: Any, return_std: bool = False, *, relations: Any = None) -> Any:
        """Posterior mean of ``E[y | x]`` (and its posterior standard deviation).

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        return_std : bool, default False
        relations : sequence of Relation, optional
            The rows' relation blocks, for a model fitted with ``relations=``.

        Returns
        -------
        mean : ndarray of shape (n_rows,)
        std : ndarray of shape (n_rows,)
            Only with ``return_std=True``.
        """
        s = self._summaries(self._join(X, relations), None, "mean")
        return (s.mean, s.sd) if return_std else s.mean

    def score(self, X: Any, y: Any, sample_weight: Any = None, *, relations: Any = None
              ) -> float:
        """R^2 of :meth:`predict` (scikit-learn's ``RegressorMixin.score``, with relations)."""
        from sklearn.metrics import r2_score

        return float(r2_score(y, self.predict(X, relations=relations),
                              sample_weight=sample_weight))
