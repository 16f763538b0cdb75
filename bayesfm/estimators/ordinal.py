"""The ordinal-regression estimator: an ordered probit FM (ratings, Likert answers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from bayesfm.estimators._validation import as_1d
from bayesfm.estimators.base import BayesianFMBase
from bayesfm.model import Likelihood, Ordinal
from bayesfm.persistence import register_estimator
from bayesfm.results import class_probabilities

__all__ = ["BayesianFMOrdinal"]


@register_estimator
class BayesianFMOrdinal(ClassifierMixin, BayesianFMBase):
    """Bayesian factorization machine for ordered classes (ordered probit, learned cutpoints).

    ``P(y = c | x) = Phi(cut[c] - eta(x)) - Phi(cut[c-1] - eta(x))`` with the FM score
    ``eta`` of DESIGN section 1 and ``C - 1`` increasing cutpoints, the first fixed at 0 and
    the gaps between them ``HalfNormal(2)`` a priori (see
    :mod:`bayesfm.model.likelihoods.ordinal`). Gibbs augments each row with its latent
    utility and updates the cutpoints by Metropolis steps (their acceptance rate is
    ``idata_.sample_stats["acceptance_rate"]``), for every model (``"fm"``, ``"ffm"``,
    ``degree=3``) and both stores; NUTS and SVI run the NumPyro model.

    Parameters
    ----------
    rank : int, default 8
    method : {"gibbs", "nuts", "svi"}, default "gibbs"
    classes : sequence, optional
        The ordered classes, lowest first (e.g. ``[1, 2, 3, 4, 5]``), so that a class absent
        from the training labels still gets a probability. Default: the distinct labels of
        ``y`` in increasing order, or the categories of an ordered categorical ``y``.
    model : {"fm", "ffm", "ifm", "cfm"}, default "fm"
    degree : {2, 3}, default 2
    model_options : dict, optional
        As :class:`bayesfm.BayesianFMRegressor`.
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

    def __init__(
        self,
        rank: int = 8,
        method: str = "gibbs",
        *,
        classes: Any = None,
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
        super().__init__(
            rank, method, model=model, degree=degree, model_options=model_options,
            num_warmup=num_warmup,
            num_samples=num_samples, num_chains=num_chains, thinning=thinning,
            random_state=random_state, priors=priors, parameterization=parameterization,
            guide=guide, svi_steps=svi_steps, learning_rate=learning_rate,
            batch_size=batch_size, log_likelihood=log_likelihood, progress_bar=progress_bar,
            store=store, max_kept=max_kept, moves=moves, devices=devices,
            categorical=categorical,
            numeric=numeric,
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

    def _class_values(self) -> np.ndarray:
        """Numeric value of every class (positions 0..C-1 for non-numeric categories)."""
        if self.classes_.dtype.kind in "biuf":
            return self.classes_.astype(np.float64)
        return np.arange(len(self.classes_), dtype=np.float64)

    def _get_likelihood(self) -> Likelihood:
        return Ordinal(n_classes=len(self.classes_),
                       class_values=tuple(float(v) for v in self._class_values()))

    def _decode(self, codes: np.ndarray) -> np.ndarray:
        return self.classes_[codes]

    # -- prediction ------------------------------------------------------------------------
    def predict_proba(self, X: Any, *, relations: Any = None) -> np.ndarray:
        """Posterior predictive class probabilities, shape ``(n_rows, C)``, columns ``classes_``.

        Examples
        --------
        >>> fm.predict_proba(X).sum(axis=1)  # doctest: +SKIP
        array([1., 1., ...])
        """
        draws, design = self._draws(self._join(X, relations))
        return class_probabilities(draws, design.indices, design.values)

    def predict(self, X: Any, *, relations: Any = None) -> np.ndarray:
        """Most probable class of every row (under the posterior predictive probabilities)."""
        proba = self.predict_proba(X, relations=relations)  # first: NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_expected(self, X: Any, return_std: bool = False, *, relations: Any = None
                         ) -> Any:
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
        s = self._summaries(self._join(X, relations), None, "mean")
        return (s.mean, s.sd) if return_std else s.mean

    def score(self, X: Any, y: Any, sample_weight: Any = None, *, relations: Any = None
              ) -> float:
        """Accuracy of :meth:`predict`; labels outside ``classes_`` raise ``ValueError``."""
        check_is_fitted(self, "idata_")
        _, codes = _ordinal_codes(y, len(y), list(self.classes_))
        pred = np.argmax(self.predict_proba(X, relations=relations), axis=1)
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
        labels = _integer_labels(as_1d(y, n_rows), "y")
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
