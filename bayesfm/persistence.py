r"""Save and load fitted estimators as data (JSON plus netCDF), never pickle.

A model file is one self-checking container::

    MAGIC                    b"\x89BAYESFM\r\n\x1a\n" (PNG-style: catches text-mode copies)
    header line              canonical JSON + b"\n": format_version, config_length,
                             payload_length and sha256 (of config + payload bytes)
    config                   UTF-8 JSON: estimator class name, get_params(), fitted state
                             (design template, encoder state, ...), DataTree attributes and
                             idata_sha256 (a digest of every array of ``idata_``)
    payload                  ``idata_`` written by xarray as a netCDF4 (HDF5) file

:func:`load` checks the magic, the header, the exact file length and the SHA-256 before it
parses anything, so one flipped or missing byte anywhere is refused with
:class:`ModelFileError`; after parsing it checks ``idata_sha256`` against the decoded arrays,
so what the decoder returns is bit for bit what was saved. Only JSON and netCDF are ever
decoded: netCDF has no object type and h5py maps variable-length strings to ``str``, so no
code path unpickles, and the estimator class comes from a closed allow-list: the estimator
classes register themselves here (:func:`register_estimator`), so this module never imports
them and sits below the estimators in the package's layers.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
from collections.abc import Buffer
from pathlib import Path
from shutil import copyfileobj
from typing import Any, BinaryIO, Final

import numpy as np
import xarray as xr
from sklearn.utils.validation import check_is_fitted

from bayesfm._version import __version__
from bayesfm.data.design import Design
from bayesfm.data.encoder import FMEncoder

__all__ = ["FORMAT_VERSION", "MAGIC", "ModelFileError", "load", "register_estimator",
           "save_model"]

#: First bytes of every model file.
MAGIC = b"\x89BAYESFM\r\n\x1a\n"
#: Version of the container layout written by this bayesfm; :func:`load` reads up to it.
FORMAT_VERSION = 1
#: Oldest format version this bayesfm reads (1 is the first: every released format so far).
MIN_FORMAT_VERSION = 1

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
_HEADER_KEYS = frozenset({"format_version", "config_length", "payload_length", "sha256"})
_MAX_HEADER = 1024
_CHUNK = 1 << 20
_NETCDF_ENGINE: Final = "h5netcdf"


class ModelFileError(ValueError):
    """A model file is not a bayesfm model, is corrupted or truncated, or is too new."""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _plain(value: Any) -> Any:
    """``json.dumps`` hook: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a JSON type")


