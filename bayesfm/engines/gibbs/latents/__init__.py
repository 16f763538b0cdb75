"""Latent-variable steps of the Gibbs sweep, one module per likelihood (see :mod:`.base`)."""

from bayesfm.engines.gibbs.latents.base import LATENTS, GibbsLatent, latent_for, register_latent
from bayesfm.engines.gibbs.latents.gaussian import GaussianLatent
from bayesfm.engines.gibbs.latents.ordinal import OrdinalLatent
from bayesfm.engines.gibbs.latents.probit import ProbitLatent  # noqa: I001

__all__ = [
    "LATENTS",
    "GaussianLatent",
    "GibbsLatent",
    "OrdinalLatent",
    "ProbitLatent",
    "latent_for",
    "register_latent",
]
