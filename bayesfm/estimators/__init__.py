"""scikit-learn estimators over the Bayesian FM: the user-facing edge of bayesfm.

One base class (:class:`~bayesfm.estimators.base.BayesianFMBase`) fits and predicts; each
estimator is a thin subclass that chooses its likelihood.
"""

from bayesfm.estimators._validation import PrecisionWarning
from bayesfm.estimators.base import BayesianFMBase
from bayesfm.estimators.classifier import BayesianFMClassifier
from bayesfm.estimators.ordinal import BayesianFMOrdinal
from bayesfm.estimators.regressor import BayesianFMRegressor

__all__ = [
    "BayesianFMBase",
    "BayesianFMClassifier",
    "BayesianFMOrdinal",
    "BayesianFMRegressor",
    "PrecisionWarning",
]
