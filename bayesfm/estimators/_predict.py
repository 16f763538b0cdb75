"""The draws an estimator predicts with: its posterior plus unseen levels from the group prior."""

from __future__ import annotations

import dataclasses
from typing import Any

from sklearn.utils.validation import check_is_fitted

from bayesfm.data.design import Design
from bayesfm.data.unseen import unseen_levels, warn_unseen
from bayesfm.estimators._relations import Joined, compress_draws, compressible
from bayesfm.results import (
    PosteriorDraws,
    PredictiveSummary,
    draws_from_datatree,
    group_prior_draws,
    summarize_predictions,
    with_unseen_levels,
)

__all__ = ["draws_for", "summaries_for"]


def draws_for(est: Any, X: Any, *, at_prior_means: bool = False) -> tuple[PosteriorDraws, Design]:
    """Return the draws that predict ``X`` and its design.

    Rows of a DataFrame with categories unseen at fit time get one new feature per new level,
    drawn per posterior draw from its group's prior (or, ``at_prior_means``, put at the prior
    mean); the first call warns (:class:`~bayesfm.data.UnseenLevelWarning`).
    """
    check_is_fitted(est, "idata_")
    if isinstance(X, Joined):  # relation blocks: exact scores without materialised rows
        draws = draws_from_datatree(est.idata_, dtype=X.template.values.dtype,
                                    likelihood=est._get_likelihood())
        if compressible(draws.interaction):
            return compress_draws(draws, X), X.compressed()
        return draws, X.materialised()
    design = est._design(X, reset=False)
    draws = draws_from_datatree(est.idata_, dtype=design.values.dtype,
                                likelihood=est._get_likelihood())
    draws.interaction.check_rows(design.indices, design.values, design.group_of_feature,
                                 design.group_names)
    encoder = getattr(est, "encoder_", None)
    unseen = None if encoder is None else unseen_levels(encoder.columns_, X)
    if unseen is not None and unseen.n_new:
        if not at_prior_means:
            warn_unseen(unseen, design.n_rows, stacklevel=6)
        hyper = group_prior_draws(est.idata_, ("w", *draws.interaction.factor_names))
        draws, idx, val = with_unseen_levels(draws, hyper, design.indices, design.values,
                                             unseen, at_means=at_prior_means)
        design = dataclasses.replace(design, indices=idx, values=val)
    return draws, design


def summaries_for(est: Any, X: Any, prob: float | None, kind: str) -> PredictiveSummary:
    """Mean, sd and interval of every row of ``X`` (see ``predict_summary``)."""
    draws, design = draws_for(est, X)
    s = summarize_predictions(draws, design.indices, design.values, prob=prob, kind=kind)
    if isinstance(X, Joined):  # no unseen levels with relations (array X only)
        return s
    n_new = draws.group_of_feature.shape[0] - est.design_template_.n_features
    if draws.likelihood.task == "regression" and n_new > 0 and draws.interaction.multilinear:
        # Unseen levels: the Gaussian mean is multilinear in the new levels' independent
        # parameters, so its expectation over them is the score at their prior means (exact:
        # no Monte Carlo noise from the new levels in the mean; sd and bounds sample them).
        draws, design = draws_for(est, X, at_prior_means=True)
        s = s._replace(mean=summarize_predictions(
            draws, design.indices, design.values, prob=None).mean)
    return s
