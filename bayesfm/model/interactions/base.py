"""What an interaction term is to bayesfm: its factor matrices, their shapes, dims and score.

The FM score is ``eta_n = w0 + sum_i w_i x_ni + t(x_n)``; the interaction term ``t`` is a
function of one or more factor matrices (``v``, and ``v3`` for the degree-3 FM), each with a
Normal-Gamma prior per group and per event index (:mod:`bayesfm.model.priors`). An
:class:`Interaction` names those matrices (:class:`FactorSet`), gives their shapes and the
ArviZ dims of their sites, and computes ``t``: no code anywhere guesses the variant from the
shapes of the arrays. The Gibbs engine's per-term part (caches, ``h`` of a column, moves)
lives in :mod:`bayesfm.engines.gibbs.terms` and is looked up by :attr:`Interaction.name`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar

import jax

__all__ = ["INTERACTIONS", "FactorSet", "Interaction", "get_interaction", "register_interaction"]

#: Every interaction term by ``(model, degree)``, the estimators' arguments.
INTERACTIONS: dict[tuple[str, int], type[Interaction]] = {}


def register_interaction(cls: type[Interaction]) -> type[Interaction]:
    """Class decorator: make ``cls`` reachable by its ``(model, degree)``."""
    INTERACTIONS[(cls.model, cls.degree)] = cls
    return cls


@dataclasses.dataclass(frozen=True)
class FactorSet:
    """One factor matrix of an interaction term.

    Attributes
    ----------
    name : str
        Site name (``"v"``); its hyperparameters are ``mu_<name>`` and ``lambda_<name>``.
    dims : tuple of str
        Event dims after ``feature`` (``("factor",)``, or ``("other_group", "factor")`` for
        the field-aware FM); the hyperparameters have ``group`` then these dims.
    order : int
        The interaction term is homogeneous of this degree in the matrix (2 for ``v``, 3 for
        the order-3 term's ``v3``): scaling it by ``s ** (1 / order)`` scales its part of the
        score by ``s``.
    """

    name: str
    dims: tuple[str, ...]
    order: int

    def event_shape(self, n_groups: int, rank: int) -> tuple[int, ...]:
        """Shape of one feature's entry: ``(k,)`` or ``(G, k)``."""
        sizes = {"factor": rank, "other_group": n_groups}
        return tuple(sizes[d] for d in self.dims)


@dataclasses.dataclass(frozen=True)
class Interaction:
    """An interaction term ``t(x)`` of the FM; subclasses set the class attributes."""

    name: ClassVar[str] = ""
    model: ClassVar[str] = ""
    degree: ClassVar[int] = 2
    factor_sets: ClassVar[tuple[FactorSet, ...]] = ()

    def score(
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array,
    ) -> jax.Array:
        """``t(x_n)`` of padded rows ``(N, L)`` from one draw of the factor matrices."""
        raise NotImplementedError

    @property
    def factor_names(self) -> tuple[str, ...]:
        """Site names of the factor matrices."""
        return tuple(fs.name for fs in self.factor_sets)

    def site_dims(self) -> dict[str, list[str]]:
        """ArviZ dims (after ``chain, draw``) of every site of the term."""
        out: dict[str, list[str]] = {}
        for fs in self.factor_sets:
            out[fs.name] = ["feature", *fs.dims]
            out[f"mu_{fs.name}"] = ["group", *fs.dims]
            out[f"lambda_{fs.name}"] = ["group", *fs.dims]
        return out

    def site_shapes(self, n_features: int, n_groups: int, rank: int) -> dict[str, tuple[int, ...]]:
        """Shape of every site of the term for one draw."""
        out: dict[str, tuple[int, ...]] = {}
        for fs in self.factor_sets:
            event = fs.event_shape(n_groups, rank)
            out[fs.name] = (n_features, *event)
            out[f"mu_{fs.name}"] = out[f"lambda_{fs.name}"] = (n_groups, *event)
        return out

    def gather_width(self, n_groups: int, rank: int) -> int:
        """Factor values gathered per stored entry and draw (the memory of a prediction)."""
        total = 0
        for fs in self.factor_sets:
            n = 1
            for s in fs.event_shape(n_groups, rank):
                n *= s
            total += n
        return total


def get_interaction(model: str | Interaction = "fm", degree: int = 2) -> Interaction:
    """Return the interaction term of ``model`` at ``degree`` (checked against the closed set).

    Examples
    --------
    >>> from bayesfm.model import get_interaction
    >>> get_interaction("ffm").factor_sets[0].dims
    ('other_group', 'factor')
    >>> get_interaction("ffm", 3)
    Traceback (most recent call last):
    ...
    ValueError: degree=3 is implemented for model='fm' only, got model='ffm'
    """
    if isinstance(model, Interaction):
        return model
    models = sorted({m for m, _ in INTERACTIONS}, key=lambda m: (m != "fm", m))
    degrees = tuple(sorted({d for _, d in INTERACTIONS}))
    if not isinstance(model, str) or model not in models:
        raise ValueError(f"unknown model {model!r}; valid models: {', '.join(models)}")
    if isinstance(degree, bool) or degree not in degrees:
        raise ValueError(f"degree must be one of {degrees}, got {degree!r}")
    cls = INTERACTIONS.get((model, int(degree)))
    if cls is None:
        have = sorted(m for m, d in INTERACTIONS if d == degree)
        raise ValueError(
            f"degree={degree} is implemented for model="
            f"{' or '.join(repr(m) for m in have)} only, got model={model!r}"
        )
    return cls()
