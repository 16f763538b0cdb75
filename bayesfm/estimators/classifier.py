"""Bayesian FM classification of binary labels (click-through rate): probit or logit."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin

from bayesfm.data.design import check_finite
from bayesfm.estimators._validation import as_1d
from bayesfm.estimators.base import BayesianFMBase
from bayesfm.model import Likelihood, get_likelihood
from bayesfm.persistence import register_estimator
from bayesfm.results import class_probabilities

__all__ = ["LINKS", "BayesianFMClassifier"]

#: Links of the binary likelihood (each a likelihood of :mod:`bayesfm.model.likelihoods`).
LINKS = ("probit", "logit")


@register_estimator
class BayesianFMClassifier(ClassifierMixin, BayesianFMBase):
    """Bayesian factorization machine for binary labels (click-through rate).

    Parameters
    ----------
    rank : int, default 8
    method : {"gibbs", "nuts", "svi"}, default "gibbs"
        Gibbs is exact for both links (truncated-normal augmentation for probit,
        Polya-Gamma for logit).
    link : {"probit", "logit"}, default "probit"
        ``P(y = 1 | x) = Phi(eta)`` or ``sigmoid(eta)``.
    model : {"fm", "ffm", "ifm", "cfm"}, default "fm"
    degree : {2, 3}, default 2
    model_options : dict, optional
        As :class:`BayesianFMRegressor`.
    **kwargs
        As :class:`BayesianFMRegressor`.

    Attributes
    ----------
    classes_ : ndarray
        The two labels in sorted order (any two: 0/1, -1/+1, ``"no"``/``"yes"``); the
        second is the positive class whose probability ``predict_proba(X)[:, 1]`` gives.
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
            num_samples=num_samples,
            num_chains=num_chains, thinning=thinning, random_state=random_state,
            priors=priors, parameterization=parameterization, guide=guide,
            svi_steps=svi_steps, learning_rate=learning_rate, batch_size=batch_size,
            log_likelihood=log_likelihood, progress_bar=progress_bar, store=store,
            max_kept=max_kept, moves=moves, devices=devices, categorical=categorical,
            numeric=numeric,
        )
        self.link = link

    def _get_likelihood(self) -> Likelihood:
        if self.link not in LINKS:
            raise ValueError(f"unknown link {self.link!r}; valid links: {', '.join(LINKS)}")
        return get_likelihood(self.link)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def _check_y(self, y: Any, n_rows: int) -> np.ndarray:
        """Code two labels of any kind (0/1, -1/+1, strings) as 0, 1 in sorted order."""
        y_arr = as_1d(y, n_rows)
        if y_arr.dtype.kind in "biuf":
            check_finite(y_arr.astype(np.float64), "y")
        elif y_arr.dtype.kind == "O" and all(isinstance(v, str) for v in y_arr):
            y_arr = y_arr.astype(str)
        try:
            classes, codes = np.unique(y_arr, return_inverse=True)
        except TypeError:
            raise ValueError(
                f"y mixes label types ({sorted({type(v).__name__ for v in y_arr})}); give "
                "two labels of one type"
            ) from None
        if classes.size > 2:
            raise ValueError(
                f"Only binary classification is supported. y has {classes.size} classes "
                f"(first ones: {classes[:5].tolist()}); give two labels"
            )
        if classes.size < 2:
            raise ValueError(
                f"y contains one class only ({classes[0]!r}); a classifier needs two labels"
            )
        self.classes_ = classes
        return codes.astype(np.float64)

    def predict_proba(self, X: Any, *, relations: Any = None) -> np.ndarray:
        """Posterior mean of the class probabilities, shape ``(n_rows, 2)``."""
        draws, design = self._draws(self._join(X, relations))
        return class_probabilities(draws, design.indices, design.values)

    def predict(self, X: Any, *, relations: Any = None) -> np.ndarray:
        """Most probable label (of ``classes_``) under the posterior mean probability."""
        # predict_proba first: it checks fitted before classes_ is read.
        positive = self.predict_proba(X, relations=relations)[:, 1] >= 0.5
        return self.classes_[positive.astype(np.int64)]

    def score(self, X: Any, y: Any, sample_weight: Any = None, *, relations: Any = None
              ) -> float:
        """Accuracy of :meth:`predict` (scikit-learn's ``ClassifierMixin.score``)."""
        from sklearn.metrics import accuracy_score

        return float(accuracy_score(y, self.predict(X, relations=relations),
                                    sample_weight=sample_weight))

    def _decode(self, codes: np.ndarray) -> np.ndarray:
        return self.classes_[codes]
