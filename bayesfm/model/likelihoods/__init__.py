"""Likelihoods of the FM, one module each; :func:`get_likelihood` resolves a name.

Adding a likelihood is one new module here (a :class:`Likelihood` subclass decorated with
:func:`register_likelihood`, imported below) plus, for the Gibbs engine, its latent step in
:mod:`bayesfm.engines.gibbs.latents`.
"""

from bayesfm.model.likelihoods.base import (  # noqa: I001 - registration order is the order users read
    LIKELIHOODS,
    Likelihood,
    get_likelihood,
    register_likelihood,
)
from bayesfm.model.likelihoods.gaussian import Gaussian
from bayesfm.model.likelihoods.binary import Binary, Logit, Probit, probit_logits
from bayesfm.model.likelihoods.ordinal import (
    CUTPOINT_GAP_SCALE,
    OrderedProbit,
    Ordinal,
    class_probabilities,
    cutpoint_log_prior,
    interval_log_prob,
    ordinal_log_prob,
    sample_cutpoints,
)

__all__ = [
    "CUTPOINT_GAP_SCALE",
    "LIKELIHOODS",
    "Binary",
    "Gaussian",
    "Likelihood",
    "Logit",
    "OrderedProbit",
    "Ordinal",
    "Probit",
    "class_probabilities",
    "cutpoint_log_prior",
    "get_likelihood",
    "interval_log_prob",
    "ordinal_log_prob",
    "probit_logits",
    "register_likelihood",
    "sample_cutpoints",
]
