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
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import jax
import numpy as np

__all__ = [
    "INTERACTIONS",
    "FactorSet",
    "Interaction",
    "NetworkSite",
    "get_interaction",
    "register_interaction",
]

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
class NetworkSite:
    """One weight array of a neural part of an interaction term (IFM's network, CFM's convolutions).

    Its prior is ``Normal(0, 1 / sqrt(lambda[layer] * fan_in))``: one precision per layer
    (the site ``lambda_<net>`` of the term, dim ``<net>_layer``), shared by the layer's
    weights and biases and divided by the number of inputs of a unit (``fan_in``; 1 for a
    bias), so that a unit's pre-activation has the same prior scale whatever the width.

    Attributes
    ----------
    name : str
        Site name (``"fen_w0"``).
    dims : tuple of str
        ArviZ dims of one draw (``("group", "factor", "fen_unit0")``).
    shape : tuple of int
        Shape of one draw.
    layer : int
        Index of the layer's precision in ``lambda_<net>``.
    fan_in : int
        Inputs of one unit of the layer (1 for a bias).
    """

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    layer: int
    fan_in: int


@dataclasses.dataclass(frozen=True)
class Interaction:
    """An interaction term ``t(x)`` of the FM; subclasses set the class attributes.

    A term with options (the IFM's hidden units, the CFM's channels) declares them as
    dataclass fields; :func:`get_interaction` checks them and the DataTree records them
    (:meth:`options`), so a fit is rebuilt with the same term.
    """

    name: ClassVar[str] = ""
    model: ClassVar[str] = ""
    degree: ClassVar[int] = 2
    factor_sets: ClassVar[tuple[FactorSet, ...]] = ()
    #: Name of the neural part's sites (``"fen"``: ``fen_w0 .. ``, ``lambda_fen``), or "".
    network: ClassVar[str] = ""
    #: The score is linear in every single parameter (plain, field-aware, degree 3): the
    #: expectation over an unseen level's independent draws is the score at their means.
    multilinear: ClassVar[bool] = True

    def score(
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array, *, n_groups: int | None = None,
    ) -> jax.Array:
        """``t(x_n)`` of padded rows ``(N, L)`` from one draw of the term's parameters.

        ``n_groups`` (static) is the number of groups ``G``; terms that need it (IFM, CFM)
        require it, the others ignore it.
        """
        raise NotImplementedError

    def row_values(
        self, params: Mapping[str, jax.Array], indices: jax.Array, values: jax.Array,
        group_of_feature: jax.Array, *, n_groups: int | None = None,
    ) -> jax.Array:
        """Return the feature values the whole score sees, linear term included: ``x`` itself.

        The input-aware FM overrides it with ``m_n(g(i)) x_ni``.
        """
        return values

    def network_sites(self, n_groups: int, rank: int) -> tuple[NetworkSite, ...]:
        """Return the weight arrays of the neural part at ``G`` groups, rank ``k`` (none here)."""
        return ()

    def activations_per_row(self, n_groups: int, rank: int) -> int:
        """Return the floats a neural part holds per row while scoring (0 without one)."""
        return 0

    def n_layers(self, n_groups: int, rank: int) -> int:
        """Return the number of layers of the neural part (the size of ``lambda_<network>``)."""
        sites = self.network_sites(n_groups, rank)
        return 1 + max(s.layer for s in sites) if sites else 0

    def network_names(self, n_groups: int, rank: int) -> tuple[str, ...]:
        """Return the site names of the neural part's weights (the CFM's depend on the sizes)."""
        return tuple(s.name for s in self.network_sites(n_groups, rank))

    def score_sites(self, n_groups: int, rank: int) -> tuple[str, ...]:
        """Return the sites a score needs besides ``w0`` and ``w``: factors, network weights."""
        return (*self.factor_names, *self.network_names(n_groups, rank))

    def options(self) -> dict[str, Any]:
        """Return the term's options as JSON values (``{}`` for terms without options)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def check_rows(self, indices: np.ndarray, values: np.ndarray,
                   group_of_feature: np.ndarray, group_names: Sequence[str]) -> None:
        """Raise ``ValueError`` if the term cannot score these rows (all rows pass by default)."""

    @property
    def factor_names(self) -> tuple[str, ...]:
        """Site names of the factor matrices."""
        return tuple(fs.name for fs in self.factor_sets)

    def site_dims(self, n_groups: int = 2, rank: int = 2) -> dict[str, list[str]]:
        """ArviZ dims (after ``chain, draw``) of every site of the term.

        The sizes matter only to a neural part whose layers depend on them (the CFM's).
        """
        out: dict[str, list[str]] = {}
        for fs in self.factor_sets:
            out[fs.name] = ["feature", *fs.dims]
            out[f"mu_{fs.name}"] = ["group", *fs.dims]
            out[f"lambda_{fs.name}"] = ["group", *fs.dims]
        if self.network:
            out[f"lambda_{self.network}"] = [f"{self.network}_layer"]
            for site in self.network_sites(n_groups, rank):
                out[site.name] = list(site.dims)
        return out

    def site_shapes(self, n_features: int, n_groups: int, rank: int) -> dict[str, tuple[int, ...]]:
        """Shape of every site of the term for one draw."""
        out: dict[str, tuple[int, ...]] = {}
        for fs in self.factor_sets:
            event = fs.event_shape(n_groups, rank)
            out[fs.name] = (n_features, *event)
            out[f"mu_{fs.name}"] = out[f"lambda_{fs.name}"] = (n_groups, *event)
        if self.network:
            out[f"lambda_{self.network}"] = (self.n_layers(n_groups, rank),)
            for site in self.network_sites(n_groups, rank):
                out[site.name] = site.shape
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


def get_interaction(
    model: str | Interaction = "fm", degree: int = 2, options: Mapping[str, Any] | None = None,
) -> Interaction:
    """Return the interaction term of ``model`` at ``degree`` (checked against the closed set).

    ``options`` are the term's own settings (``{"hidden_units": [16], "temperature": 1.0}``
    for ``model="ifm"``), each checked by the term; a model without options takes none.

    Examples
    --------
    >>> from bayesfm.model import get_interaction
    >>> get_interaction("ffm").factor_sets[0].dims
    ('other_group', 'factor')
    >>> get_interaction("ffm", 3)
    Traceback (most recent call last):
    ...
    ValueError: degree=3 is implemented for model='fm' only, got model='ffm'
    >>> get_interaction("fm", options={"temperature": 2.0})
    Traceback (most recent call last):
    ...
    ValueError: model='fm' takes no model_options, got ['temperature']
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
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"model_options must be a dict of the model's options, got "
                        f"{options!r} ({type(options).__name__})")
    given = dict(options or {})
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(given) - set(valid))
    if unknown and not valid:
        raise ValueError(f"model={model!r} takes no model_options, got {unknown}")
    if unknown:
        raise ValueError(f"unknown model_options {unknown} for model={model!r}; valid: "
                         f"{', '.join(valid)}")
    return cls(**given)
