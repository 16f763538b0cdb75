"""The likelihood's part of the Gibbs sweep: its latent variables and conjugate parameters.

Given the residual ``e = target - yhat`` and a noise precision, the FM's block updates are the
same for every likelihood (DESIGN section 3). A likelihood adds the step that turns its
observations into a Gaussian target (nothing for the Gaussian, whose ``tau`` has a conjugate
Gamma draw; truncated-normal utilities for probit; cutpoints and utilities for the ordinal
likelihood) and what follows from it (the scores read back from the caches, the total log
likelihood of a draw). Adding a likelihood to the Gibbs engine is one new module in this
package, registered in :data:`LATENTS` by the likelihood's name.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import numpy as np

from bayesfm.engines.gibbs.blocks import GibbsData
from bayesfm.model.likelihoods import Likelihood
from bayesfm.model.priors import FMPriors

__all__ = ["LATENTS", "GibbsLatent", "latent_for", "register_latent"]

#: The Gibbs latent part of every likelihood it samples, by :attr:`Likelihood.name`.
LATENTS: dict[str, type[GibbsLatent]] = {}


def register_latent(cls: type[GibbsLatent]) -> type[GibbsLatent]:
    """Class decorator: the latent part of the likelihood named ``cls.name``."""
    LATENTS[cls.name] = cls
    return cls


@dataclasses.dataclass(frozen=True)
class GibbsLatent:
    """The Gibbs sweep's view of a likelihood. Immutable and hashable (a static argument).

    ``name`` is the likelihood's name, ``sites`` its sites held in the state's ``params``
    (``tau``, ``cutpoints``), ``stats`` the per-draw sampler statistics reported besides the
    sites (``acceptance_rate``), ``scales_itself`` whether :meth:`begin` runs its own move of
    the scores' scale (then the sweep's :func:`~..mixing.score_scale` is skipped).
    """

    likelihood: Likelihood
    name: ClassVar[str] = ""
    sites: ClassVar[tuple[str, ...]] = ()
    stats: ClassVar[tuple[str, ...]] = ()
    scales_itself: ClassVar[bool] = False

    def check(self, data: GibbsData) -> None:
        """Raise ``ValueError`` for data the step cannot handle (e.g. row weights)."""

    def check_weights(self, weight: np.ndarray) -> None:
        """Raise ``ValueError`` unless the step takes these frequency weights (host side)."""
        raise ValueError(
            f"sample_weight with likelihood={self.name!r} is not supported by method='gibbs' "
            "(weighted rows have no exact latent augmentation); use method='nuts' or 'svi'")

    def reweight(self, data: GibbsData, latent: dict[str, jax.Array]) -> GibbsData:
        """Return the data the blocks see after the latent step (per-row precisions as weights).

        The default keeps the frequency weights; a latent with its own per-row precisions
        (Polya-Gamma's ``omega``) returns them as ``weight``, and :meth:`weigh_entries`
        then makes the blocks' ``wvalues`` from them.
        """
        return data

    def weigh_entries(self, data: GibbsData) -> GibbsData:
        """Return the data with the blocks' ``wvalues`` for this sweep's weights.

        Runs on one device's rows (block entries index rows locally). The default keeps
        the frequency weights' ``wvalues``, made once with the blocks.
        """
        return data

    def start_params(self, data: GibbsData) -> dict[str, jax.Array]:
        """Start values of the likelihood's sites (and any FM site it sets, e.g. ``w0``)."""
        return {}

    def start(
        self, data: GibbsData, yhat: jax.Array, num_warmup: jax.Array
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Return the starting residual and latent state given the starting scores."""
        raise NotImplementedError

    def begin(self, state: Any, data: GibbsData, term: Any, priors: FMPriors) -> Any:
        """Run the steps before the FM's blocks that need their own keys (state in, state out)."""
        return state

    def n_uniform(self, n_rows: int) -> int:
        """Uniforms :meth:`augment` takes from the sweep's one noise call."""
        return 0

    def augment(
        self, uniform: jax.Array, e: jax.Array, latent: dict[str, jax.Array], data: GibbsData
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Redraw the latent target given the scores; return the new residual and state."""
        return e, latent

    def precision(self, params: dict[str, jax.Array], latent: dict[str, jax.Array]) -> jax.Array:
        """Noise precision of the Gaussian target the blocks see (1 on a latent scale).

        A latent scale's unit precision is carried in the state (``latent["tau"]``) rather
        than written as a constant: XLA would fold a constant 1 into the block updates and
        fuse their multiply-adds differently, which changes the draws in the last bits.
        """
        return latent["tau"]

    def conjugate(self, params: dict[str, jax.Array], tau_draw: jax.Array) -> dict[str, Any]:
        """Keep ``tau_draw`` (a ``Gamma(a0 + N/2, b0 + SSE/2)`` draw) if ``tau`` is a site."""
        return params

    def yhat(self, state: Any, data: GibbsData) -> jax.Array:
        """Return the current scores, read back from the cached residual."""
        raise NotImplementedError

    def pointwise_log_likelihood(self, state: Any, data: GibbsData) -> jax.Array:
        """Log likelihood of every training row at the current draw, from the caches (O(N))."""
        raise NotImplementedError

    def log_likelihood(self, state: Any, data: GibbsData) -> jax.Array:
        """Total log likelihood of the training rows at the current draw."""
        return self.pointwise_log_likelihood(state, data).sum(-1)

    def stat_values(self, state: Any) -> dict[str, jax.Array]:
        """Values of :attr:`stats` at the current draw."""
        return {}


def latent_for(likelihood: Likelihood) -> GibbsLatent:
    """Return the Gibbs latent part of ``likelihood``, or ``ValueError`` if Gibbs has none.

    Examples
    --------
    >>> from bayesfm.engines.gibbs import latent_for
    >>> from bayesfm.model import get_likelihood
    >>> latent_for(get_likelihood("probit")).name
    'probit'
    """
    cls = LATENTS.get(likelihood.name)
    if cls is None:
        raise ValueError(
            f"method='gibbs' has no exact update for likelihood={likelihood.name!r}; Gibbs "
            f"samples {', '.join(LATENTS)}; use method='nuts' or 'svi'"
        )
    return cls(likelihood)
