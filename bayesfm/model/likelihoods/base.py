"""What a likelihood is to bayesfm: one object that owns its part of the model and predictions.

A likelihood (Bambi's ``Family``, scikit-learn's loss with its link) turns the FM score
``eta`` (the latent mean, before any link) into a distribution of ``y``. The NumPyro model
asks it for its extra sites and its observation distribution; predictions ask it for the mean
of ``y``, its class probabilities and replicated draws; results ask it for the pointwise log
likelihood. The engines' latent-variable steps (the Gibbs engine's augmentation) live in the
engines and are looked up by :attr:`Likelihood.name`.

Every method takes ``eta`` of shape ``(..., n)`` and ``params``, a mapping of the
likelihood's own sites (``tau``, ``cutpoints``, ...) whose leading dims are those of ``eta``
without the row axis (posterior draws), or none at all (inside the model).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import jax
import numpy as np
import numpyro.distributions as dist

from bayesfm.model.priors import FMPriors

__all__ = ["LIKELIHOODS", "Likelihood", "get_likelihood", "register_likelihood"]

#: Every likelihood by name (the estimators' and the model's ``likelihood`` argument).
LIKELIHOODS: dict[str, type[Likelihood]] = {}


def register_likelihood(cls: type[Likelihood]) -> type[Likelihood]:
    """Class decorator: make ``cls`` reachable by its ``name`` (see :func:`get_likelihood`)."""
    LIKELIHOODS[cls.name] = cls
    return cls


@dataclasses.dataclass(frozen=True)
class Likelihood:
    """Observation model ``p(y | eta, params)``; subclasses set the class attributes.

    Instances are immutable and hashable, so they can be static arguments of jitted code.

    Attributes
    ----------
    name : str
        The closed-set name users pass (``"gaussian"``, ``"probit"``, ...).
    task : str
        ``"regression"``, ``"binary"`` or ``"ordinal"``.
    sites : tuple of str
        Model sites the likelihood adds that results report (``tau``, ``cutpoints``; the
        ordinal model's ``cut_gaps`` are an internal parameterisation).
    prediction_sites : tuple of str
        The sites a prediction needs besides the FM's own parameters.
    """

    name: ClassVar[str] = ""
    task: ClassVar[str] = ""
    sites: ClassVar[tuple[str, ...]] = ()
    prediction_sites: ClassVar[tuple[str, ...]] = ()

    # -- the model --------------------------------------------------------------------------
    def sample_sites(self, priors: FMPriors) -> dict[str, jax.Array]:
        """Sample the likelihood's own sites (NumPyro statements); return their values."""
        return {}

    def distribution(self, eta: jax.Array, params: Mapping[str, Any]) -> dist.Distribution:
        """Distribution of ``y`` given the scores (NumPyro)."""
        raise NotImplementedError

    def log_prob(self, y: jax.Array, eta: jax.Array, params: Mapping[str, Any]) -> jax.Array:
        """Pointwise ``log p(y_n | eta_n, params)``, shape of ``eta`` (JAX)."""
        return self.distribution(eta, params).log_prob(y)

    # -- predictions (NumPy, float64, on the host) ----------------------------------------
    def mean(self, eta: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """``E[y | x]`` per draw and row: the quantity credible intervals summarise."""
        raise NotImplementedError

    def sample(
        self, rng: np.random.Generator, eta: np.ndarray, params: Mapping[str, np.ndarray]
    ) -> np.ndarray:
        """One replicated ``y`` per draw and row (posterior predictive)."""
        raise NotImplementedError


def get_likelihood(name: str | Likelihood, **options: Any) -> Likelihood:
    """Return the likelihood object named ``name`` (checked against the closed set).

    Parameters
    ----------
    name : str or Likelihood
        A name from :data:`LIKELIHOODS`; a :class:`Likelihood` is returned as it is.
    **options
        Arguments of the likelihood's class (``n_classes`` for ``"ordinal"``); options the
        class does not take are ignored only when they are ``None``.

    Examples
    --------
    >>> from bayesfm.model import get_likelihood
    >>> get_likelihood("probit").task
    'binary'
    >>> get_likelihood("poisson")
    Traceback (most recent call last):
    ...
    ValueError: unknown likelihood 'poisson'; valid: gaussian, probit, logit, ordinal
    """
    if isinstance(name, Likelihood):
        return name
    cls = LIKELIHOODS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown likelihood {name!r}; valid: {', '.join(LIKELIHOODS)}")
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(k for k, v in options.items() if k not in fields and v is not None)
    if unknown:
        raise ValueError(f"likelihood {name!r} takes no option {', '.join(unknown)}")
    return cls(**{k: v for k, v in options.items() if k in fields})
