"""Results: the DataTree of a fit, predictions from its draws, and convergence diagnostics.

- :mod:`.datatree`: :func:`to_datatree` (engine draws to an ArviZ DataTree) and
  :func:`draws_from_datatree` (back to the draws that predict);
- :mod:`.log_likelihood`: every training row's log likelihood at every draw;
- :mod:`.recompute`: the same, rebuilt from a DataTree (what a model file leaves out);
- :mod:`.predict`: chunked predictions from :class:`PosteriorDraws`;
- :mod:`.diagnostics`: R-hat and ESS of the identifiable quantities;
- :mod:`.intervals`: exact predictive summaries from the predictive mixture;
- :mod:`.replicates`: replicated ``y`` as ``posterior_predictive`` / ``predictions``;
- :mod:`.unseen`: new levels drawn from their group prior (cold start);
- :mod:`.recommend`: top-N candidates per context row from the FM's structure;
- :mod:`.compare`: model choice by PSIS-LOO (:func:`compare`, :func:`psis_loo`).
"""

from bayesfm.results.compare import compare, psis_loo
from bayesfm.results.datatree import (
    DIMS,
    MOMENTS_GROUP,
    PREDICTION_GROUP,
    draws_from_datatree,
    interaction_of,
    keeps_pointwise,
    likelihood_of,
    posterior_moments,
    prediction_group,
    to_datatree,
)
from bayesfm.results.diagnostics import IDENTIFIABLE, check_convergence, convergence_summary
from bayesfm.results.predict import (
    PosteriorDraws,
    PredictiveSummary,
    chunk_size,
    class_probabilities,
    eta_chunks,
    mean_draws,
    posterior_predictive,
    summarize_predictions,
)
from bayesfm.results.recommend import STRATEGIES, Recommendations, recommend_top_n
from bayesfm.results.recompute import recompute_log_likelihood, recomputes_log_likelihood
from bayesfm.results.replicates import TRAIN_DIGEST, design_digest, store_replicates
from bayesfm.results.unseen import group_prior_draws, with_unseen_levels

__all__ = [
    "DIMS",
    "IDENTIFIABLE",
    "MOMENTS_GROUP",
    "PREDICTION_GROUP",
    "PosteriorDraws",
    "PredictiveSummary",
    "Recommendations",
    "STRATEGIES",
    "check_convergence",
    "chunk_size",
    "class_probabilities",
    "compare",
    "convergence_summary",
    "draws_from_datatree",
    "eta_chunks",
    "interaction_of",
    "keeps_pointwise",
    "likelihood_of",
    "mean_draws",
    "posterior_moments",
    "posterior_predictive",
    "prediction_group",
    "psis_loo",
    "recommend_top_n",
    "recompute_log_likelihood",
    "recomputes_log_likelihood",
    "summarize_predictions",
    "to_datatree",
    "group_prior_draws",
    "TRAIN_DIGEST",
    "design_digest",
    "store_replicates",
    "with_unseen_levels",
]
