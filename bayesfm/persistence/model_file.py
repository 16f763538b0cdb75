"""What a model file holds (the estimator's settings and fitted state) and how it is rebuilt.

The estimator classes register themselves (:func:`register_estimator`): this module never
imports them, and a file can only name a registered class.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from shutil import copyfileobj
from typing import Any

import numpy as np
import xarray as xr
from sklearn.utils.validation import check_is_fitted

from bayesfm._version import __version__
from bayesfm.data.design import Design
from bayesfm.data.encoder import FMEncoder
from bayesfm.persistence.container import (
    _CHUNK,
    FORMAT_VERSION,
    MAGIC,
    ModelFileError,
    _dtype,
    _dumps,
    _fsync_dir,
    _json_value,
    _read_header,
    _read_tree,
    _sha256,
    _temp_path,
    _tree_attrs,
    _tree_digest,
    _write_tree,
)
from bayesfm.results import recompute_log_likelihood, recomputes_log_likelihood

__all__ = ["load", "register_estimator", "save_model"]

#: A fitted bayesfm estimator (any class registered with :func:`register_estimator`).
type FMEstimator = Any

#: The closed allow-list of estimator classes a file may name, filled by the estimators.
_ESTIMATORS: dict[str, type] = {}


def register_estimator[T: type](cls: T) -> T:
    """Class decorator: allow files to name ``cls`` (by its ``__name__``) and rebuild it.

    The class must be a scikit-learn estimator whose fitted state is the attributes that
    :func:`save_model` stores.
    """
    _ESTIMATORS[cls.__name__] = cls
    return cls
_FITTED = frozenset({
    "idata_", "design_template_", "encoder_", "n_features_in_", "feature_names_in_",
    "classes_", "convergence_problems_",
})
#: ``save_model(log_likelihood=...)`` choices.
_LOG_LIKELIHOOD = ("recompute", "keep")
#: The group a file may leave out, the variable recomputed on load and its layout.
_RECOMPUTED: dict[str, dict[str, dict[str, Any]]] = {
    "/log_likelihood": {"y": {"dims": ["chain", "draw", "obs"], "dtype": "<f4"}},
}


def _written_tree(model: FMEstimator, log_likelihood: str) -> tuple[xr.DataTree, dict]:
    """Return the DataTree to write and the variables that load recomputes (left out of it)."""
    tree: xr.DataTree = model.idata_
    if log_likelihood == "keep" or not recomputes_log_likelihood(tree):
        return tree, {}
    written = tree.copy()
    # The group stays, with its coordinates: only its one array is left out.
    written["log_likelihood"] = xr.DataTree(
        tree.children["log_likelihood"].to_dataset(inherit=False).drop_vars("y"))
    return written, dict(_RECOMPUTED)


def _config(model: FMEstimator) -> dict[str, Any]:
    name = type(model).__name__
    if _ESTIMATORS.get(name) is not type(model):
        raise TypeError(
            f"cannot save a {type(model).__qualname__}: only {', '.join(_ESTIMATORS)} can be "
            "saved (a file names its class from that closed list)"
        )
    unknown = sorted(k for k in vars(model)
                     if k.endswith("_") and not k.startswith("_") and k not in _FITTED)
    if unknown:
        raise ValueError(f"cannot save fitted attributes {unknown}: bayesfm.persistence does "
                         "not know how to store them")
    params = {k: _json_value(v, k) for k, v in model.get_params(deep=False).items()}
    d: Design = model.design_template_
    names_in = getattr(model, "feature_names_in_", None)
    classes = getattr(model, "classes_", None)
    encoder = model.encoder_
    return {
        "estimator": name,
        "bayesfm_version": __version__,
        "params": params,
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": None if names_in is None else [str(n) for n in names_in],
        "classes": None if classes is None else {"values": np.asarray(classes).tolist(),
                                                 "dtype": np.asarray(classes).dtype.str},
        "convergence_problems": [str(p) for p in model.convergence_problems_],
        "design_template": {
            "group_of_feature": d.group_of_feature.tolist(),
            "group_of_feature_dtype": d.group_of_feature.dtype.str,
            "feature_names": list(d.feature_names), "group_names": list(d.group_names),
            "max_nnz": d.max_nnz,
            "indices_dtype": d.indices.dtype.str, "values_dtype": d.values.dtype.str,
        },
        "encoder": None if encoder is None else _json_value(encoder.get_state(), "encoder"),
        "attrs": _tree_attrs(model.idata_),
    }


def save_model(
    model: FMEstimator, path: str | os.PathLike[str], *, log_likelihood: str = "recompute",
) -> None:
    """Write a fitted estimator to one file at ``path``, atomically.

    The file holds JSON and netCDF only (see the module docstring for the layout), its
    larger numeric arrays compressed losslessly. It is first written to a temporary file
    beside ``path``, flushed to disk, then renamed over ``path``: a crash mid-save leaves any
    previous file at ``path`` as it was.

    Parameters
    ----------
    model : BayesianFMRegressor, BayesianFMClassifier or BayesianFMOrdinal
        A fitted estimator whose parameters are JSON values (an int or None
        ``random_state``, not a ``RandomState``).
    path : str or os.PathLike
        The file to write; replaced if it exists.
    log_likelihood : {"recompute", "keep"}, default "recompute"
        What becomes of the pointwise ``log_likelihood`` group (rows x draws floats, most
        of a file that keeps it). ``"recompute"`` leaves it out and :func:`load` computes it
        again from the saved draws and training rows (the fit stores those rows in
        ``constant_data`` beside the group); the values are those of
        :func:`bayesfm.results.recompute_log_likelihood`: the same bits as at fit time for
        NUTS and SVI fits, while a Gibbs fit's own values, read from the sampler's running
        residuals, differ from them in the last float32 digits. A group that cannot be
        recomputed (edited, or from a file of format version 1) is kept. ``"keep"`` writes
        the group as it is, bit for bit.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    ValueError
        If a parameter or attribute is not a JSON value, or ``log_likelihood`` is not
        ``"recompute"`` or ``"keep"``.
    TypeError
        If ``model`` is not one of the savable estimator classes.

    Examples
    --------
    >>> from bayesfm import BayesianFMRegressor, load
    >>> from bayesfm.data import simulate_fm
    >>> sim = simulate_fm(n_rows=100, group_sizes=(6, 5), rank=2, seed=0)
    >>> fm = BayesianFMRegressor(rank=2, method="svi", random_state=0)
    >>> fm = fm.fit(sim.X, sim.y, groups=sim.groups)  # doctest: +SKIP
    >>> save_model(fm, "fm.bayesfm")  # doctest: +SKIP
    >>> (load("fm.bayesfm").predict(sim.X) == fm.predict(sim.X)).all()  # doctest: +SKIP
    np.True_
    """
    check_is_fitted(model, "idata_")
    if log_likelihood not in _LOG_LIKELIHOOD:
        raise ValueError(f"log_likelihood must be 'recompute' or 'keep', got {log_likelihood!r}")
    written, recomputed = _written_tree(model, log_likelihood)
    config = _config(model)
    # The digest covers every array written; the recomputed ones are functions of them.
    config.update(idata_sha256=_tree_digest(written), recomputed=recomputed)
    config_bytes = _dumps(config)
    target = Path(os.fspath(path)).absolute()
    tmp_nc, tmp = _temp_path(target, ".nc.tmp"), _temp_path(target, ".tmp")
    try:
        _write_tree(written, tmp_nc)
        with open(tmp_nc, "rb") as src:
            digest = _sha256(src, hashlib.sha256(config_bytes))
        header = {"format_version": FORMAT_VERSION, "config_length": len(config_bytes),
                  "payload_length": tmp_nc.stat().st_size, "sha256": digest}
        # O_EXCL with mode 0o666: a fresh file that the umask restricts like any other.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
        with open(fd, "wb") as dst, open(tmp_nc, "rb") as src:
            dst.write(MAGIC + _dumps(header) + b"\n" + config_bytes)
            copyfileobj(src, dst, _CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        for p in (tmp_nc, tmp):
            p.unlink(missing_ok=True)


def _recompute(recomputed: dict[str, Any], tree: xr.DataTree) -> None:
    """Put back the variables a file left out, computed from the arrays it holds."""
    if not recomputed:
        return
    if recomputed != _RECOMPUTED:
        raise ModelFileError(f"this bayesfm recomputes only {_RECOMPUTED} on load, but the "
                             f"file asks for {recomputed}")
    ll = tree.children["log_likelihood"].to_dataset(inherit=False)
    if ll.data_vars:
        raise ModelFileError("the file holds the log likelihood it says was left out")
    try:
        values = recompute_log_likelihood(tree)
    except ValueError as exc:
        raise ModelFileError(f"the log likelihood cannot be recomputed: {exc}") from exc
    spec = _RECOMPUTED["/log_likelihood"]["y"]
    values = values.astype(np.dtype(str(spec["dtype"])), copy=False)
    tree["log_likelihood"] = xr.DataTree(ll.assign(y=(list(spec["dims"]), values)))


def _restore(config: dict[str, Any], tree: xr.DataTree, version: int) -> FMEstimator:
    """Rebuild the estimator from the checked configuration and DataTree."""
    cls = _ESTIMATORS.get(config["estimator"])
    if cls is None:
        raise ModelFileError(f"unknown estimator {config['estimator']!r}; this bayesfm loads "
                             f"{', '.join(_ESTIMATORS)}")
    unknown = set(config["params"]) - set(cls._get_param_names())
    if unknown:
        raise ModelFileError(f"unknown parameters {sorted(unknown)} for {cls.__name__}")
    attrs = config["attrs"]
    if set(attrs) != {node.path for node in tree.subtree}:
        raise ModelFileError("the saved attributes do not match the groups of the payload")
    for node in tree.subtree:
        node.attrs = dict(attrs[node.path]["node"])
    _recompute(config["recomputed"] if version >= 2 else {}, tree)
    for node in tree.subtree:
        for name, var_attrs in attrs[node.path]["variables"].items():
            node.dataset.variables[name].attrs = dict(var_attrs)
    t = config["design_template"]
    empty = (0, int(t["max_nnz"]))
    template = Design(
        np.zeros(empty, dtype=_dtype(t["indices_dtype"], "iu")),
        np.zeros(empty, dtype=_dtype(t["values_dtype"], "f")),
        np.asarray(t["group_of_feature"], dtype=_dtype(t["group_of_feature_dtype"], "iu")),
        tuple(map(str, t["feature_names"])), tuple(map(str, t["group_names"])),
    )
    if template.n_features != len(template.feature_names):
        raise ModelFileError("the design template is inconsistent")
    fitted: dict[str, Any] = {
        "idata_": tree,
        "design_template_": template,
        "encoder_": None if config["encoder"] is None else FMEncoder.from_state(
            config["encoder"]),
        "n_features_in_": int(config["n_features_in"]),
        "convergence_problems_": [str(p) for p in config["convergence_problems"]],
    }
    if config["feature_names_in"] is not None:
        fitted["feature_names_in_"] = np.asarray(config["feature_names_in"], dtype=object)
    if config["classes"] is not None:
        fitted["classes_"] = np.asarray(config["classes"]["values"],
                                        dtype=_dtype(config["classes"]["dtype"], "biufU"))
    model = cls(**config["params"])
    for name, value in fitted.items():
        setattr(model, name, value)
    return model


def load(path: str | os.PathLike[str]) -> FMEstimator:
    """Load a fitted estimator written by :func:`save_model` (or ``estimator.save``).

    Nothing is parsed before the magic bytes, header, length and SHA-256 of the whole file
    check out, and no code is run: the file holds JSON and netCDF only. A ``log_likelihood``
    group that the file left out (``save_model(log_likelihood="recompute")``, the default)
    is computed again from the saved draws and training rows, which takes one pass over
    the draws (about as long as predicting every training row). Files of every format
    version from :data:`MIN_FORMAT_VERSION` load.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.

    Returns
    -------
    BayesianFMRegressor or BayesianFMClassifier
        The fitted estimator; its predictions equal the saved model's bit for bit.

    Raises
    ------
    ModelFileError
        If the file is not a bayesfm model, is corrupted or truncated, or has a newer format
        version than this bayesfm reads (the message names the version it needs).
    FileNotFoundError
        If ``path`` does not exist.

    Examples
    --------
    >>> import bayesfm
    >>> fm = bayesfm.load("fm.bayesfm")  # doctest: +SKIP
    >>> fm.predict_interval(X_new, prob=0.9)  # doctest: +SKIP
    """
    where = os.fspath(path)
    with open(path, "rb") as f:
        header = _read_header(f, where)
        start = f.tell()
        size = os.fstat(f.fileno()).st_size
        n_config, n_payload = header["config_length"], header["payload_length"]
        if size != start + n_config + n_payload:
            raise ModelFileError(
                f"{where} is {size} bytes, but its header says {start + n_config + n_payload}: "
                "the file is truncated or has bytes appended"
            )
        if not hmac.compare_digest(_sha256(f, hashlib.sha256()), str(header["sha256"])):
            raise ModelFileError(f"{where} is corrupted: its SHA-256 checksum does not match")
        f.seek(start)
        try:
            config = json.loads(f.read(n_config))
            tree = _read_tree(f, start + n_config, n_payload)
            if _tree_digest(tree) != config["idata_sha256"]:
                raise ModelFileError(f"{where}: the decoded arrays differ from those saved")
            return _restore(config, tree, header["format_version"])
        except ModelFileError:
            raise
        except Exception as exc:  # the checksum matched, so this is a malformed writer
            raise ModelFileError(f"{where} is not a valid bayesfm model: {exc}") from exc
