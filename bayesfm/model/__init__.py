"""The model layer: priors, likelihoods, interaction terms and the one NumPyro model.

- :mod:`bayesfm.model.priors`: :class:`FMPriors`, the Normal-Gamma hierarchy;
- :mod:`bayesfm.model.likelihoods`: :class:`Gaussian`, :class:`Probit`, :class:`Logit`,
  :class:`Ordinal` (by name: :func:`get_likelihood`);
- :mod:`bayesfm.model.interactions`: :class:`PairwiseFM`, :class:`FieldAwareFM`,
  :class:`Degree3FM`, :class:`InputAwareFM`, :class:`ConvolutionalFM` (by model, degree
  and options: :func:`get_interaction`);
- :mod:`bayesfm.model.fm`: :func:`fm_model`, built from one of each.
"""

from bayesfm.model.fm import fm_model, fm_score, pointwise_log_likelihood
from bayesfm.model.interactions import (
    INTERACTIONS,
    ConvolutionalFM,
    Degree3FM,
    FactorSet,
    FieldAwareFM,
    InputAwareFM,
    Interaction,
    NetworkSite,
    PairwiseFM,
    anova3,
    ffm_pairwise,
    fm_linear,
    fm_pairwise,
    fm_predict,
    get_interaction,
)
from bayesfm.model.likelihoods import (
    LIKELIHOODS,
    Binary,
    Gaussian,
    Likelihood,
    Logit,
    Ordinal,
    Probit,
    get_likelihood,
    probit_logits,
)
from bayesfm.model.priors import PARAMETERIZATIONS, FMPriors

__all__ = [
    "INTERACTIONS",
    "LIKELIHOODS",
    "PARAMETERIZATIONS",
    "Binary",
    "ConvolutionalFM",
    "Degree3FM",
    "FMPriors",
    "FactorSet",
    "FieldAwareFM",
    "Gaussian",
    "InputAwareFM",
    "Interaction",
    "Likelihood",
    "Logit",
    "NetworkSite",
    "Ordinal",
    "PairwiseFM",
    "Probit",
    "anova3",
    "ffm_pairwise",
    "fm_linear",
    "fm_model",
    "fm_pairwise",
    "fm_predict",
    "fm_score",
    "get_interaction",
    "get_likelihood",
    "pointwise_log_likelihood",
    "probit_logits",
]
