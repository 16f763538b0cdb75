"""The ordinal-regression estimator: an ordered probit FM (ratings, Likert answers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from bayesfm.data.design import Design
from bayesfm.engines import FitProblem
from bayesfm.estimators import _as_1d, _BaseBayesianFM
from bayesfm.model import FMPriors
from bayesfm.predict import PredictiveSummary, chunk_size, eta_chunks
from bayesfm.predict_ordinal import OrdinalSummary, summarize_ordinal
from bayesfm.results import draws_from_datatree

__all__ = ["BayesianFMOrdinal"]


class BayesianFMOrdinal(ClassifierMixin, _BaseBayesianFM):
    """Bayesian factorization machine for ordered classes (ordered probit, learned cutpoints).

    ``P(y = c | x) = Phi(cut[c] - eta(x)) - Phi(cut[c-1] - eta(x))`` with the FM score
    ``eta`` of DESIGN section 1 and ``C - 1`` increasing cutpoints, the first fixed at 0 and
    the gaps between them ``HalfNormal(2)`` a priori (see :mod:`bayesfm.cutpoints`). Gibbs
    augments each row with its latent utility and updates the cutpoints by Metropolis steps
    (their acceptance rate is ``idata_.sample_stats["acceptance_rate"]``); NUTS and SVI run
    the NumPyro model.

    Parameters
    ----------
    rank : int, default 8
    method : {"gibbs", "nuts", "svi"}, default "gibbs"
    classes : sequence, optional
        The ordered classes, lowest first (e.g. ``[1, 2, 3, 4, 5]``), so that a class absent
        from the training labels still gets a probability. Default: the distinct labels of
        ``y`` in increasing order, or the categories of an ordered categorical ``y``.
    **kwargs
        As :class:`bayesfm.BayesianFMRegressor` (``sample_weight`` needs NUTS or SVI).

    Attributes
    ----------
    classes_ : ndarray of shape (C,)
        The ordered classes.
    idata_ : xarray.DataTree
        As for the other estimators, plus ``posterior["cutpoints"]`` (dim ``cutpoint``).
    convergence_problems_ : list of str
        R-hat / ESS problems of the identifiable quantities, the free cutpoints included.

    Examples
    --------
    >>> import numpy as np
    >>> from bayesfm import BayesianFMOrdinal
    >>> from bayesfm.data import simulate_fm
    >>> sim = simulate_fm(n_rows=300, group_sizes=(10, 8), rank=2, task="ordinal", seed=0)
    >>> fm = BayesianFMOrdinal(rank=2, num_warmup=100, num_samples=100, random_state=0,
    ...                        progress_bar=False)
    >>> fm = fm.fit(sim.X, sim.y, groups=sim.groups)  # doctest: +SKIP
    >>> fm.predict_proba(sim.X[:2]).shape  # doctest: +SKIP
    (2, 4)
    """

    _likelihood = "ordinal"

    def __init__(
        self,
        rank: int = 8,
        method: str = "gibbs",
        *,
        classes: Any = None,
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
    ) -> None:
        super().__init__(
            rank, method, num_warmup=num_warmup, num_samples=num_samples,
            num_chains=num_chains, thinning=thinning, random_state=random_state,
            priors=priors, parameterization=parameterization, guide=guide,
            svi_steps=svi_steps, learning_rate=learning_rate, batch_size=batch_size,
            log_likelihood=log_likelihood, progress_bar=progress_bar,
        )
        self.classes = classes

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

    # -- labels ----------------------------------------------------------------------------
    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        classes, codes = _ordinal_codes(y, n_rows, self.classes)
        self.classes_ = classes
        return codes.astype(np.float64)

    def _make_problem(
        self, design: Design, y: np.ndarray, priors: FMPriors, sw: np.ndarray | None
    ) -> FitProblem:
        return FitProblem(design, y, "ordinal", int(self.rank), priors, sw,
                          n_classes=len(self.classes_))

    def _class_values(self) -> np.ndarray:
        """Numeric value of every class (positions 0..C-1 for non-numeric categories)."""
        if self.classes_.dtype.kind in "biuf":
            return self.classes_.astype(np.float64)
        return np.arange(len(self.classes_), dtype=np.float64)

    # -- prediction ------------------------------------------------------------------------
    def _ordinal(self, X: Any, prob: float | None, kind: str) -> OrdinalSummary:
        check_is_fitted(self, "idata_")
        design = self._design(X, reset=False)
        draws = draws_from_datatree(self.idata_, dtype=design.values.dtype)
        return summarize_ordinal(draws, design.indices, design.values, self._class_values(),
                                 prob=prob, kind=kind)

    def _summaries(self, X: Any, prob: float | None, kind: str) -> PredictiveSummary:
        return self._ordinal(X, prob, kind).expected

    def predict_proba(self, X: Any) -> np.ndarray:
        """Posterior predictive class probabilities, shape ``(n_rows, C)``, columns ``classes_``.

        Examples
        --------
        >>> fm.predict_proba(X).sum(axis=1)  # doctest: +SKIP
        array([1., 1., ...])
        """
        return self._ordinal(X, None, "mean").proba

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of every row (under the posterior predictive probabilities)."""
        proba = self.predict_proba(X)  # first: it raises NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_expected(self, X: Any, return_std: bool = False) -> Any:
        """Posterior mean of the expected rating ``E[y | x] = sum_c class_c P(y = c | x)``.

        Non-numeric ordered categories count as their positions ``0 .. C-1``.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        return_std : bool, default False
            Also return the posterior standard deviation of ``E[y | x]``.

        Returns
        -------
        mean : ndarray of shape (n_rows,)
        std : ndarray of shape (n_rows,)
            Only with ``return_std=True``.

        Examples
        --------
        >>> rmse = np.sqrt(np.mean((fm.predict_expected(X_test) - y_test) ** 2))  # doctest: +SKIP
        """
        s = self._summaries(X, None, "mean")
        return (s.mean, s.sd) if return_std else s.mean

    def predict_interval(self, X: Any, prob: float = 0.9, *, kind: str = "mean") -> np.ndarray:
        """Equal-tailed interval of the expected rating, or of the rating itself.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        prob : float, default 0.9
        kind : {"mean", "predictive"}
            ``"mean"``: credible interval of ``E[y | x]``; ``"predictive"``: the central
            ``prob`` range of the predicted class values.

        Returns
        -------
        ndarray of shape (n_rows, 2)
        """
        return super().predict_interval(X, prob, kind=kind)

    def predict_draws(self, X: Any) -> np.ndarray:
        """Posterior draws of the expected rating, shape ``(num_chains * num_samples, n_rows)``."""
        from bayesfm.cutpoints import class_probabilities

        check_is_fitted(self, "idata_")
        design = self._design(X, reset=False)
        draws = draws_from_datatree(self.idata_, dtype=design.values.dtype)
        cut = np.asarray(draws.cutpoints, dtype=np.float64)
        values = self._class_values()
        n_draws = int(draws.w0.shape[0])
        rows = chunk_size(n_draws, max(design.max_nnz, len(values)), int(draws.v.shape[-1]))
        out = np.empty((n_draws, design.n_rows))
        for sl, eta in eta_chunks(draws, design.indices, design.values, rows):
            out[:, sl] = class_probabilities(np.asarray(eta, np.float64), cut) @ values
        return out

    def sample_posterior_predictive(
        self, X: Any, num_draws: int | None = None, random_state: Any = None
    ) -> np.ndarray:
        """Replicated labels for the rows of ``X``: one class drawn per posterior draw and row.

        Parameters
        ----------
        X : sparse matrix, array-like or DataFrame
        num_draws : int, optional
            Use this many posterior draws, picked at random without replacement; default all.
        random_state : int, numpy Generator or None
            Seed of the draw choice and of the simulated classes.

        Returns
        -------
        ndarray of shape (num_draws, n_rows)
            Labels from ``classes_``.

        Examples
        --------
        >>> y_rep = fm.sample_posterior_predictive(X, num_draws=100)  # doctest: +SKIP
        """
        from bayesfm.cutpoints import class_probabilities

        check_is_fitted(self, "idata_")
        design = self._design(X, reset=False)
        draws = draws_from_datatree(self.idata_, dtype=design.values.dtype)
        total = int(draws.w0.shape[0])
        rng = np.random.default_rng(random_state)
        keep = np.arange(total)
        if num_draws is not None:
            if isinstance(num_draws, bool) or not isinstance(num_draws, int) or num_draws < 1:
                raise ValueError(f"num_draws must be a positive integer, got {num_draws!r}")
            if num_draws > total:
                raise ValueError(f"num_draws={num_draws}, but the fit holds {total} draws")
            keep = np.sort(rng.choice(total, size=num_draws, replace=False))
            draws = draws._replace(**{k: None if a is None else a[keep]
                                      for k, a in draws._asdict().items()})
        cut = np.asarray(draws.cutpoints, dtype=np.float64)
        rows = chunk_size(len(keep), max(design.max_nnz, len(self.classes_)),
                          int(draws.v.shape[-1]))
        out = np.empty((len(keep), design.n_rows), dtype=np.int64)
        for sl, eta in eta_chunks(draws, design.indices, design.values, rows):
            cdf = np.cumsum(class_probabilities(np.asarray(eta, np.float64), cut), axis=-1)
            u = rng.uniform(size=cdf.shape[:-1])
            out[:, sl] = np.minimum((cdf < u[..., None]).sum(axis=-1), len(self.classes_) - 1)
        return self.classes_[out]

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy of :meth:`predict`; labels outside ``classes_`` raise ``ValueError``."""
        check_is_fitted(self, "idata_")
        _, codes = _ordinal_codes(y, len(y), list(self.classes_))
        pred = np.argmax(self.predict_proba(X), axis=1)
        hit = (pred == codes).astype(np.float64)
        if sample_weight is None:
            return float(hit.mean())
        return float(np.average(hit, weights=np.asarray(sample_weight, dtype=np.float64)))


def _ordinal_codes(y: Any, n_rows: int, classes: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate ordinal labels; return ``(classes_, codes 0..C-1)``."""
    if isinstance(y, pd.Series | pd.Categorical) and isinstance(y.dtype, pd.CategoricalDtype):
        cat = pd.Categorical(y)
        if not cat.ordered:
            raise ValueError(
                "y is an unordered categorical: an ordinal model needs the order of the "
                "classes; pass pd.Categorical(y, categories=[...], ordered=True)"
            )
        if len(cat) != n_rows:
            raise ValueError(f"y has {len(cat)} values, but X has {n_rows} rows")
        bad = cat.codes < 0
        if bad.any():
            raise ValueError(f"y has a missing label at row {int(np.argmax(bad))}")
        cats = np.asarray(cat.categories)
        if classes is not None and not np.array_equal(np.asarray(classes), cats):
            raise ValueError(
                f"classes={list(classes)!r} differ from the categories of y {cats.tolist()!r}"
            )
        labels, class_arr = cats[cat.codes], cats
    else:
        labels = _integer_labels(_as_1d(y, n_rows), "y")
        if classes is None:
            class_arr = np.unique(labels)
        else:
            class_arr = np.asarray(classes)
            if class_arr.dtype.kind in "OUS" or class_arr.ndim != 1:
                raise ValueError(
                    f"classes must be a 1-D sequence of integers for integer labels, got "
                    f"{classes!r}"
                )
            class_arr = _integer_labels(class_arr, "classes")
            if np.any(np.diff(class_arr) <= 0):
                raise ValueError(f"classes must be strictly increasing, got {class_arr.tolist()}")
    if class_arr.size < 2:
        raise ValueError(
            f"an ordinal model needs at least 2 classes, got {class_arr.size} class "
            f"{class_arr.tolist()!r}; pass "
            "classes=[...] to name classes absent from y"
        )
    if class_arr.dtype.kind == "O":
        class_arr = class_arr.astype(str)
    order = {c: i for i, c in enumerate(class_arr.tolist())}
    codes = np.fromiter((order.get(v, -1) for v in labels.tolist()), np.int64, len(labels))
    bad = codes < 0
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"label {labels.tolist()[row]!r} at row {row} is not one of the classes "
            f"{class_arr.tolist()!r}"
        )
    return class_arr, codes


def _integer_labels(y: np.ndarray, name: str) -> np.ndarray:
    """Integer labels, or ``ValueError`` naming the first label that is not an integer."""
    if y.dtype.kind in "biu":
        return y.astype(np.int64)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y) | (y != np.round(y))
    else:
        bad = np.array([isinstance(v, bool) or not isinstance(v, int | np.integer)
                        and not (isinstance(v, float | np.floating) and float(v).is_integer())
                        for v in y.tolist()], dtype=bool)
    if bad.any():
        row = int(np.argmax(bad))
        value = y.tolist()[row]
        kind = "a continuous value " if isinstance(value, float) else ""
        raise ValueError(
            f"{name} must hold integer labels or ordered categories (pd.Categorical with "
            f"ordered=True); got {kind}{value!r} at position {row}"
        )
    return np.asarray(y.tolist(), dtype=np.float64).astype(np.int64)
