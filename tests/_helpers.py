"""Designs and dense reference scores shared by several test files (``from tests._helpers``)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import scipy.sparse as sp

from bayesfm.data import Design, from_sparse
from bayesfm.model import fm_predict
from bayesfm.persistence import MAGIC, container


def onehot_rows(n_rows: int, sizes: list[int], rng: np.random.Generator) -> sp.csr_matrix:
    """Rows with exactly one feature of every one-hot group."""
    offsets = np.cumsum([0, *sizes])[:-1]
    cols = np.stack([o + rng.integers(0, s, n_rows) for o, s in zip(offsets, sizes)], 1)
    rows = np.repeat(np.arange(n_rows), len(sizes))
    return sp.csr_matrix((np.ones(cols.size), (rows, cols.ravel())), shape=(n_rows, sum(sizes)))


def mixed_design(n_rows: int, seed: int) -> Design:
    """A one-hot group (15), a multi-hot group (25, 0-6 per row, values 1/count), a numeric one."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 15, n_rows)
    X = sp.lil_matrix((n_rows, 41))
    for n in range(n_rows):
        X[n, user[n]] = 1.0
        tags = rng.choice(25, size=rng.integers(0, 7), replace=False)
        for t in tags:
            X[n, 15 + t] = 1.0 / len(tags)
        X[n, 40] = rng.normal()
    return from_sparse(X.tocsr(), group_sizes=[15, 25, 1])


def simulate(n_rows: int, sizes: list[int], seed: int, dtype=np.float32):
    """One-hot design and plain-FM scores of random parameters; returns ``(design, eta, rng)``."""
    rng = np.random.default_rng(seed)
    d = from_sparse(onehot_rows(n_rows, sizes, rng), group_sizes=sizes, dtype=dtype)
    p = sum(sizes)
    w, v = rng.normal(0, 0.5, p), rng.normal(0, 0.5, (p, 2))
    eta = np.asarray(fm_predict(0.5, w, v, d.indices, d.values))
    return d, eta, rng


def rows_of(design: Design) -> list[np.ndarray]:
    """The feature indices of every row of a design."""
    csr = design.to_csr()
    return [csr.indices[csr.indptr[n] : csr.indptr[n + 1]] for n in range(csr.shape[0])]


def assert_same_tree(a, b):
    """Two DataTrees are identical, every variable with the same dtype and the same bits."""
    assert a.identical(b)
    for node in a.subtree:
        for name, var in node.to_dataset(inherit=False).variables.items():
            other = b[node.path].to_dataset(inherit=False).variables[name]
            assert var.dtype == other.dtype
            np.testing.assert_array_equal(var.values, other.values)


def gibbs_parts(likelihood="gaussian", interaction="fm", *, n_groups, rank, degree=2,
                n_classes=None):
    """The static ``latent`` and ``term`` arguments of the Gibbs ``init`` and ``step``."""
    from bayesfm.engines.gibbs import latent_for, term_for
    from bayesfm.model import get_interaction, get_likelihood

    return {"latent": latent_for(get_likelihood(likelihood, n_classes=n_classes)),
            "term": term_for(get_interaction(interaction, degree), n_groups, rank)}


def split_model_file(raw: bytes) -> tuple[dict, bytes, bytes]:
    """Take a model file apart: header, config JSON bytes, netCDF payload bytes."""
    assert raw.startswith(MAGIC)
    end = raw.index(b"\n", len(MAGIC)) + 1
    header = json.loads(raw[len(MAGIC):end])
    config = raw[end:end + header["config_length"]]
    return header, config, raw[end + header["config_length"]:]


def join_model_file(header: dict, config: bytes, payload: bytes) -> bytes:
    """Build a model file with a *valid* checksum around edited parts (what a crafted file
    could do)."""
    header = dict(header, config_length=len(config), payload_length=len(payload),
                  sha256=hashlib.sha256(config + payload).hexdigest())
    return MAGIC + container._dumps(header) + b"\n" + config + payload
