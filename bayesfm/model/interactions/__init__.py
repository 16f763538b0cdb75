"""Interaction terms of the FM family, one module each; :func:`get_interaction` resolves them.

Adding an FM variant is one new module here (an :class:`Interaction` subclass decorated with
:func:`register_interaction`, imported below) plus, for the Gibbs engine, its term part in
:mod:`bayesfm.engines.gibbs.terms`.
"""

from bayesfm.model.interactions.base import (  # noqa: I001 - registration order is the order users read
    INTERACTIONS,
    FactorSet,
    Interaction,
    NetworkSite,
    get_interaction,
    register_interaction,
)
from bayesfm.model.interactions.plain import PairwiseFM, fm_linear, fm_pairwise, fm_predict
from bayesfm.model.interactions.field_aware import FieldAwareFM, ffm_pairwise
from bayesfm.model.interactions.degree3 import Degree3FM, anova3
from bayesfm.model.interactions.input_aware import InputAwareFM, field_embeddings, ifm_factors
from bayesfm.model.interactions.convolutional import ConvolutionalFM, cfm_cube

__all__ = [
    "INTERACTIONS",
    "ConvolutionalFM",
    "Degree3FM",
    "FactorSet",
    "FieldAwareFM",
    "InputAwareFM",
    "Interaction",
    "NetworkSite",
    "PairwiseFM",
    "anova3",
    "cfm_cube",
    "ffm_pairwise",
    "field_embeddings",
    "fm_linear",
    "fm_pairwise",
    "fm_predict",
    "get_interaction",
    "ifm_factors",
    "register_interaction",
]
