"""Top-N recommendation from the posterior draws, with the FM's structure (DESIGN section 6).

A pair row is a context row (a user and any context features) plus a candidate row (an item
and its features) on disjoint columns. For the plain FM its score splits, per draw, into

    eta(c, i) = w0 + a_c + a_i + <q_c, q_i>,

with ``q_c = sum_j v_j x_cj`` the context's factor sums, ``a_c`` the context's linear plus
within-context pairwise terms (and the same for the candidate). So every candidate is scored
against a chunk of contexts by one matrix product per draw, never by building a design row
per pair. Chunks of contexts are sized so that a ``(draws, contexts, candidates)`` block
stays under a memory budget.

Strategies (the criterion each context row ranks its candidates by):

- ``"mean"``: the posterior mean of ``E[y | x]`` (the rating; the click probability);
- ``"thompson"``: ``E[y | x]`` under one posterior draw per context row (Thompson sampling:
  the draw is picked at random, per row, from ``rng``);
- ``"ucb"``: an upper posterior quantile of ``E[y | x]``, the ``ceil(quantile * S)``-th
  smallest of the ``S`` draws (NumPy's ``method="inverted_cdf"``; an order statistic, so it
  is the same whether taken of the score or of the monotone ``E[y | x]``).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from bayesfm.results.predict import BUDGET_BYTES, PosteriorDraws
from bayesfm.results.recommend_ucb import ucb_top_n

__all__ = ["STRATEGIES", "Recommendations", "recommend_top_n"]

#: The ranking criteria :func:`recommend_top_n` knows.
STRATEGIES = ("mean", "thompson", "ucb")


class Recommendations(NamedTuple):
    """Top-N candidates per context row and their posterior summaries.

    Attributes
    ----------
    items : int ndarray of shape (n_contexts, n)
        Candidate positions (rows of the candidate set), best first; ``-1`` where a row has
        fewer than ``n`` candidates left after ``exclude``.
    score : ndarray of shape (n_contexts, n)
        The criterion of the strategy, on the scale of ``E[y | x]``.
    mean, lower, upper : ndarray of shape (n_contexts, n)
        Posterior mean and equal-tailed ``prob`` interval of ``E[y | x]`` of each pair (the
        numbers :meth:`predict_summary` gives for the pair's row); NaN where ``items`` is -1.
    draw : int ndarray of shape (n_contexts,) or None
        ``"thompson"``: the posterior draw each context row was ranked under.
    names : ndarray of str or None
        Names of the recommended candidates, where the candidate set has names.
    """

    items: np.ndarray
    score: np.ndarray
    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    draw: np.ndarray | None = None
    names: np.ndarray | None = None

    def to_frame(self) -> Any:
        """One row per (context, rank): ``context, rank, item, [name,] score, mean, lower, upper``.

        Examples
        --------
        >>> import numpy as np
        >>> r = Recommendations(*(np.zeros((1, 2)) for _ in range(5)))
        >>> r.to_frame().shape
        (2, 7)
        """
        import pandas as pd

        n_ctx, n = self.items.shape
        cols: dict[str, Any] = {"context": np.repeat(np.arange(n_ctx), n),
                                "rank": np.tile(np.arange(1, n + 1), n_ctx),
                                "item": self.items.ravel()}
        if self.names is not None:
            cols["name"] = self.names.ravel()
        for k in ("score", "mean", "lower", "upper"):
            cols[k] = getattr(self, k).ravel()
        return pd.DataFrame(cols)


def _identity(eta: jax.Array) -> jax.Array:
    return eta


def _mean_fn(draws: PosteriorDraws) -> Any:
    """``E[y | x]`` of scores in JAX (monotone in the score for the supported likelihoods)."""
    task = draws.likelihood.task
    if task == "regression":
        return lambda eta: eta
    if task == "binary":
        return lambda eta: jax.nn.sigmoid(draws.likelihood.logits(eta))  # type: ignore[attr-defined]
    raise NotImplementedError(
        f"recommend supports the Gaussian and binary likelihoods, not {task!r}")


@jax.jit
def _parts(w: jax.Array, v: jax.Array, indices: jax.Array, values: jax.Array
           ) -> tuple[jax.Array, jax.Array]:
    """Per draw: ``a`` (S, n), the rows' linear plus own pairwise terms, and ``q`` (S, n, k)."""
    def one(wv: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        w_s, v_s = wv
        vx = v_s[indices] * values[..., None]
        q = jnp.sum(vx, axis=-2)
        a = jnp.sum(w_s[indices] * values, axis=-1) + 0.5 * jnp.sum(
            q * q - jnp.sum(vx * vx, axis=-2), axis=-1)
        return a, q
    return jax.lax.map(one, (w, v))


@partial(jax.jit, static_argnames=("strategy", "mean_fn", "order", "n"))
def _criterion_top_n(
    w0: jax.Array, a_c: jax.Array, q_c: jax.Array, a_i: jax.Array, q_i: jax.Array,
    allowed: jax.Array, draw: jax.Array, *, strategy: str, mean_fn: Any, order: int, n: int,
) -> tuple[jax.Array, jax.Array]:
    """Criterion of every (context, candidate) pair of a chunk, then its top ``n``."""
    if strategy == "thompson":
        # One draw per context row: that draw's candidate sums, contracted with the row's.
        eta = (w0[draw][:, None] + a_c[draw, jnp.arange(draw.shape[0])][:, None]
               + a_i[draw] + jnp.einsum("ck,cik->ci", q_c[draw, jnp.arange(draw.shape[0])],
                                        q_i[draw]))
        crit = mean_fn(eta)
    elif strategy == "mean":
        def add(total: jax.Array, s: jax.Array) -> tuple[jax.Array, None]:
            eta = w0[s] + a_c[s][:, None] + a_i[s][None, :] + q_c[s] @ q_i[s].T
            return total + mean_fn(eta), None
        total, _ = jax.lax.scan(add, jnp.zeros(allowed.shape, q_c.dtype),
                                jnp.arange(w0.shape[0]))
        crit = total / w0.shape[0]
    else:  # ucb: the order statistic ``order`` (from the top) over the draws, pair by pair
        eta = (w0[None, None, :] + a_c.T[:, None, :] + a_i.T[None, :, :]
               + jnp.einsum("sck,sik->cis", q_c, q_i))
        crit = mean_fn(jax.lax.top_k(eta, order)[0][..., -1])
    crit = jnp.where(allowed, crit, -jnp.inf)
    return jax.lax.top_k(crit, n)


@jax.jit
def _pair_draws(w0: jax.Array, a_c: jax.Array, q_c: jax.Array, a_i: jax.Array,
                q_i: jax.Array, items: jax.Array) -> jax.Array:
    """Scores ``(S, contexts, n)`` of the chosen pairs, for their summaries."""
    return (w0[:, None, None] + a_c[:, :, None] + a_i[:, items]
            + jnp.einsum("sck,scnk->scn", q_c, q_i[:, items]))


def _exclusion(exclude: Any, n_ctx: int, n_cand: int) -> sp.csr_matrix | None:
    """``exclude`` as a boolean CSR matrix of shape (contexts, candidates)."""
    if exclude is None:
        return None
    if sp.issparse(exclude):
        m = sp.csr_matrix(exclude, dtype=bool)
    else:
        a = np.asarray(exclude)
        if a.dtype == bool:
            m = sp.csr_matrix(a)
        elif a.ndim == 2 and a.shape[1] == 2 and np.issubdtype(a.dtype, np.integer):
            if a.size and (a.min() < 0 or a[:, 0].max() >= n_ctx or a[:, 1].max() >= n_cand):
                raise ValueError("exclude pairs (context row, candidate) must index the "
                                 f"{n_ctx} context rows and {n_cand} candidates")
            m = sp.csr_matrix((np.ones(len(a), bool), (a[:, 0], a[:, 1])),
                              shape=(n_ctx, n_cand))
        else:
            raise TypeError("exclude must be a boolean (contexts, candidates) matrix (dense or "
                            "sparse) or an integer array of (context row, candidate) pairs")
    if m.shape != (n_ctx, n_cand):
        raise ValueError(f"exclude has shape {m.shape}; expected (n_contexts, n_candidates) = "
                         f"{(n_ctx, n_cand)}")
    return m


def _check_args(draws: PosteriorDraws, strategy: str, n: int, n_cand: int,
                quantile: float, prob: float) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    if draws.interaction.name != "fm" or set(draws.interaction.factor_names) != {"v"}:
        raise NotImplementedError(
            "recommend supports the plain FM (model='fm', degree=2), not "
            f"{draws.interaction.name!r}")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if n > n_cand:
        raise ValueError(f"n={n} is larger than the {n_cand} candidates")
    for name, x in (("quantile", quantile), ("prob", prob)):
        if not 0.0 < float(x) < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {x}")


def recommend_top_n(
    draws: PosteriorDraws,
    context: tuple[np.ndarray, np.ndarray],
    candidates: tuple[np.ndarray, np.ndarray],
    *,
    n: int = 10,
    strategy: str = "mean",
    quantile: float = 0.9,
    prob: float = 0.9,
    exclude: Any = None,
    rng: np.random.Generator | None = None,
    budget_bytes: int = BUDGET_BYTES,
) -> Recommendations:
    """Rank the candidates of every context row by ``strategy`` and summarise the top ``n``.

    Parameters
    ----------
    draws : PosteriorDraws
        Draws of a plain FM (``w0``, ``w``, ``v``) with a Gaussian or binary likelihood.
    context, candidates : (indices, values) pairs of padded rows
        Context rows (n_contexts, L) and candidate rows (n_candidates, L') of the same
        feature space, on disjoint columns (the caller checks that).
    n : int
        Candidates kept per context row.
    strategy : {"mean", "thompson", "ucb"}
        See the module docstring.
    quantile : float
        ``"ucb"``: the upper posterior quantile ranked by.
    prob : float
        Mass of the reported equal-tailed credible interval.
    exclude : boolean matrix (n_contexts, n_candidates), sparse or dense, or (m, 2) int pairs
        Pairs never recommended (already seen).
    rng : numpy Generator
        ``"thompson"``: picks each context row's draw.
    budget_bytes : int
        Memory for one block of draws times contexts times candidates.

    Returns
    -------
    Recommendations

    Examples
    --------
    >>> import numpy as np, jax.numpy as jnp
    >>> from bayesfm.model import get_interaction, get_likelihood
    >>> from bayesfm.results import PosteriorDraws, recommend_top_n
    >>> v = jnp.array([[[1.0], [0.0], [2.0], [-1.0]]] * 3)     # 3 draws, p=4, k=1
    >>> d = PosteriorDraws({"w0": jnp.zeros(3), "w": jnp.zeros((3, 4)), "v": v,
    ...                     "tau": jnp.ones(3)},
    ...                    get_likelihood("gaussian"), get_interaction("fm"),
    ...                    jnp.array([0, 0, 1, 1]))
    >>> users = (np.array([[0]]), np.ones((1, 1), np.float32))
    >>> items = (np.array([[2], [3]]), np.ones((2, 1), np.float32))
    >>> rec = recommend_top_n(d, users, items, n=2)
    >>> rec.items.tolist(), rec.mean.round(3).tolist()
    ([[0, 1]], [[2.0, -1.0]])
    """
    c_idx, c_val = context
    i_idx, i_val = candidates
    n_ctx, n_cand = c_idx.shape[0], i_idx.shape[0]
    _check_args(draws, strategy, n, n_cand, quantile, prob)
    mean_fn = _mean_fn(draws)
    blocked = _exclusion(exclude, n_ctx, n_cand)
    p = draws.params
    w0, w, v = p["w0"], p["w"], p["v"]
    n_draws, rank = int(w0.shape[0]), int(v.shape[-1])
    order = n_draws - math.ceil(quantile * n_draws) + 1  # from the top: ceil(q S)-th smallest
    a_i, q_i = _parts(w, v, jnp.asarray(i_idx), jnp.asarray(i_val))
    per_ctx = {"mean": n_cand * 4 * 3, "thompson": n_cand * max(rank, 1) * 4 * 2,
               "ucb": n_cand * 4 * 6}[strategy]
    kept = max(4 * n, 64) if strategy == "ucb" else n  # pairs gathered per context row
    per_ctx = max(per_ctx, n_draws * kept * max(rank, 1) * 4 * 2)
    chunk = int(max(1, min(n_ctx, budget_bytes // max(per_ctx, 1))))
    chunk = min(n_ctx, 1 << (chunk.bit_length() - 1)) if chunk < n_ctx else n_ctx
    rng = rng if rng is not None else np.random.default_rng()
    draw = rng.integers(n_draws, size=n_ctx) if strategy == "thompson" else None
    out = {k: np.full((n_ctx, n), np.nan) for k in ("score", "mean", "lower", "upper")}
    items = np.full((n_ctx, n), -1, dtype=np.int64)
    lp = draws.likelihood_params()
    q = [(1 - prob) / 2, (1 + prob) / 2]
    for start in range(0, n_ctx, chunk):
        stop = min(start + chunk, n_ctx)
        rows = np.arange(start, stop)
        pad = chunk - rows.size  # one compiled shape for every chunk: pad with row 0
        rows_p = np.concatenate([rows, np.zeros(pad, rows.dtype)])
        a_c, q_c = _parts(w, v, jnp.asarray(c_idx[rows_p]), jnp.asarray(c_val[rows_p]))
        allowed = np.ones((chunk, n_cand), bool)
        if blocked is not None:
            allowed[: rows.size] = ~blocked[start:stop].toarray()
        d = np.zeros(chunk, np.int64) if draw is None else np.concatenate(
            [draw[rows], np.zeros(pad, np.int64)])
        args = (w0, a_c, q_c, a_i, q_i, jnp.asarray(allowed), jnp.asarray(d))
        if strategy == "ucb":  # screened by counts: see recommend_ucb (the same top n)
            full_rows = max(1, budget_bytes // (n_draws * n_cand * 4 * 3))
            crit, top = ucb_top_n(*args[:6], order=order, n=n, full=lambda a=args: (
                _full_ucb(a, full_rows, order, n)))
            crit = mean_fn(jnp.asarray(crit))
        else:
            crit, top = _criterion_top_n(*args, strategy=strategy, mean_fn=mean_fn,
                                         order=order, n=n)
        crit, top = np.asarray(crit)[: rows.size], np.asarray(top)[: rows.size]
        eta = np.asarray(_pair_draws(w0, a_c, q_c, a_i, q_i, jnp.asarray(_top_full(top, chunk))),
                         np.float64)[:, : rows.size]
        mu = draws.likelihood.mean(eta, lp)
        ok = np.isfinite(crit)
        lo, hi = np.quantile(mu, q, axis=0)
        items[rows] = np.where(ok, top, -1)
        for k, val in (("score", crit), ("mean", mu.mean(axis=0)), ("lower", lo),
                       ("upper", hi)):
            out[k][rows] = np.where(ok, val, np.nan)
    return Recommendations(items, out["score"], out["mean"], out["lower"], out["upper"], draw)


def _full_ucb(args: tuple[jax.Array, ...], rows: int, order: int, n: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Rank by the order statistic of every pair, ``rows`` context rows at a time (fallback)."""
    w0, a_c, q_c, a_i, q_i, allowed, d = args
    n_rows = a_c.shape[1]
    rows = min(rows, n_rows)
    crit, top = [], []
    for start in range(0, n_rows, rows):
        sl = np.arange(start, start + rows) % n_rows  # wrap: one shape for every piece
        c, t = _criterion_top_n(w0, a_c[:, sl], q_c[:, sl], a_i, q_i, allowed[sl], d[sl],
                                strategy="ucb", mean_fn=_identity, order=order, n=n)
        keep = min(rows, n_rows - start)
        crit.append(np.asarray(c)[:keep])
        top.append(np.asarray(t)[:keep])
    return np.concatenate(crit), np.concatenate(top)


def _top_full(top: np.ndarray, chunk: int) -> np.ndarray:
    """Pad a chunk's ``(rows, n)`` candidate positions back to ``chunk`` rows (with zeros)."""
    pad = chunk - top.shape[0]
    return np.concatenate([top, np.zeros((pad, top.shape[1]), top.dtype)]) if pad else top
