"""Which rows hold levels unseen at fit time, and in which fields (cold start).

:class:`~bayesfm.data.FMEncoder` gives an unseen level no feature. For a field present in
every row that is a biased prediction: the field's mean weight ``mu_w[g]`` trades off with
``w0``, so dropping the level drops that mean. In the hierarchical model an unseen level is a
new draw from its group's prior; :func:`unseen_levels` finds such levels and maps each to its
group, and :func:`bayesfm.results.with_unseen_levels` draws their weights per posterior draw.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from bayesfm.data._columns import labels_of

__all__ = ["UnseenLevelWarning", "UnseenLevels", "unseen_levels", "warn_unseen"]


class UnseenLevelWarning(UserWarning):
    """Rows hold categories unseen at fit time: their weights come from the group prior."""


class UnseenLevels(NamedTuple):
    """Cells of one-hot fields whose label was not seen at fit time.

    Attributes
    ----------
    rows : int array of shape (m,)
        Row of every such cell.
    level : int array of shape (m,)
        Which new level the cell holds, in ``0 .. n_new - 1`` (one per distinct field and label).
    level_group : int array of shape (n_new,)
        Group (field) code of every new level.
    level_names : tuple of str
        ``"field=label"`` of every new level.
    rows_per_field : dict of str to int
        Number of rows with an unseen level, per field name.
    """

    rows: np.ndarray
    level: np.ndarray
    level_group: np.ndarray
    level_names: tuple[str, ...]
    rows_per_field: dict[str, int]

    @property
    def n_new(self) -> int:
        """Number of distinct new levels."""
        return len(self.level_names)


def unseen_levels(columns: list[dict[str, Any]], df: pd.DataFrame) -> UnseenLevels:
    """Find the one-hot cells of ``df`` whose label the fitted ``columns`` do not know.

    Parameters
    ----------
    columns : list of dict
        A fitted :class:`~bayesfm.data.FMEncoder`'s ``columns_`` (group ``g`` is column ``g``).
    df : pandas.DataFrame
        Rows to predict. Missing cells (NaN) are not unseen levels: they give no feature.

    Examples
    --------
    >>> import pandas as pd
    >>> from bayesfm.data import FMEncoder, unseen_levels
    >>> enc = FMEncoder().fit(pd.DataFrame({"sex": ["M", "F"], "job": ["a", "b"]}))
    >>> u = unseen_levels(enc.columns_, pd.DataFrame({"sex": ["X", "M", "X"],
    ...                                               "job": ["a", "c", "b"]}))
    >>> u.level_names, u.rows.tolist(), u.level.tolist(), u.rows_per_field
    (('sex=X', 'job=c'), [0, 2, 1], [0, 0, 1], {'sex': 2, 'job': 1})
    """
    rows: list[np.ndarray] = []
    level: list[np.ndarray] = []
    groups: list[int] = []
    names: list[str] = []
    per_field: dict[str, int] = {}
    for g, c in enumerate(columns):
        if c["kind"] != "onehot":
            continue
        r, labels = labels_of(df[c["name"]], c["kind"], c["cast_str"])
        new = pd.Index(c["categories"], dtype=object).get_indexer(labels) < 0
        if not new.any():
            continue
        new_labels = pd.Series(labels[new], dtype=object)
        codes, uniques = pd.factorize(new_labels.astype(str))
        rows.append(r[new])
        level.append(len(names) + codes)
        groups.extend([g] * len(uniques))
        names.extend(f"{c['name']}={u}" for u in uniques)
        per_field[str(c["name"])] = int(np.unique(r[new]).size)
    if not rows:
        empty = np.zeros(0, dtype=np.int64)
        return UnseenLevels(empty, empty, empty, (), {})
    return UnseenLevels(np.concatenate(rows), np.concatenate(level).astype(np.int64),
                        np.asarray(groups, dtype=np.int64), tuple(names), per_field)


def warn_unseen(unseen: UnseenLevels, n_rows: int, stacklevel: int = 4) -> None:
    """Warn naming every field with unseen levels and how many of the ``n_rows`` rows hold one."""
    if not unseen.rows_per_field:
        return
    fields = ", ".join(f"{f!r} ({k} rows)" for f, k in unseen.rows_per_field.items())
    n_any = int(np.unique(unseen.rows).size)
    warnings.warn(
        f"{n_any} of {n_rows} rows hold categories unseen at fit time, in field(s) {fields}; "
        "their weights are drawn from the field's prior per posterior draw (a wider, unbiased "
        "prediction). Check for typos if these levels should be known.",
        UnseenLevelWarning,
        stacklevel=stacklevel,
    )
