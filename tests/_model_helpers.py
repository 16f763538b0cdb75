"""Helpers shared by the model, engine and estimator tests (import as ``tests._model_helpers``).

- Dense references: random grouped designs and the field-aware and degree-3 scores written out
  as explicit loops over pairs and triples of features.
- Property-based tests: hypothesis settings (derandomized) and a strategy of grouped sparse
  matrices.
- Simulation-based calibration (Talts et al. 2018): tiny fixed designs, the truth and the data
  drawn from the model's own prior (:func:`bayesfm.model.fm_model` through
  ``numpyro.infer.Predictive``), and the rank statistics with their chi-square check.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpyro.infer import Predictive
from scipy import stats

from bayesfm.data import Design, from_sparse
from bayesfm.model import FMPriors, fm_model, fm_predict

# --- dense references of the FM variants ----------------------------------------------------


def random_design(n_rows: int, sizes: list[int], seed: int) -> tuple[sp.csr_matrix, Design]:
    """Multi-hot rows with real values, so that same-group pairs and triples occur."""
    rng = np.random.default_rng(seed)
    X = sp.random(n_rows, sum(sizes), density=0.3, random_state=seed, format="csr",
                  data_rvs=lambda n: rng.normal(size=n))
    return X, from_sparse(X, group_sizes=sizes, dtype=np.float64)


def dense_ffm(w0, w, v, gof, X):  # noqa: ANN001, ANN201 - NumPy arrays
    """sum_i w_i x_i + sum_{i<j} x_i x_j <v[i, g(j)], v[j, g(i)]> by explicit loops."""
    out = np.full(X.shape[0], w0, dtype=np.float64)
    for n, row in enumerate(X):
        out[n] += row @ w
        nz = np.flatnonzero(row)
        for i, j in itertools.combinations(nz, 2):
            out[n] += row[i] * row[j] * v[i, gof[j]] @ v[j, gof[i]]
    return out


def dense_degree3(w0, w, v, v3, X):  # noqa: ANN001, ANN201 - NumPy arrays
    """Plain FM plus sum_{i<j<l} x_i x_j x_l sum_f v3_if v3_jf v3_lf by explicit loops."""
    out = np.full(X.shape[0], w0, dtype=np.float64)
    for n, row in enumerate(X):
        out[n] += row @ w
        nz = np.flatnonzero(row)
        for i, j in itertools.combinations(nz, 2):
            out[n] += row[i] * row[j] * v[i] @ v[j]
        for i, j, m in itertools.combinations(nz, 3):
            out[n] += row[i] * row[j] * row[m] * np.sum(v3[i] * v3[j] * v3[m])
    return out


def dense_ifm(w0, w, v, net, hidden, temperature, gof, X):  # noqa: ANN001, ANN201
    """Yu et al.'s IFM written out row by row: field embeddings, the FEN, pair loops.

    ``net`` holds ``fen_w0`` (G, k, H0), ``fen_b0``, ..., ``fen_w<H>`` (H_last, G). A row's
    fields present are those with a nonzero value; every feature of field g is rescaled by
    ``h * softmax(logits / t)[g]`` over the h present fields.
    """
    n_groups, k = net["fen_w0"].shape[:2]
    out = np.empty(X.shape[0], dtype=np.float64)
    for n, row in enumerate(X):
        nz = np.flatnonzero(row)
        e = np.zeros((n_groups, k))
        present = np.zeros(n_groups, dtype=bool)
        for i in nz:
            e[gof[i]] += row[i] * v[i]
            present[gof[i]] = True
        a = e.reshape(-1)
        for layer in range(len(hidden)):
            W = net[f"fen_w{layer}"].reshape(a.size, -1)
            a = np.maximum(a @ W + net[f"fen_b{layer}"], 0.0)
        logits = a @ net[f"fen_w{len(hidden)}"].reshape(a.size, -1) / temperature
        m = np.zeros(n_groups)
        if present.any():
            z = np.exp(logits[present] - logits[present].max())
            m[present] = present.sum() * z / z.sum()
        x = {i: m[gof[i]] * row[i] for i in nz}
        out[n] = w0 + sum(w[i] * x[i] for i in nz)
        for i, j in itertools.combinations(nz, 2):
            out[n] += x[i] * x[j] * v[i] @ v[j]
    return out


def dense_cfm(w0, w, v, net, gof, X):  # noqa: ANN001, ANN201
    """Xin et al.'s CFM written out: the cube of pair outer products, strided 3D convolutions.

    Rows are one-hot per field. Every layer has kernel = stride 2 along each axis longer than
    1 (kernel 1 otherwise), a zero appended to odd axes, ReLU; then the read-out ``conv_out``.
    """
    n_groups, k = int(np.max(gof)) + 1, v.shape[1]
    pairs = [(g, h) for g in range(n_groups) for h in range(g + 1, n_groups)]
    out = np.empty(X.shape[0], dtype=np.float64)
    for n, row in enumerate(X):
        nz = np.flatnonzero(row)
        e = np.zeros((n_groups, k))
        for i in nz:
            e[gof[i]] = row[i] * v[i]
        z = np.zeros((len(pairs), k, k, 1))
        for p, (g, h) in enumerate(pairs):
            for a in range(k):
                for b in range(k):
                    z[p, a, b, 0] = e[g, a] * e[h, b]
        layer = 0
        while max(z.shape[:3]) > 1:
            W, bias = net[f"conv_w{layer}"], net[f"conv_b{layer}"]
            kern = W.shape[:3]
            assert kern == tuple(2 if s > 1 else 1 for s in z.shape[:3])
            size = [-(-s // kk) for s, kk in zip(z.shape[:3], kern, strict=True)]
            zp = np.zeros((size[0] * kern[0], size[1] * kern[1], size[2] * kern[2], z.shape[3]))
            zp[: z.shape[0], : z.shape[1], : z.shape[2]] = z
            new = np.zeros((*size, W.shape[-1]))
            for o1 in range(size[0]):
                for o2 in range(size[1]):
                    for o3 in range(size[2]):
                        for c in range(W.shape[-1]):
                            acc = bias[c]
                            for d1 in range(kern[0]):
                                for d2 in range(kern[1]):
                                    for d3 in range(kern[2]):
                                        acc += zp[o1 * kern[0] + d1, o2 * kern[1] + d2,
                                                  o3 * kern[2] + d3] @ W[d1, d2, d3, :, c]
                            new[o1, o2, o3, c] = max(acc, 0.0)
            z = new
            layer += 1
        out[n] = w0 + row @ w + z.reshape(-1) @ net["conv_out"]
    return out


# --- property-based tests -------------------------------------------------------------------

# Derandomized: the same examples every run, so CI is reproducible.
HYPO = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32).filter(
    lambda x: x == 0 or abs(x) > 1e-30)  # float32 would flush smaller values to 0


@st.composite
def grouped_matrices(draw: st.DrawFn, shape: tuple[int, int] | None = None,
                     ) -> tuple[sp.csr_matrix, np.ndarray]:
    """A sparse matrix of any shape and density (empty rows included) and a group vector."""
    n, p = shape or (draw(st.integers(1, 15)), draw(st.integers(1, 12)))
    dense = draw(hnp.arrays(np.float64, (n, p), elements=finite))
    mask = draw(hnp.arrays(np.bool_, (n, p)))
    groups = draw(hnp.arrays(np.int64, p, elements=st.integers(0, 3)))
    return sp.csr_matrix(np.where(mask, dense, 0.0)), groups


# --- simulation-based calibration -----------------------------------------------------------

#: The quantities every SBC test ranks: the bias, the noise precision, one weight, one score.
QUANTITIES = ("w0", "tau", "w_0", "pred")


class Problem(NamedTuple):
    """A tiny fixed design: one-hot groups, plus the row whose prediction is ranked."""

    indices: np.ndarray  # (N, G) int32
    values: np.ndarray  # (N, G) float32
    group_of_feature: np.ndarray  # (p,)
    n_groups: int
    rank: int
    pred_indices: np.ndarray  # (M, G): every training row, then one more row
    pred_values: np.ndarray


def tiny_problem(n_rows: int = 24, sizes: tuple[int, ...] = (3, 3), rank: int = 2,
                 seed: int = 0) -> Problem:
    """One-hot rows of ``len(sizes)`` groups; the ranked row is the first feature of each."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    idx = np.stack([o + rng.integers(0, s, n_rows) for o, s in zip(offsets, sizes, strict=True)],
                   1).astype(np.int32)
    val = np.ones(idx.shape, np.float32)
    gof = np.repeat(np.arange(len(sizes)), sizes).astype(np.int32)
    extra = offsets[None, :].astype(np.int32)  # row (first feature of every group)
    pred_idx = np.concatenate([extra, idx])
    return Problem(idx, val, gof, len(sizes), rank, pred_idx, np.ones(pred_idx.shape, np.float32))


