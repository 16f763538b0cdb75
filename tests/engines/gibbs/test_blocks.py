"""Exact blocks of a design (bayesfm.engines.gibbs.blocks)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from bayesfm.engines.gibbs import color_blocks, prepare_data, term_for
from bayesfm.model import PairwiseFM, fm_predict
from tests._helpers import mixed_design, rows_of


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_blocks_are_exact(seed):
    d = mixed_design(400, seed)
    block = color_blocks(d)
    for feats in rows_of(d):
        assert len(np.unique(block[feats])) == len(feats), "two features of a block share a row"
    for b in np.unique(block):
        assert len(np.unique(d.group_of_feature[block == b])) == 1, "a block spans groups"
    assert len(np.unique(block[:15])) == 1  # the one-hot group is one block
    assert len(np.unique(block[15:40])) >= 6  # rows hold up to 6 tags: at least 6 colours


@pytest.mark.parametrize("layout", ["dense", "compact"])
def test_block_arrays_reproduce_the_model_scores(layout):
    d = mixed_design(300, 3)
    rng = np.random.default_rng(0)
    w0, w, v = 0.3, rng.normal(size=41), rng.normal(size=(41, 3))
    data = prepare_data(d.indices, d.values, d.group_of_feature, np.zeros(300), n_groups=3,
                        layout=layout)
    assert all((bs.rows is None) == (layout == "dense") for bs in data.blocks)
    if layout == "compact":  # blocks of similar sizes share a set: padding stays below 4x
        assert len(data.blocks) > 1
    term = term_for(PairwiseFM(), n_groups=3, rank=3)
    yhat, q = term.predict_cache({"w0": w0, "w": jnp.asarray(w), "v": jnp.asarray(v)}, data)
    np.testing.assert_allclose(yhat, fm_predict(w0, w, v, d.indices, d.values), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(q, (d.to_csr() @ v).T, rtol=1e-4, atol=1e-4)


def test_duplicate_feature_in_a_row_is_rejected():
    with pytest.raises(ValueError, match="twice"):
        prepare_data(np.array([[0, 0]]), np.ones((1, 2)), [0], [1.0], n_groups=1)