def _json_value(value: Any, what: str, *, exact: bool = True) -> Any:
    """Return ``value`` as plain JSON types; raise ``ValueError`` if it is not JSON data.

    With ``exact``, also refuse values that would load back different (a tuple, an array).
    """
    try:
        out = json.loads(json.dumps(value, default=_plain, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot save {what}={value!r}: a saved model holds only JSON values (numbers, "
            "strings, booleans, None, lists and dicts of them); set it to such a value, "
            "e.g. random_state=0, before saving"
        ) from exc
    if exact:
        try:
            same = bool(out == value)
        except ValueError:  # an array compared element by element
            same = False
        if not same:
            raise ValueError(f"cannot save {what}={value!r}: it would load back as {out!r}")
    return out


def _tree_digest(tree: xr.DataTree) -> str:
    """SHA-256 over the path, name, dims, dtype, shape and bytes of every variable."""
    h = hashlib.sha256()
    for node in sorted(tree.subtree, key=lambda n: n.path):
        ds = node.to_dataset(inherit=False)
        for name in sorted(ds.variables, key=str):
            data = np.asarray(ds.variables[name].values)
            raw: Buffer
            if data.dtype.kind in "OSU":
                # netCDF may return fixed-width or object strings: hash the text itself.
                dtype = "str"
                raw = json.dumps([x.decode() if isinstance(x, bytes) else str(x)
                                  for x in data.ravel().tolist()]).encode()
            else:
                data = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<"))
                dtype, raw = data.dtype.str, data.reshape(-1).view(np.uint8)
            meta = [node.path, str(name), name in ds.coords, list(ds.variables[name].dims),
                    dtype, list(data.shape)]
            h.update(_dumps(meta) + b"\n")
            h.update(raw)
    return h.hexdigest()


def _tree_attrs(tree: xr.DataTree) -> dict[str, Any]:
    """Attributes of every group and variable as JSON (netCDF would change their types)."""
    return {node.path: {
        "node": _json_value(dict(node.attrs), f"attrs of {node.path}", exact=False),
        "variables": {str(k): _json_value(dict(v.attrs), f"attrs of {k}", exact=False)
                      for k, v in node.to_dataset(inherit=False).variables.items() if v.attrs},
    } for node in tree.subtree}


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
        "idata_sha256": _tree_digest(model.idata_),
    }


def _temp_path(target: Path, suffix: str) -> Path:
    return target.with_name(f".bayesfm-{secrets.token_hex(8)}{suffix}")


def _sha256(f: BinaryIO, digest: Any) -> str:
    while chunk := f.read(_CHUNK):
        digest.update(chunk)
    return str(digest.hexdigest())


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_model(model: FMEstimator, path: str | os.PathLike[str]) -> None:
    """Write a fitted estimator to one file at ``path``, atomically.

    The file holds JSON and netCDF only (see the module docstring for the layout). It is
    first written to a temporary file beside ``path``, flushed to disk, then renamed over
    ``path``: a crash mid-save leaves any previous file at ``path`` as it was.

    Parameters
    ----------
    model : BayesianFMRegressor, BayesianFMClassifier or BayesianFMOrdinal
        A fitted estimator whose parameters are JSON values (an int or None
        ``random_state``, not a ``RandomState``).
    path : str or os.PathLike
        The file to write; replaced if it exists.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``model`` is not fitted.
    ValueError
        If a parameter or attribute is not a JSON value.
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
    config_bytes = _dumps(_config(model))
    target = Path(os.fspath(path)).absolute()
    tmp_nc, tmp = _temp_path(target, ".nc.tmp"), _temp_path(target, ".tmp")
    try:
        model.idata_.to_netcdf(tmp_nc, engine=_NETCDF_ENGINE)
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


class _Window(io.RawIOBase):
    """Read-only view of ``length`` bytes of ``file`` from ``offset``, for h5py."""

    mode = "rb"

    def __init__(self, file: io.BufferedIOBase, offset: int, length: int) -> None:
        self._file, self._offset, self._length, self._pos = file, offset, length, 0

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self._length - self._pos))
        self._file.seek(self._offset + self._pos)
        got = self._file.readinto(memoryview(buffer)[:n]) or 0
        self._pos += got
        return got


def _read_header(f: BinaryIO, where: str) -> dict[str, Any]:
    if f.read(len(MAGIC)) != MAGIC:
        raise ModelFileError(f"{where} is not a bayesfm model file (wrong magic bytes)")
    line = f.readline(_MAX_HEADER)
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    version = header.get("format_version") if isinstance(header, dict) else None
    if type(version) is int and version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} has model format version {version}, but bayesfm {__version__} reads "
            f"format versions up to {FORMAT_VERSION}: upgrade to a bayesfm that reads format "
            f"version {version}"
        )
    if type(version) is int and version < MIN_FORMAT_VERSION:
        raise ModelFileError(
            f"{where} has model format version {version}, but bayesfm {__version__} reads "
            f"format versions {MIN_FORMAT_VERSION} to {FORMAT_VERSION}: load it with a bayesfm "
            f"that reads format version {version} and save it again"
        )
    # Canonical and complete: every byte of the header matters, like those of the payload.
    ok = (isinstance(header, dict) and set(header) == _HEADER_KEYS
          and type(version) is int and version == FORMAT_VERSION
          and _dumps(header) + b"\n" == line
          and all(type(header[k]) is int and header[k] >= 0
                  for k in ("config_length", "payload_length")))
    if not ok:
        raise ModelFileError(f"{where}: the header is corrupted")
    return header


def _read_tree(f: io.BufferedIOBase, offset: int, length: int) -> xr.DataTree:
    """Decode the netCDF payload into an in-memory DataTree of plain numpy arrays."""
    # Raw values: no masking or scaling, no times; bools and strings still decode.
    lazy = xr.open_datatree(
        _Window(f, offset, length), engine=_NETCDF_ENGINE, mask_and_scale=False,
        decode_times=False, decode_timedelta=False,
    )
    try:
        nodes = {}
        for node in lazy.subtree:
            ds = node.to_dataset(inherit=False)
            nodes[node.path] = xr.Dataset(
                {k: (v.dims, np.array(v.values)) for k, v in ds.data_vars.items()},
                coords={k: (v.dims, np.array(v.values)) for k, v in ds.coords.items()},
            )
    finally:
        lazy.close()
    return xr.DataTree.from_dict(nodes)


def _dtype(name: str, kinds: str) -> np.dtype[Any]:
    dtype = np.dtype(name)
    if dtype.kind not in kinds:
        raise ModelFileError(f"unexpected dtype {name!r} in the configuration")
    return dtype


def _restore(config: dict[str, Any], tree: xr.DataTree) -> FMEstimator:
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
    check out, and no code is run: the file holds JSON and netCDF only.

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
            return _restore(config, tree)
        except ModelFileError:
            raise
        except Exception as exc:  # the checksum matched, so this is a malformed writer
            raise ModelFileError(f"{where} is not a valid bayesfm model: {exc}") from exc