def prior_draws(problem: Problem, n: int, likelihood: str, seed: int,
                priors: FMPriors = FMPriors()) -> dict[str, np.ndarray]:  # noqa: B008
    """The truth and the data of ``n`` replications, from the model's own prior."""
    draws = Predictive(fm_model, num_samples=n)(
        jax.random.key(seed), problem.indices, problem.values, problem.group_of_feature,
        n_groups=problem.n_groups, rank=problem.rank, likelihood=likelihood, priors=priors,
    )
    return {k: np.asarray(v) for k, v in draws.items()}


def eta(problem: Problem, w0, w, v):  # noqa: ANN001, ANN201 - arrays of any batch shape
    """FM scores of the prediction rows for parameters with any leading batch shape."""
    f = lambda a, b, c: fm_predict(a, b, c, problem.pred_indices, problem.pred_values)  # noqa: E731
    for _ in range(jnp.ndim(w0)):
        f = jax.vmap(f)
    return np.asarray(f(w0, w, v))


def truth_of(problem: Problem, prior: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The true values of :data:`QUANTITIES` (``tau`` only for the Gaussian likelihood)."""
    out = {"w0": prior["w0"], "w_0": prior["w"][:, 0],
           "pred": eta(problem, prior["w0"], prior["w"], prior["v"])[:, 0]}
    if "tau" in prior:
        out["tau"] = prior["tau"]
    return out


def sbc_ranks(draws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rank of the truth among the ``L`` draws of every replication: ``(R, L), (R,) -> (R,)``."""
    return (draws < truth[:, None]).sum(axis=1)


def uniformity_p(ranks: np.ndarray, n_draws: int, n_bins: int) -> tuple[float, np.ndarray]:
    """Chi-square p-value of the ranks (uniform on ``0..n_draws``) in ``n_bins`` equal bins."""
    assert (n_draws + 1) % n_bins == 0, "bins must hold equally many rank values"
    counts = np.bincount(ranks * n_bins // (n_draws + 1), minlength=n_bins)
    return float(stats.chisquare(counts).pvalue), counts


def assert_uniform(ranks: dict[str, np.ndarray], n_draws: int, n_bins: int) -> None:
    """The acceptance rule of the SBC battery: every quantity's ranks have p > 0.01."""
    report = {k: uniformity_p(r, n_draws, n_bins) for k, r in ranks.items()}
    failed = {k: (round(p, 5), c.tolist()) for k, (p, c) in report.items() if p <= 0.01}
    assert not failed, f"SBC ranks not uniform (p <= 0.01): {failed}"
