"""Interaction terms of the FM family, one module each; :func:`get_interaction` resolves them.

Adding an FM variant is one new module here (an :class:`Interaction` subclass decorated with
:func:`register_interaction`, imported below) plus, for the Gibbs engine, its term part in
:mod:`bayesfm.engines.gibbs.terms`.
"""

from bayesfm.model.interactions.base import (  # noqa: I001 - registration order is the order users read
    INTERACTIONS,
    FactorSet,
    Interaction,
    get_interaction,
    register_interaction,
)
from bayesfm.model.interactions.plain import PairwiseFM, fm_linear, fm_pairwise, fm_predict
from bayesfm.model.interactions.field_aware import FieldAwareFM, ffm_pairwise
from bayesfm.model.interactions.degree3 import Degree3FM, anova3

__all__ = [
    "INTERACTIONS",
    "Degree3FM",
    "FactorSet",
    "FieldAwareFM",
    "Interaction",
    "PairwiseFM",
    "anova3",
    "ffm_pairwise",
    "fm_linear",
    "fm_pairwise",
    "fm_predict",
    "get_interaction",
    "register_interaction",
]
