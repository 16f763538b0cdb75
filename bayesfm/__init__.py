"""bayesfm: Bayesian factorization machines with honest uncertainty.

The FM is one NumPyro model (:func:`bayesfm.model.fm_model`) with grouped Normal-Gamma
priors, fitted by an exact blocked Gibbs sampler, NUTS or SVI; every fit is an ArviZ DataTree.

Examples
--------
>>> import bayesfm
>>> bayesfm.BayesianFMRegressor(rank=4).get_params()["rank"]
4
"""

from bayesfm._version import __version__
from bayesfm.data.simulate import simulate_fm
from bayesfm.estimators import (
    BayesianFMClassifier,
    BayesianFMOrdinal,
    BayesianFMRegressor,
    PrecisionWarning,
)
from bayesfm.persistence import load
from bayesfm.plots import plot_compare
from bayesfm.results.compare import compare

__all__ = [
    "BayesianFMClassifier",
    "BayesianFMOrdinal",
    "BayesianFMRegressor",
    "PrecisionWarning",
    "__version__",
    "compare",
    "load",
    "plot_compare",
    "simulate_fm",
]
