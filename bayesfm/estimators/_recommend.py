"""``recommend``: top-N candidates per context row, as a mixin of the estimators.

The estimator turns what the user passes (context rows, a candidate set or the name of the
item group, already-seen pairs) into padded rows of its feature space and checks them; the
ranking itself is :func:`bayesfm.results.recommend_top_n`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from bayesfm.data.design import Design
from bayesfm.results import Recommendations, draws_from_datatree, recommend_top_n

__all__ = ["RecommendMixin"]


def _frame_rows(est: Any, df: pd.DataFrame, what: str) -> Design:
    """Encode the columns of ``df`` (a part of the training columns) as rows of the design.

    The columns ``df`` lacks are filled with a valid value (a numeric column's mean, a
    category column's first level) so the encoder sees complete rows, and their features
    are then dropped. A level unseen at fit time gets no feature (no cold-start draw here).
    """
    enc = est.encoder_
    names = [c["name"] for c in enc.columns_]
    unknown = [c for c in df.columns if c not in names]
    if unknown:
        raise ValueError(f"{what} has columns the model was not fitted on: {unknown}")
    full = df.reset_index(drop=True).copy()
    for c in enc.columns_:
        if c["name"] not in full.columns:
            value = c["mean"] if c["kind"] == "numeric" else c["categories"][0]
            full[c["name"]] = [[value] if c["kind"] == "multihot" else value] * len(full)
    X = enc.transform_csr(full[names])
    template: Design = est.design_template_
    keep = np.isin(np.asarray(template.group_names)[template.group_of_feature],
                   [str(c) for c in df.columns])
    X = sp.csr_matrix(X.multiply(keep[None, :].astype(X.dtype)))
    X.eliminate_zeros()
    return template.with_rows(X.astype(template.values.dtype))


def _rows(est: Any, X: Any, what: str) -> Design:
    template: Design = est.design_template_
    if isinstance(X, Design):
        if X.n_features != template.n_features:
            raise ValueError(f"{what} has {X.n_features} features; the model has "
                             f"{template.n_features}")
        return X
    if isinstance(X, pd.DataFrame) and getattr(est, "encoder_", None) is not None:
        return _frame_rows(est, X, what)
    if getattr(est, "encoder_", None) is None and not isinstance(X, pd.DataFrame):
        X = sp.csr_matrix(X) if sp.issparse(X) else np.atleast_2d(np.asarray(X))
        if X.ndim != 2 or X.shape[1] != template.n_features:
            raise ValueError(f"{what} has {X.shape[-1]} columns; the model was fitted on "
                             f"{template.n_features}")
    return est._design(X, reset=False)


def _item_group_rows(template: Design, item_group: str) -> tuple[Design, np.ndarray]:
    """One candidate row per feature of ``item_group`` (a one at its column)."""
    if item_group not in template.group_names:
        raise ValueError(f"item_group={item_group!r} is not a group of the model; groups: "
                         f"{list(template.group_names)} (or pass candidates=)")
    g = template.group_names.index(item_group)
    cols = np.flatnonzero(template.group_of_feature == g)
    X = sp.csr_matrix((np.ones(cols.size), (np.arange(cols.size), cols)),
                      shape=(cols.size, template.n_features))
    return template.with_rows(X), np.asarray(template.feature_names, dtype=object)[cols]


def _check_disjoint(ctx: Design, cand: Design) -> None:
    used_c = np.unique(ctx.indices[ctx.values != 0])
    used_i = np.unique(cand.indices[cand.values != 0])
    both = np.intersect1d(used_c, used_i)
    if both.size:
        names = [ctx.feature_names[j] for j in both[:5]]
        raise ValueError(
            f"context and candidate rows share columns {names}{' ...' if both.size > 5 else ''}: "
            "a pair row is their sum, so each column must belong to one side only")


class RecommendMixin:
    """Adds :meth:`recommend` to a fitted Bayesian FM estimator."""

    def recommend(
        self,
        X_context: Any,
        candidates: Any = None,
        *,
        n: int = 10,
        strategy: str = "mean",
        item_group: str = "item",
        exclude: Any = None,
        prob: float = 0.9,
        quantile: float = 0.9,
        random_state: Any = None,
    ) -> Recommendations:
        """Top-``n`` candidates for every context row, with posterior mean and interval.

        Every pair (context row, candidate) is the row ``x_context + x_candidate`` of the
        training feature space, scored without building it: per posterior draw, the
        context's factor sums times the candidates' factor sums (one matrix product) plus
        each side's own linear and pairwise terms; contexts go in chunks under a memory
        budget. Plain FM (``model="fm"``, ``degree=2``), Gaussian and binary likelihoods.

        Parameters
        ----------
        X_context : array-like, sparse matrix, Design or DataFrame
            Context rows (a user and any context features), in the training columns, with
            the candidate's columns left zero; for a model fitted on a DataFrame, a
            DataFrame of the context columns only.
        candidates : array-like, sparse matrix, Design or DataFrame, optional
            Candidate rows (an item and its features) in the training columns with the
            context's columns zero (a DataFrame: the candidate columns only). Default: one
            candidate per feature of the group ``item_group`` (every item).
        n : int, default 10
            Candidates kept per context row (at most the number of candidates).
        strategy : {"mean", "thompson", "ucb"}, default "mean"
            What candidates are ranked by: ``"mean"``, the posterior mean of ``E[y | x]``
            (the rating; the click probability); ``"thompson"``, ``E[y | x]`` under one
            posterior draw per context row, chosen at random from ``random_state`` (Thompson
            sampling: a new seed gives a new draw, and ``Recommendations.draw`` says which);
            ``"ucb"``, the upper posterior ``quantile`` of ``E[y | x]`` (the
            ``ceil(quantile * S)``-th smallest of the ``S`` draws, NumPy's
            ``method="inverted_cdf"``): optimism in the face of uncertainty.
        item_group : str, default "item"
            The group whose features are the candidates when ``candidates`` is None.
        exclude : boolean matrix of shape (n_contexts, n_candidates), or (m, 2) int pairs
            Already-seen pairs, never recommended (dense or sparse; pairs are
            ``(context row, candidate position)``). A row left with fewer than ``n``
            candidates gets item ``-1`` and NaN in the free places.
        prob : float, default 0.9
            Mass of the equal-tailed credible interval reported.
        quantile : float, default 0.9
            ``"ucb"``: the posterior quantile ranked by.
        random_state : int, numpy Generator or None
            ``"thompson"``: seed of the draw choice.

        Returns
        -------
        Recommendations
            ``items`` (candidate positions, best first), ``score`` (the criterion),
            ``mean``, ``lower``, ``upper`` (of ``E[y | x]``), ``draw`` (Thompson) and
            ``names`` (for the default candidates, their feature names); arrays of shape
            ``(n_contexts, n)``. ``to_frame()`` gives a long DataFrame.

        Raises
        ------
        ValueError
            Unknown strategy, ``n`` above the number of candidates, a column count other
            than the model's, context and candidates sharing a column, bad ``exclude``.
        NotImplementedError
            For a model other than the plain FM, or the ordinal likelihood.

        Examples
        --------
        >>> import numpy as np, scipy.sparse as sp
        >>> from bayesfm import BayesianFMRegressor
        >>> from bayesfm.data import simulate_fm
        >>> sim = simulate_fm(n_rows=300, group_sizes=(10, 8), rank=2, seed=0)
        >>> fm = BayesianFMRegressor(rank=2, num_warmup=50, num_samples=50, num_chains=1,
        ...                          random_state=0, progress_bar=False)
        >>> fm = fm.fit(sim.X, sim.y, groups=sim.groups,
        ...             group_names=["user", "item"])  # doctest: +SKIP
        >>> users = sp.eye(10, 18, format="csr")       # users 0..9, item columns zero
        >>> rec = fm.recommend(users, n=3)  # doctest: +SKIP
        >>> rec.items.shape  # doctest: +SKIP
        (10, 3)
        >>> rec = fm.recommend(users, n=3, strategy="thompson",
        ...                    random_state=1)  # doctest: +SKIP
        """
        check_is_fitted(self, "idata_")
        est: Any = self
        names = None
        if candidates is None:
            cand, names = _item_group_rows(est.design_template_, item_group)
        else:
            cand = _rows(est, candidates, "candidates")
        ctx = _rows(est, X_context, "X_context")
        _check_disjoint(ctx, cand)
        draws = draws_from_datatree(est.idata_, dtype=ctx.values.dtype,
                                    likelihood=est._get_likelihood())
        rec = recommend_top_n(
            draws, (ctx.indices, ctx.values), (cand.indices, cand.values), n=n,
            strategy=strategy, quantile=quantile, prob=prob, exclude=exclude,
            rng=np.random.default_rng(random_state))
        if names is not None:
            rec = rec._replace(names=np.where(rec.items >= 0, names[rec.items], None))
        return rec

