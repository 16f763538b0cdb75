"""Latent-variable steps of the Gibbs sweep, one module per likelihood (see :mod:`.base`)."""

from bayesfm.engines.gibbs.latents.base import LATENTS, GibbsLatent, latent_for, register_latent  # noqa: I001 - registration order is the order users read
from bayesfm.engines.gibbs.latents.gaussian import GaussianLatent
from bayesfm.engines.gibbs.latents.probit import ProbitLatent
from bayesfm.engines.gibbs.latents.logit import LogitLatent
from bayesfm.engines.gibbs.latents.ordinal import OrdinalLatent

__all__ = ["LATENTS", "GaussianLatent", "GibbsLatent", "LogitLatent", "OrdinalLatent",
           "ProbitLatent", "latent_for", "register_latent"]
