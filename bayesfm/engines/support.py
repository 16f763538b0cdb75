"""Which likelihood x interaction term x engine x store combinations bayesfm fits.

NUTS and SVI run the one NumPyro model, so they fit every likelihood and term. The Gibbs
engine fits a likelihood that has a latent part (:data:`bayesfm.engines.gibbs.LATENTS`) with
a term that has a term part (:data:`bayesfm.engines.gibbs.TERMS`). The ``"moments"`` store is
the Gibbs engine's. :func:`check_supported` refuses anything else with a message that names
what would work; :func:`support_table` lists every cell (the docs' table is generated from it).
"""

from __future__ import annotations

from typing import NamedTuple

from bayesfm.engines.gibbs import LATENTS, STORES, TERMS
from bayesfm.model import INTERACTIONS, LIKELIHOODS, Interaction, Likelihood

__all__ = ["METHODS", "SupportCell", "check_supported", "support_table", "unsupported_reason"]

#: Engines accepted by the estimators' ``method`` argument.
METHODS = ("gibbs", "nuts", "svi")


def unsupported_reason(
    likelihood: str, interaction: str, method: str, store: str
) -> str | None:
    """Why the combination is not fitted (``None`` when it is).

    Arguments are names: :attr:`Likelihood.name`, :attr:`Interaction.name`, the method and
    the store.
    """
    if method not in METHODS:
        return f"unknown method {method!r}; valid methods: {', '.join(METHODS)}"
    if store not in STORES:
        return f"unknown store {store!r}; valid stores: {', '.join(STORES)}"
    if store == "moments" and method != "gibbs":
        return (f"store='moments' needs method='gibbs' (got method={method!r}); NUTS and SVI "
                "keep every draw")
    if method == "gibbs":
        if likelihood not in LATENTS:
            return (f"method='gibbs' has no exact update for likelihood={likelihood!r}; "
                    f"Gibbs samples the likelihoods {', '.join(LATENTS)}; use method='nuts' "
                    "or 'svi'")
        if interaction not in TERMS:
            return (f"method='gibbs' has no sampler for the {interaction!r} interaction term; "
                    f"Gibbs samples {', '.join(TERMS)}; use method='nuts' or 'svi'")
    return None


def check_supported(
    likelihood: Likelihood, interaction: Interaction, method: str, store: str
) -> None:
    """Raise ``ValueError`` with :func:`unsupported_reason` if the combination is not fitted.

    Examples
    --------
    >>> from bayesfm.engines import check_supported
    >>> from bayesfm.model import get_interaction, get_likelihood
    >>> check_supported(get_likelihood("logit"), get_interaction("ffm"), "gibbs", "moments")
    >>> check_supported(get_likelihood("logit"), get_interaction("fm"), "nuts", "moments")
    Traceback (most recent call last):
    ...
    ValueError: store='moments' needs method='gibbs' (got method='nuts'); ...
    """
    reason = unsupported_reason(likelihood.name, interaction.name, method, store)
    if reason is not None:
        raise ValueError(reason)


class SupportCell(NamedTuple):
    """One cell of the support table."""

    likelihood: str
    interaction: str
    method: str
    store: str
    supported: bool
    reason: str | None


def support_table() -> list[SupportCell]:
    """Every likelihood x interaction term x method x store, and whether bayesfm fits it.

    Examples
    --------
    >>> from bayesfm.engines import support_table
    >>> cells = support_table()
    >>> sum(c.supported for c in cells), len(cells)
    (64, 120)
    """
    terms = [cls.name for cls in INTERACTIONS.values()]
    return [
        SupportCell(lik, term, method, store, reason is None, reason)
        for lik in LIKELIHOODS for term in terms for method in METHODS for store in STORES
        for reason in [unsupported_reason(lik, term, method, store)]
    ]
