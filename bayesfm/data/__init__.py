"""Data layer: the design pytree and its builders."""

from bayesfm.data._columns import IntegerColumnWarning
from bayesfm.data.datasets import (
    DatasetInfo,
    load_frappe,
    load_movielens_1m_half,
    load_movielens_100k,
    load_movielens_ratings,
)
from bayesfm.data.design import Design, check_finite, from_sparse, padded_rows
from bayesfm.data.encoder import FMEncoder
from bayesfm.data.implicit import ImplicitRows, sample_negatives
from bayesfm.data.libfm import read_libffm, read_libfm, write_libfm
from bayesfm.data.relations import (
    Relation,
    implicit_item_users,
    implicit_user_items,
    materialize,
    relation_from_frame,
    relation_from_sparse,
)
from bayesfm.data.simulate import SimulatedFM, simulate_fm
from bayesfm.data.unseen import UnseenLevels, UnseenLevelWarning, unseen_levels, warn_unseen

__all__ = [
    "DatasetInfo",
    "Design",
    "FMEncoder",
    "ImplicitRows",
    "IntegerColumnWarning",
    "Relation",
    "implicit_item_users",
    "implicit_user_items",
    "materialize",
    "relation_from_frame",
    "relation_from_sparse",
    "check_finite",
    "from_sparse",
    "load_frappe",
    "load_movielens_100k",
    "load_movielens_ratings",
    "load_movielens_1m_half",
    "padded_rows",
    "SimulatedFM",
    "read_libffm",
    "read_libfm",
    "sample_negatives",
    "simulate_fm",
    "unseen_levels",
    "UnseenLevels",
    "UnseenLevelWarning",
    "warn_unseen",
    "write_libfm",
]
