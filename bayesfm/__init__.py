"""bayesfm: Bayesian factorization machines with honest uncertainty."""

from bayesfm._version import __version__

__all__ = ["__version__"]
