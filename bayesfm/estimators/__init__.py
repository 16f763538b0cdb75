"""scikit-learn estimators over the Bayesian FM: the user-facing edge of bayesfm.

One base class (:class:`~bayesfm.estimators.base.BayesianFMBase`) fits and predicts; each
estimator is a thin subclass that chooses its likelihood.
"""

from bayesfm.estimators._validation import PrecisionWarning  # noqa: I001 - registration order is the order users read
from bayesfm.estimators.base import BayesianFMBase
from bayesfm.estimators.regressor import BayesianFMRegressor
from bayesfm.estimators.classifier import BayesianFMClassifier
from bayesfm.estimators.ordinal import BayesianFMOrdinal

__all__ = [
    "BayesianFMBase",
    "BayesianFMClassifier",
    "BayesianFMOrdinal",
    "BayesianFMRegressor",
    "PrecisionWarning",
]
