"""Data layer: the design pytree and its builders."""

from bayesfm.data.design import Design, check_finite, from_sparse, padded_rows

__all__ = ["Design", "check_finite", "from_sparse", "padded_rows"]
